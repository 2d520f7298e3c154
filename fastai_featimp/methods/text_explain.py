"""Which words drove this prediction: attributions of a fastai text classifier's output to the units (words,
sentences or tokens) of each text, by Shapley sampling, occlusion or integrated gradients."""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..common.outputs import is_binary
from ..common.parallel import check_jobs, mapper
from ..common.progress import counting
from ..common.reliance import checked_threshold, data_threshold
from ..common.setup import method_setup
from ..core.checks import plain
from ..core.params import Choice, Flag, Integer, Number, ParameterError, Seed, checked
from ..core.results import reliance_record
from ..core.shapley import permutation_plan, shapley_from_plan
from ..core.shapley_regression import budget_plan, budget_shapley_rows, check_budget
from ..text.data import load_text
from ..text.forward import masked_ids, text_forward
from ..text.gradients import embedding_layer, integrated_gradients
from ..text.kind import TEXT
from ..text.reliance import flagged_occurrences, flagged_phrases, reliance_outputs
from ..text.units import MARKERS, UNITS, align, units_of

__all__ = ['explain_text', 'TEXT_METHODS', 'MASKS']

TEXT_METHODS = ('shapley', 'occlusion', 'integrated_gradients')
MASKS = ('unk', 'delete')
COLUMNS = ['row', 'Variable', 'Start', 'End', 'Contribution', 'Std', 'OOV', 'Tokens']


@checked(unit=Choice(*UNITS), method=Choice(*TEXT_METHODS), n_permutations=Integer(1, none=True),
         max_evals=Integer(1, none=True), tolerance=Number(0, low_open=True, none=True),
         output=Choice('probability', 'raw'), seed=Seed(), bs=Integer(1, none=True), n_steps=Integer(1), show_progress=Flag())
