"""Which units drove this prediction: attributions of each item's output to its units (columns of a row, words of a
text, regions of an image, a user kind's units) by Shapley values (exact, on a budget, or from permutations),
occlusion, integrated gradients, or a kind's own method, for any kind through its adapter."""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..common.outputs import is_binary
from ..common.progress import counting
from ..common.reliance import checked_threshold, data_threshold
from ..common.setup import method_setup
from ..core.checks import plain
from ..core.params import Flag, Integer, Number, ParameterError, Seed, checked
from ..core.results import reliance_record
from ..core.shapley import EXACT_MAX_PLAYERS, all_coalitions, permutation_plan, shapley_from_plan, shapley_from_values
from ..core.shapley_regression import budget_plan, budget_shapley_rows, check_budget

__all__ = ['explain_units', 'ENGINE_METHODS']

# the engine's own estimators; a kind adds its own (Grad-CAM for images) and says which it offers
ENGINE_METHODS = ('auto', 'exact', 'shapley', 'permutation', 'occlusion', 'integrated_gradients')
PERMUTATIONS_PER_UNIT = 10   # method='permutation' without `n_permutations`: 10 per unit (antithetic pairs)


@checked(n_permutations=Integer(1, none=True), max_evals=Integer(1, none=True),
         tolerance=Number(0, low_open=True, none=True), seed=Seed(), bs=Integer(1, none=True), n_steps=Integer(1),
         threshold=Number(none=True), show_progress=Flag())   # threshold's range depends on the output: checked inside
