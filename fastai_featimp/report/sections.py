"""The sections every kind's report has: the run, global importance, the reliance audit, explained examples, which
explanation to believe, and the warnings. Each calls the learner's public methods through `run.call` and only lays out
what they return; the kind's recipe (`report/<kind>.py`) says how its calls are made and its examples drawn."""
from __future__ import annotations

import contextlib
import io
import platform
import time

import numpy as np

from ..common.progress import bars_on
from ..core.state import eval_mode, preserved_state
from ..plot.importance import plot_importance
from ..plot.reliance import plot_reliance
from .page import Section, code, facts, figure, paragraph, table

__all__ = ['the_run', 'importance', 'reliance', 'examples', 'faithfulness', 'warnings_section', 'calls_of', 'TOP']

TOP = 15            # variables shown in the importance table and figure


def calls_of(run, key: str) -> str:
    "The calls a section made, as written, so that a reader can make them again."
    return ''.join(code(shown) for section, shown, _ in run.calls if section == key)


def metric_options(run) -> dict:
    "The metric, passed only when one was asked for (each method keeps its own default otherwise)."
    return {} if run.metric is None else {'metric': run.metric}


def the_run(run, seconds: float) -> Section:
    import fastai
    import torch
    from .. import __version__
    learn, s = run.learn, Section('run', 'The run', "What was explained, on which data, with which seed and versions; "
                                  "every number below comes from the calls shown under its section.")
    fi = run.results.get('importance')
    n_params = sum(p.numel() for p in learn.model.parameters())
    labels = run.data[run.schema.y_names[0]] if run.schema.y_names and run.schema.y_names[0] in run.data else None
    rows = [('model', 'Model', f"{type(learn.model).__name__} ({n_params:,} parameters)"),
            ('kind', 'Learner', f"{run.kind.name}: {run.kind.learner}"),
            ('rows', 'Data', f"{len(run.data):,} rows")]
    if labels is not None:
        counts = labels.value_counts() if run.schema.y_vocab is not None else None
        rows.append(('labels', f"Labels ({labels.name})", ', '.join(f"{k}: {v:,}" for k, v in counts.items()) if counts is not None
                     else f"mean {labels.mean():.4g}, from {labels.min():.4g} to {labels.max():.4g}"))
    if fi is not None:
        rows += [('metric', 'Metric', fi.attrs['metric']), ('baseline', f"{fi.attrs['metric']} on the data", fi.attrs['baseline'])]
    spent = sum(t for _, _, t in run.calls)
    rows += [('seed', 'Seed', 'none (results vary run to run)' if run.seed is None else run.seed),
             ('flagged', 'Flagged inputs', ', '.join(map(str, run.flagged)) if run.flagged else 'none'),
             ('versions', 'Versions', f"fastai_featimp {__version__}, fastai {fastai.__version__}, torch {torch.__version__}, "
                                      f"Python {platform.python_version()}"),
             ('seconds', 'Time taken', f"{seconds:.1f} s, of which {spent:.1f} s in the {len(run.calls)} calls")]
    return s.add(facts(rows, 'run'))


def importance(run) -> Section:
    recipe = run.recipe
    fi = run.call('feature_importance', df=run.data, **metric_options(run), seed=run.seed, show_progress=False,
                  **recipe.importance_options(run))
    run.results['importance'] = fi
    s = Section('importance', f"Global importance of the {recipe.unit}s", recipe.importance_how(fi))
    shown = fi.head(TOP)
    return s.add(figure(plot_importance(fi, top=TOP), f"importance of the top {len(shown)} {recipe.unit}s"),
                 table(shown, 'importance', [c for c in recipe.importance_columns if c in fi.columns]),
                 paragraph(f"{len(fi) - len(shown)} more {recipe.unit}s are in the result, not shown.") if len(fi) > TOP else '',
                 calls_of(run, 'importance'))