def explain_text(
    learn,                          # a fastai learner over text (text_classifier_learner, or Learner with text dls)
    texts,                          # a string, a list of strings, a Series, or a DataFrame with the learner's text column
    *,
    unit:str='word',                # 'word' (with its xxmaj/xxup/xxrep markers), 'sentence' or 'token'
    method:str='shapley',           # 'shapley' (sampled, with Std), 'occlusion' (each unit masked alone) or 'integrated_gradients'
    max_evals:int|None=None,        # method='shapley': masked texts evaluated per text (default 20 per unit); exact where 2^units fits
    tolerance:float|None=None,      # method='shapley': stop a text early once every value's standard error is below this
    n_permutations:int|None=None,   # method='shapley' by permutations instead (antithetic pairs), for those who think in them
    mask:str='unk',                 # how a unit is removed: replaced by `xxunk`, or 'delete'd; never `xxpad`
    target=None,                    # class to explain (default: a binary model's positive class, else the predicted class)
    output:str='probability',       # 'probability' (after the loss's activation) or 'raw' (logit)
    seed:int|None=None,             # same seed, same permutations
    bs:int|None=None,               # texts per forward pass (default: 16,384 tokens' worth)
    text_col:str|None=None,         # the text column of a DataFrame (default: the one the learner was built from)
    n_steps:int=50,                 # integration steps for method='integrated_gradients'
    n_jobs:int=1,                   # forward batches of the masked texts run in parallel through joblib (-1: all cores)
    flagged=None,                   # phrases known to be shortcuts: marked on the units, each text's prediction without them
    threshold:float|None=None,      # with `flagged`: a text relies on them when its output moves this much (or flips); default 0.1 in probability, else 0.1 standard deviation of the outputs
    show_progress:bool=True,        # a fastprogress bar over the masked texts evaluated (moves within a long text)
):
    """Attributions of each text's output to its units: a long DataFrame `row, Variable, Start, End,
    Contribution, Std, OOV, Tokens`, where `text[Start:End]` is the unit as written (`Variable`) and `Tokens` what
    the model reads for it (with unit='token', `Marker` says which tokens are fastai's case markers, which share
    their word's span). `attrs` hold `base_values` (the output with every unit masked), `outputs` (the model's
    prediction, as `learn.predict` makes it), `targets`, `texts`, `method`, `unit`. Shapley values add up exactly:
    base + sum of contributions = output. With `flagged`, a `Flagged` column marks the units inside a flagged phrase,
    and `attrs['reliance']` holds each text's prediction with and without them (as `learn.reliance`), which
    `show_explanation` turns into a banner when the prediction rests on them."""
    if mask in ('pad', 'xxpad'):
        raise ParameterError('mask', "`mask`='pad' is not offered: fastai text models treat xxpad as padding, which "
                                     "changes their output in ways unrelated to the word (use `mask=`'unk' or 'delete')")
    if mask not in MASKS: raise ParameterError('mask', f"`mask` must be 'unk' or 'delete', got {mask!r}")
    check_jobs(n_jobs)
    s = method_setup(learn, TEXT, output=output, seed=seed, target=target)
    schema = s.schema
    layer = None
    if method == 'integrated_gradients':
        if mask != 'unk':
            raise ParameterError('mask', "integrated gradients interpolates embeddings from the xxunk baseline: use "
                                         "`mask=`'unk'")
        layer = embedding_layer(learn.model, len(schema.vocab))
        if layer is None:
            raise ParameterError('method', "integrated gradients needs an embedding layer over the learner's "
                                           "vocabulary; this model has none: use `method=`'shapley' or 'occlusion'")
    data = load_text(learn, schema, texts, text_col=text_col, param='texts')
    if flagged is not None:
        threshold = checked_threshold(threshold, s.output_kind)   # None: chosen from the outputs below
        phrases = flagged_phrases(schema, flagged)
        occurrences = flagged_occurrences(data.tokens, data.texts, phrases, schema.tokenizer.rules)
    units = []
    for i in range(data.n_rows):
        u = align(data.texts[i], data.tokens[i], units_of(data.tokens[i], unit), schema.tokenizer.rules)
        if not u: raise ParameterError('texts', f"text {i} ({data.texts[i][:40]!r}) has no {unit}s to explain")
        units.append(u)
    budgeted = _budgeted(method, n_permutations, max_evals, tolerance)
    plans = [permutation_plan(len(u), n_permutations, s.stream('permutations', i))
             if method == 'shapley' and not budgeted else None for i, u in enumerate(units)]
    # a unit already xxunk cannot change the output when units are masked with xxunk: exactly 0, never evaluated
    budgets = [budget_plan(len(u), max_evals or EVALS_PER_UNIT * len(u), s.stream('coalitions', i),
                           [mask != 'unk' or any(int(data.ids[i][p]) != schema.unk_id for p in w.positions) for w in u])
               if budgeted else None for i, u in enumerate(units)]
    memberships, keeps = [], []
    for i, us in enumerate(units):
        m = len(us)
        membership = torch.zeros(m, len(data.ids[i]), dtype=torch.bool)
        for j, u in enumerate(us): membership[j, u.positions] = True
        if budgeted: keep = torch.zeros(0, m, dtype=torch.bool)   # evaluated in rounds below
        elif method == 'shapley': keep = torch.from_numpy(plans[i].distinct)
        else:
            alone = m if method == 'occlusion' else 0         # IG needs only the base and full values
            keep = torch.ones(alone + 2, m, dtype=torch.bool)
            keep[0] = False                                   # all masked: the base value
            keep[torch.arange(2, alone + 2), torch.arange(alone)] = False   # each unit masked alone
        memberships.append(membership); keeps.append(keep)
    records, base_values, outputs, targets, completeness, n_evals = [], [], [], [], [], []
    total = sum(len(k) for k in keeps) + (n_steps * data.n_rows if method == 'integrated_gradients' else 0) + \
        sum(len(b.masks) for b in budgets if b is not None)
    with s.computing(), counting(learn, show_progress and n_jobs == 1, total, 'explaining texts') as progress:
        # the predicted class is needed only to default to it (several classes, no target given)
        predicted = (s.activation(text_forward(learn.model, data.ids, bs)).reshape(data.n_rows, -1).argmax(1).tolist()
                     if target is None and len(s.labels) > 1 and not is_binary(schema) else [None] * data.n_rows)
        ks = [s.target(target, p) for p in predicted]
        run = None if n_jobs == 1 else mapper(n_jobs, learn, show_progress, 'explaining texts')
        outputs_of = lambda keeps_: _masked_outputs(learn.model, data.ids, memberships, keeps_, mask, schema.unk_id, bs, ks,
                                                    s.activation, progress.add, run)
        if budgeted:
            solved = budget_shapley_rows(lambda masks: outputs_of([torch.from_numpy(k) for k in masks]), budgets,
                                         [s.stream('bootstrap', i) for i in range(data.n_rows)], tolerance)
        else: values = outputs_of(keeps)
        for i in range(data.n_rows):
            ids, text, us, v, k = data.ids[i], data.texts[i], units[i], None if budgeted else values[i], ks[i]
            m = len(us)
            se = np.full(m, np.nan)
            if budgeted: phi, se, base, out, evals = solved[i]; n_evals.append(evals)
            elif method == 'shapley': phi, se, base, out = shapley_from_plan(plans[i], v)
            else:
                base, out = float(v[0]), float(v[1])
                phi = out - v[2:]
                if method == 'integrated_gradients':
                    baseline = masked_ids(ids, memberships[i], torch.zeros(1, m, dtype=torch.bool), 'unk', schema.unk_id)[0]
                    attr = integrated_gradients(learn.model, layer, ids, baseline,
                                                lambda o, k=k: s.activation(o).reshape(o.shape[0], -1)[:, k], n_steps)
                    progress.add(n_steps)
                    phi = np.array([float(attr[u.positions].sum()) for u in us])
                    completeness.append(float(phi.sum() - (out - base)))
            base_values.append(float(base)); outputs.append(float(out)); targets.append(plain(s.labels[k]))
            tokens = data.tokens[i]
            for u, c, e in zip(us, phi, se):
                oov = all(int(ids[p]) == schema.unk_id for p in u.content)
                record = dict(row=i, Variable=text[u.start:u.end], Start=u.start, End=u.end, Contribution=float(c),
                              Std=float(e), OOV=oov, Tokens=' '.join(tokens[p] for p in u.positions))
                if unit == 'token': record['Marker'] = tokens[u.positions[0]] in MARKERS
                if flagged is not None:
                    record['Flagged'] = any(set(u.positions) & set(o.positions) for o in occurrences[i])
                records.append(record)
        if flagged is not None:   # each text's prediction with and without the flagged phrases
            raw, raw_without = reliance_outputs(learn.model, data.ids, occurrences, mask, schema.unk_id, bs)
    expl = pd.DataFrame.from_records(records, columns=COLUMNS + (['Marker'] if unit == 'token' else []) +
                                     (['Flagged'] if flagged is not None else []))
    if flagged is not None:
        prob, prob_without = (s.activation(r).reshape(data.n_rows, -1) for r in (raw, raw_without))
        threshold, rule = data_threshold(threshold, s.output_kind, [float(prob[i, k]) for i, k in enumerate(ks)],
                                         'the outputs of the texts explained')
        label = lambda p: plain(s.labels[int(p.argmax())]) if schema.y_vocab is not None else None
        expl.attrs['reliance'] = [reliance_record(float(prob[i, k]), float(prob_without[i, k]), label(prob[i]),
                                                  label(prob_without[i]), threshold, [o.phrase for o in occurrences[i]])
                                  for i, k in enumerate(ks)]
        expl.attrs.update(flagged=[' '.join(g) for g in phrases], threshold=threshold, threshold_rule=rule)
    expl.attrs.update(method=method, unit=unit, mask=mask, base_values=base_values, outputs=outputs, targets=targets,
                      output=s.output_kind, texts=list(data.texts), row_index=plain(data.index), seed=seed,
                      n_permutations=n_permutations if method == 'shapley' else None,
                      **({'max_evals': max_evals, 'tolerance': tolerance, 'n_evals': n_evals} if budgeted else {}),
                      **({'completeness_error': completeness, 'n_steps': n_steps} if method == 'integrated_gradients' else {}))
    return expl