def explain_units(
    learn,                          # a fastai learner of a kind with an adapter (tables, text, images, or one registered)
    data,                           # the items to explain, in any form the kind reads
    *,
    method:str='shapley',           # 'shapley' (on a budget, exact where it fits; with Std), 'exact', 'permutation', 'occlusion' (each unit removed alone), 'integrated_gradients', the kind's own, or 'auto' (exact up to 14 units, else 'shapley')
    max_evals:int|None=None,        # method='shapley': coalitions evaluated per item (default: the kind's); exact where 2^units fits
    tolerance:float|None=None,      # method='shapley': stop an item early once every value's standard error is below this
    n_permutations:int|None=None,   # Shapley values from this many permutations (antithetic pairs) instead of a budget (default for method='permutation': 10 per unit)
    target=None,                    # class to explain (default: a binary model's positive class, else the predicted class)
    output:str='probability',       # 'probability' (after the loss's activation) or 'raw' (logit / value)
    seed:int|None=None,             # same seed, same coalitions (and background sample)
    bs:int|None=None,               # model inputs per forward pass (default: the kind's)
    n_steps:int=50,                 # method='integrated_gradients': steps of the path from every unit removed to the item
    flagged=None,                   # inputs known to be shortcuts: marked on the units, each item's prediction without them
    threshold:float|None=None,      # with `flagged`: an item relies on them when its output moves this much (or flips); default 0.1 in probability, 0.4 in logit, else 0.1 standard deviation
    show_progress:bool=True,        # a fastprogress bar over the coalitions evaluated
    _kind=None,                     # the learner's kind (set by its door)
    **options,                      # the kind's own arguments (its units, how a unit is removed)
):
    """Attributions of each item's output to its units: a long DataFrame `row, Variable, <where>, Contribution, Std,
    <about>`, where the kind's columns say where each unit is in the data as given (a row's `Value`, a text's
    `Start`/`End`, an image's `Top`/`Left`/`Bottom`/`Right`). `attrs` hold `base_values` (the output with every unit
    removed), `outputs` (the model's prediction), `targets`, `method`, `kind` and the kind's own. Shapley values add up:
    base + sum of contributions = output; a unit whose removal changes nothing contributes exactly 0. With `flagged`,
    a `Flagged` column marks the units touching a flagged input and `attrs['reliance']` holds each item's prediction
    with and without them (as `learn.reliance`)."""
    if output not in ('probability', 'raw'):
        raise ParameterError('output', f"`output` must be 'probability' or 'raw', got {output!r}")
    s = method_setup(learn, _kind, output=output, seed=seed, target=target, **_setup_options(learn, _kind, options))
    adapter = s.kind.adapter()
    offered = _offered(adapter)
    if method not in offered:
        raise ParameterError('method', f"`method` must be one of {', '.join(map(repr, offered))} for a {s.kind.name} "
                                       f"learner, got {method!r}")
    check_budget('shapley' if method == 'auto' else method, max_evals, tolerance)
    if n_permutations is not None and (max_evals is not None or tolerance is not None):
        raise ParameterError('n_permutations', "give either `n_permutations` (Shapley values from permutations) or a "
                                               "budget (`max_evals`, `tolerance`), not both")
    flag = None
    if flagged is not None:
        threshold = checked_threshold(threshold, s.output_kind)   # None: chosen from the outputs below
        flag = adapter.flagged(s, flagged)
    with s.computing():
        items = adapter.load(s, data, param=adapter.items, bs=bs, method=method, show_progress=show_progress, **options)
        n = items.n_rows
        units = [items.units(i) for i in range(n)]
        most = max((len(u) for u in units), default=0)
        estimator = _estimator(method, most, n_permutations, max_evals, tolerance, adapter)
        plans = [permutation_plan(len(u), n_permutations or PERMUTATIONS_PER_UNIT * len(u), s.stream('permutations', i))
                 if estimator == 'permutation' else None for i, u in enumerate(units)]
        budgets = [budget_plan(len(u), max_evals or adapter.default_budget(len(u)), s.stream('coalitions', i),
                               u.changes()) if estimator == 'shapley' else None for i, u in enumerate(units)]
        keeps = [_fixed_keeps(estimator, plans[i], len(u)) for i, u in enumerate(units)]
        total = n + sum(len(k) for k in keeps) + sum(len(b.masks) for b in budgets if b is not None) + \
            (n * n_steps if estimator == 'integrated_gradients' else 0) + (n if estimator not in ENGINE_METHODS else 0)
        with counting(learn, show_progress and not getattr(items, 'parallel', False), total,
                      f'explaining {adapter.items}') as progress:
            prob = s.activation(items.forward(progress.add)).reshape(n, -1)
            predicted = [int(p.argmax()) if len(s.labels) > 1 and not is_binary(s.schema) else None for p in prob]
            ks = [s.target(target, p) for p in predicted]
            explained = lambda i, raw: s.activation(raw).reshape(raw.shape[0], -1)[:, ks[i]]
            values_of = lambda masks: [np.asarray(v, dtype=float) for v in items.values(masks, explained, progress.add)]
            extra = {}
            if estimator == 'shapley':
                solved = budget_shapley_rows(lambda masks: values_of([torch.from_numpy(m) for m in masks]), budgets,
                                             [s.stream('bootstrap', i) for i in range(n)], tolerance)
                phis, ses, bases, outputs, n_evals = ([r[j] for r in solved] for j in range(5))
                extra = dict(exact=[bool(b.exact) for b in budgets])
            elif estimator in ENGINE_METHODS:
                phis, ses, bases, outputs, n_evals = [], [], [], [], []
                for i, v in enumerate(values_of(keeps)):
                    m = len(units[i])
                    if estimator == 'exact':
                        phi, se, base, out = shapley_from_values(v, m), np.full(m, np.nan), float(v[0]), float(v[-1])
                    elif estimator == 'permutation': phi, se, base, out = shapley_from_plan(plans[i], v)
                    else: base, out, phi, se = float(v[0]), float(v[1]), v[1] - v[2:], np.full(m, np.nan)
                    phis.append(phi); ses.append(se); bases.append(base); outputs.append(out)
                    n_evals.append(len(keeps[i]) - 2)
                if estimator == 'integrated_gradients':
                    phis = [items.gradient(i, lambda raw, i=i: explained(i, raw), n_steps) for i in range(n)]
                    progress.add(n * n_steps)
                    extra = dict(n_steps=n_steps, completeness_error=[float(p.sum() - (o - b))
                                                                      for p, o, b in zip(phis, outputs, bases)])
            else:   # the kind's own method (Grad-CAM): no base value of its own
                phis, extra = items.attributions(estimator, ks, lambda raw, k: s.activation(raw).reshape(
                    raw.shape[0], -1)[torch.arange(raw.shape[0]), torch.as_tensor(k).to(raw.device)], progress.add)
                ses, bases = [np.full(len(u), np.nan) for u in units], [float('nan')] * n
                outputs, n_evals = [float(prob[i, k]) for i, k in enumerate(ks)], [0] * n
            if estimator in ('occlusion', 'integrated_gradients'):
                for phi, u in zip(phis, units): phi[~u.changes()] = 0.0   # removing it changes nothing: exactly 0
            if flag is not None: without = items.without(flag, progress.add)
    records = []
    for i, u in enumerate(units):
        for j, name in enumerate(u.names):
            record = dict(row=i, Variable=name, **{c: v[j] for c, v in u.where.items()},
                          Contribution=float(phis[i][j]), Std=float(ses[i][j]), **{c: v[j] for c, v in u.about.items()})
            if flag is not None: record['Flagged'] = bool(without.units[i][j])
            records.append(record)
    columns = ['row', 'Variable', *(units[0].where if units else ()), 'Contribution', 'Std',
               *(units[0].about if units else ())]
    expl = pd.DataFrame.from_records(records, columns=columns + (['Flagged'] if flag is not None else []))
    if flag is not None: _reliance_attrs(expl, s, prob, without, ks, threshold, adapter, flag)
    budget = max_evals or (adapter.default_budget(most) if len({len(u) for u in units}) == 1 else None)
    expl.attrs.update(method=method if method != 'auto' else estimator, kind=s.kind.name,
                      base_values=[float(b) for b in bases], outputs=[float(o) for o in outputs],
                      targets=[plain(s.labels[k]) for k in ks], output=s.output_kind, row_index=plain(items.index),
                      seed=seed, n_evals=[int(e) for e in n_evals],
                      n_permutations=(n_permutations or PERMUTATIONS_PER_UNIT * most) if estimator == 'permutation' else None,
                      max_evals=budget if estimator == 'shapley' else None, tolerance=tolerance,
                      **items.attrs(), **extra)
    return expl