def reliance(run) -> Section | None:
    if not run.flagged: return None
    rel = run.call('reliance', run.data, run.flagged, **metric_options(run), seed=run.seed, show_progress=False,
                   **run.recipe.reliance_options(run))
    run.results['reliance'] = rel
    a, sm = rel.attrs, rel.attrs['summary']
    s = Section('reliance', f"Reliance on {', '.join(map(str, run.flagged))}",
                "Each prediction against the same prediction without the flagged inputs: points off the diagonal band "
                f"rest on them (a change of {a['threshold']:g} or more in {a['target']}, or a flipped class); discount "
                "those predictions.")
    named = [('n_rows', 'Rows'), ('share_relies', 'Share of rows that rely on them'),
             ('share_flipped', 'Share whose class flips without them'), ('n_with_flagged', 'Rows holding a flagged input'),
             ('mean_abs_change', 'Mean |change|'), ('max_abs_change', 'Largest |change|')]
    if 'metric' in sm: named += [('score', f"{sm['metric']} with them"), ('score_without', f"{sm['metric']} without them")]
    rows = [(k, label, sm[k]) for k, label in named if k in sm]   # a summary holds what applies to its kind
    return s.add(facts(rows, 'reliance'), figure(plot_reliance(rel), 'each prediction against its prediction without the flagged inputs'),
                 calls_of(run, 'reliance'))


def _predictions(run):
    """Every row's predicted output and label, to choose the examples (fastai's get_preds, inside the package's
    state guard: `inner` keeps the recorder's history, eval mode and random states come back as they were)."""
    learn = run.learn
    quiet = contextlib.nullcontext() if bars_on(learn, run.show_progress) else contextlib.redirect_stdout(io.StringIO())
    start = time.perf_counter()
    with preserved_state(), eval_mode(learn.model), quiet:   # a new fastai DataLoader draws from Python's `random`
        dl = learn.dls.test_dl(run.data, with_labels=True)
        preds, targs = learn.get_preds(dl=dl, inner=True)
    run.calls.append((run.section, "learn.get_preds(dl=learn.dls.test_dl(data, with_labels=True), inner=True)  "
                                   "# to choose the examples", time.perf_counter() - start))
    return preds.float().numpy(), targs.numpy().reshape(len(preds), -1)


def _choose(run) -> list:
    "The groups of examples `(title, what they teach, positions in data)`, and every row's predicted label (or None)."
    n, groups = run.n_examples, []
    preds, targs = _predictions(run)
    vocab = run.schema.y_vocab
    if run.rows is not None: groups.append(('Rows asked for', '', run.rows))
    elif vocab is not None and not run.schema.multi_label:
        predicted, confidence, label = preds.argmax(1), preds.max(1), targs[:, 0].astype(int)
        right = np.flatnonzero(predicted == label)
        wrong = np.flatnonzero(predicted != label)
        by_confidence = lambda rows: [int(r) for r in rows[np.argsort(-confidence[rows], kind='stable')][:n]]
        groups += [('Most confident right', 'what the model has learnt where it is surest and right', by_confidence(right)),
                   ('Most confident wrong', 'what misleads it: the errors it is surest of', by_confidence(wrong))]
    elif not run.schema.multi_label:   # a regression: the closest and the furthest predictions
        error = np.abs(preds[:, 0] - targs[:, 0])
        order = np.argsort(error, kind='stable')
        groups += [('Closest predictions', 'what the model has learnt where it is most accurate', [int(r) for r in order[:n]]),
                   ('Furthest predictions', 'what misleads it: its largest errors', [int(r) for r in order[::-1][:n]])]
    else: groups.append(('First rows', 'a multi-label model: the first rows', list(range(min(n, len(run.data))))))
    rel = run.results.get('reliance')
    if rel is not None and rel['Relies'].any():
        relying = rel[rel['Relies']].reindex(rel[rel['Relies']]['Change'].abs().sort_values(ascending=False, kind='stable').index)
        groups.append(('Relying most on the flagged inputs', 'predictions that move most without them: discount these',
                       [int(r) for r in relying['row'].head(n)]))
    labels = [vocab[int(i)] for i in preds.argmax(1)] if vocab is not None and not run.schema.multi_label else None
    return [g for g in groups if g[2]], labels