EVALS_PER_UNIT = 20   # the default budget of method='shapley': masked texts per unit (the cost of 20 permutations)


def _budgeted(method: str, n_permutations, max_evals, tolerance) -> bool:
    "Whether Shapley values are estimated on a budget (the default) rather than from permutations."
    if check_budget(method, max_evals, tolerance) and n_permutations is not None:
        raise ParameterError('n_permutations', "give either `n_permutations` (Shapley values from permutations) or a "
                                               "budget (`max_evals`, `tolerance`), not both")
    return method == 'shapley' and n_permutations is None


MAX_MASKED = 200_000   # masked texts gathered into one forward plan at most (memory stays bounded)


def _masked_outputs(model, ids, memberships, keeps, mask, unk_id, bs, ks, activation, progress, run) -> list:
    """Per text, the explained output (`ks[i]`) of each of its coalitions `keeps[i]`: the masked texts of several texts
    gathered, in chunks, into one forward plan (larger batches), whose batches `run` may send to other workers."""
    values, chunk = [np.zeros(0) for _ in ids], []
    def flush():
        seqs = [v for i in chunk for v in masked_ids(ids[i], memberships[i], keeps[i], mask, unk_id)]
        out = activation(text_forward(model, seqs, bs, progress=progress, mapper=run)).reshape(len(seqs), -1)
        at = 0
        for i in chunk:
            values[i] = out[at:at + len(keeps[i]), ks[i]].double().numpy(); at += len(keeps[i])
        chunk.clear()
    for i in range(len(ids)):
        if len(keeps[i]) == 0: continue   # nothing asked of this text (this round)
        if chunk and sum(len(keeps[j]) for j in chunk) + len(keeps[i]) > MAX_MASKED: flush()
        chunk.append(i)
    if chunk: flush()
    return values