def _setup_options(learn, kind, options: dict) -> dict:
    "What the kind's options change in the call's setup (a table's `groups`: its variables)."
    from ..common.kinds import kind_of
    return (kind or kind_of(learn)).adapter().setup_options(options)


def _offered(adapter) -> tuple:
    "The `method`s a kind's explain takes: the engine's (integrated gradients where it has gradients) and its own."
    own = tuple(m for m in adapter.explanation_methods if m not in ENGINE_METHODS)
    return tuple(m for m in ENGINE_METHODS if m != 'integrated_gradients' or adapter.gradients) + own


def _estimator(method: str, most: int, n_permutations, max_evals, tolerance, adapter) -> str:
    """The estimator `method` names: 'auto' is exact up to 14 units (else on a budget), 'shapley' or 'auto' with
    `n_permutations` the permutation estimator."""
    budgeted = max_evals is not None or tolerance is not None
    if method == 'auto':
        method = 'permutation' if n_permutations is not None else \
            'shapley' if budgeted or most > EXACT_MAX_PLAYERS else 'exact'
    if method == 'shapley' and n_permutations is not None: return 'permutation'
    if method == 'exact' and most > EXACT_MAX_PLAYERS:
        raise ParameterError('method', f"`method`='exact' enumerates all 2^{most} coalitions of these {most} "
                                       f"{adapter.unit}s; at most {EXACT_MAX_PLAYERS} are enumerated: use `method=`"
                                       f"'shapley' or 'permutation' (or 'auto'){adapter.fewer_units_hint}")
    return method


def _fixed_keeps(estimator: str, plan, m: int) -> torch.Tensor:
    """The coalitions evaluated at once (a budget is evaluated in rounds instead): every one (exact), a permutation
    plan's, or every unit removed, the whole item, and each unit removed alone (occlusion)."""
    if estimator == 'exact': return all_coalitions(m)
    if plan is not None: return torch.from_numpy(plan.distinct)
    if estimator not in ('occlusion', 'integrated_gradients'): return torch.zeros(0, m, dtype=torch.bool)
    alone = m if estimator == 'occlusion' else 0      # IG needs only the base and full values
    keep = torch.ones(alone + 2, m, dtype=torch.bool)
    keep[0] = False                                   # all removed: the base value
    keep[torch.arange(2, alone + 2), torch.arange(alone)] = False
    return keep


def _reliance_attrs(expl, s, prob, without, ks, threshold, adapter, flag) -> None:
    "Each item's prediction with and without the flagged inputs, for the banner (as `learn.reliance` reports them)."
    n = len(ks)
    prob_without = without.expected if without.expected is not None else s.activation(without.raw).reshape(n, -1)
    threshold, rule = data_threshold(threshold, s.output_kind, [float(prob[i, k]) for i, k in enumerate(ks)],
                                     f'the outputs of the {adapter.items} explained',
                                     training=adapter.training_scale(s, ks))
    label = lambda p: plain(s.labels[int(p.argmax())]) if s.schema.y_vocab is not None else None
    expl.attrs['reliance'] = [reliance_record(float(prob[i, k]), float(prob_without[i, k]), label(prob[i]),
                                              label(prob_without[i]), threshold, without.names[i])
                              for i, k in enumerate(ks)]
    expl.attrs.update(flagged=adapter.describe_flagged(flag), threshold=threshold, threshold_rule=rule)