def examples(run) -> Section:
    recipe = run.recipe
    groups, predicted = _choose(run)
    positions = list(dict.fromkeys(p for _, _, rows in groups for p in rows))
    s = Section('examples', 'Explained examples',
                f"Why the model predicted what it did for a few rows chosen to teach: each {recipe.unit} pushes the "
                "prediction up or down from the base value (the average prediction) to the model's output.")
    if not positions: return s.add(paragraph('No row of the data fits these groups.'), calls_of(run, 'examples'))
    flagged = {'flagged': run.flagged} if run.flagged and recipe.explains_flagged else {}
    expl = run.call('explain', recipe.rows(run, positions), seed=run.seed, show_progress=False, **flagged,
                    **recipe.explain_options(run))
    run.results['examples'] = (expl, positions)
    label = run.schema.y_names[0] if run.schema.y_names else None
    for title, teaches, rows in groups:
        s.add(f'<h3>{title}</h3>', paragraph(teaches.capitalize() + '.') if teaches else '')
        for p in rows:
            i = positions.index(p)
            said = [f"row {p} of the data"]
            if label is not None and label in run.data: said.append(f"label {run.data[label].iloc[p]}")
            if predicted is not None: said.append(f"predicted {predicted[p]}")
            said.append(f"explained output ({expl.attrs['targets'][i]}) {expl.attrs['outputs'][i]:.4g}, "
                        f"base {expl.attrs['base_values'][i]:.4g}")
            s.add(f'<div class="example" data-row="{p}" data-explained="{i}">{paragraph(" · ".join(said))}'
                  f'{recipe.draw_example(run, expl, i)}</div>')
    return s.add(calls_of(run, 'examples'))


def faithfulness(run) -> Section:
    recipe = run.recipe
    explained = run.results.get('examples')
    positions = (explained[1] if explained else list(range(len(run.data))))[:recipe.n_compare]
    rows = recipe.rows(run, positions)
    options = recipe.faithfulness_options(run)
    cmp = run.call('compare_explanations', rows, seed=run.seed, **options)
    run.results['compare'] = cmp
    ok = cmp[cmp['Status'] == 'ok']
    method = cmp.attrs['recommended'] or (ok['Method'].iloc[0] if len(ok) else None)
    s = Section('faithfulness', 'Which explanation to believe',
                "Each explanation method on the same rows, scored by how fast the prediction falls when the units it ranks "
                "first are removed (deletion AOPC, higher is better); then the sanity check: explanations of ever more "
                "randomised copies of the model should stop resembling the real ones.")
    cols = [c for c in ['Method', 'Status', 'deletion_aopc', 'insertion_aopc', 'Rank', 'Agreement'] if c in cmp.columns]
    s.add(table(cmp, 'compare', cols), paragraph(f"Recommended: {cmp.attrs['recommended'] or 'none'} ({cmp.attrs['reason']}).",
                                                  'verdict recommended'))
    if method is not None:
        checked = run.call('sanity_check', rows, method=method, seed=run.seed, **options)
        run.results['sanity'] = checked
        s.add(paragraph(f"Sanity check: {checked.attrs['verdict']}.", 'verdict sanity'),
              table(checked, 'sanity', ['Step', 'Randomised', 'RankCorrelation']))
    return s.add(calls_of(run, 'faithfulness'))


def warnings_section(run) -> Section:
    s = Section('warnings', 'Warnings', "What the methods warned about while making this report, in their words: "
                "read them before trusting the numbers above.")
    seen = {}
    for section, method, message in run.warned: seen.setdefault(message, []).append(f"{method} ({section})")
    if not seen: return s.add(paragraph('No method raised a warning.'))
    items = ''.join(f'<li>{paragraph(m)}<small>from {", ".join(dict.fromkeys(w))}</small></li>' for m, w in seen.items())
    return s.add(f'<ul class="warnings">{items}</ul>')
