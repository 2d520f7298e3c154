"""Which units drove this prediction: attributions of each item's output to its units (words of a text, regions of
an image, a user kind's units) by Shapley values (on a budget, exact where small, or from permutations), occlusion,
integrated gradients, or a kind's own method, for any kind through its adapter."""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..common.outputs import is_binary
from ..common.progress import counting
from ..common.reliance import checked_threshold, data_threshold
from ..common.setup import method_setup
from ..core.checks import plain
from ..core.params import Choice, Flag, Integer, Number, ParameterError, Seed, checked
from ..core.results import reliance_record
from ..core.shapley import permutation_plan, shapley_from_plan
from ..core.shapley_regression import budget_plan, budget_shapley_rows, check_budget

__all__ = ['explain_units', 'ENGINE_METHODS']

ENGINE_METHODS = ('shapley', 'occlusion', 'integrated_gradients')


@checked(method=Choice(*ENGINE_METHODS, 'gradcam'), n_permutations=Integer(1, none=True), max_evals=Integer(1, none=True),
         tolerance=Number(0, low_open=True, none=True), output=Choice('probability', 'raw'), seed=Seed(),
         bs=Integer(1, none=True), n_steps=Integer(1), show_progress=Flag())
def explain_units(
    learn,                          # a fastai learner of a kind with an adapter (text, images, or one registered)
    data,                           # the items to explain, in any form the kind reads
    *,
    method:str='shapley',           # 'shapley' (with Std), 'occlusion' (each unit removed alone), 'integrated_gradients' or the kind's own
    max_evals:int|None=None,        # method='shapley': masked copies evaluated per item (default: the kind's); exact where 2^units fits
    tolerance:float|None=None,      # method='shapley': stop an item early once every value's standard error is below this
    n_permutations:int|None=None,   # method='shapley' by permutations instead (antithetic pairs), for those who think in them
    target=None,                    # class to explain (default: a binary model's positive class, else the predicted class)
    output:str='probability',       # 'probability' (after the loss's activation) or 'raw' (logit)
    seed:int|None=None,             # same seed, same coalitions
    bs:int|None=None,               # masked copies per forward pass (default: the kind's)
    n_steps:int=50,                 # method='integrated_gradients': steps of the path from every unit removed to the item
    flagged=None,                   # inputs known to be shortcuts: marked on the units, each item's prediction without them
    threshold:float|None=None,      # with `flagged`: an item relies on them when its output moves this much (or flips); default 0.1 in probability, 0.4 in logit
    show_progress:bool=True,        # a fastprogress bar over the masked copies evaluated
    _kind=None,                     # the learner's kind (set by its door)
    **options,                      # the kind's own arguments (its units, how a unit is removed)
):
    """Attributions of each item's output to its units: a long DataFrame `row, Variable, <where>, Contribution, Std,
    <about>`, where the kind's columns say where each unit is in the data as given. `attrs` hold `base_values` (the
    output with every unit removed), `outputs` (the model's prediction), `targets`, `method`, `kind` and the kind's own
    (texts, images, options). Shapley values add up: base + sum of contributions = output; a unit whose removal
    changes nothing contributes exactly 0. With `flagged`, a `Flagged` column marks the units touching a flagged input
    and `attrs['reliance']` holds each item's prediction with and without them (as `learn.reliance`)."""
    s = method_setup(learn, _kind, output=output, seed=seed, target=target)
    adapter = s.kind.adapter()
    if method not in adapter.explanation_methods:
        raise ParameterError('method', f"`method` must be one of {', '.join(map(repr, adapter.explanation_methods))} for "
                                       f"a {s.kind.name} learner, got {method!r}")
    budgeted = _budgeted(method, n_permutations, max_evals, tolerance)
    flag = None
    if flagged is not None:
        threshold = checked_threshold(threshold, s.output_kind)   # None: chosen from the outputs below
        flag = adapter.flagged(s, flagged)
    with s.computing():
        items = adapter.load(s, data, param=_first_param(learn, s), bs=bs, method=method, show_progress=show_progress,
                             **options)
        n = items.n_rows
        units = [items.units(i) for i in range(n)]
        plans = [permutation_plan(len(u), n_permutations, s.stream('permutations', i))
                 if method == 'shapley' and not budgeted else None for i, u in enumerate(units)]
        budgets = [budget_plan(len(u), max_evals or adapter.default_budget(len(u)), s.stream('coalitions', i),
                               u.changes()) if budgeted else None for i, u in enumerate(units)]
        keeps = [_fixed_keeps(method, plans[i], len(u)) for i, u in enumerate(units)]
        total = n + sum(len(k) for k in keeps) + sum(len(b.masks) for b in budgets if b is not None) + \
            (n * n_steps if method == 'integrated_gradients' else 0) + (n if method not in ENGINE_METHODS else 0)
        with counting(learn, show_progress and not getattr(items, 'parallel', False), total,
                      f'explaining {adapter.items}') as progress:
            prob = s.activation(items.forward(progress.add)).reshape(n, -1)
            predicted = [int(p.argmax()) if len(s.labels) > 1 and not is_binary(s.schema) else None for p in prob]
            ks = [s.target(target, p) for p in predicted]
            explained = lambda raw, k: s.activation(raw).reshape(raw.shape[0], -1)[:, k].double().numpy()
            values_of = lambda masks: [explained(raw, ks[i]) if len(m) else np.zeros(0)
                                       for i, (raw, m) in enumerate(zip(items.masked(masks, progress.add), masks))]
            extra = {}
            if budgeted:
                solved = budget_shapley_rows(lambda masks: values_of([torch.from_numpy(m) for m in masks]), budgets,
                                             [s.stream('bootstrap', i) for i in range(n)], tolerance)
                phis, ses, bases, outputs = ([r[j] for r in solved] for j in range(4))
                extra = dict(max_evals=max_evals, tolerance=tolerance, n_evals=[r[4] for r in solved],
                             exact=[bool(b.exact) for b in budgets])
            elif method in ENGINE_METHODS:
                values = values_of(keeps)
                phis, ses, bases, outputs = [], [], [], []
                for i, v in enumerate(values):
                    if method == 'shapley': phi, se, base, out = shapley_from_plan(plans[i], v)
                    else: base, out, phi, se = float(v[0]), float(v[1]), v[1] - v[2:], np.full(len(units[i]), np.nan)
                    phis.append(phi); ses.append(se); bases.append(base); outputs.append(out)
                if method == 'integrated_gradients':
                    phis = [items.gradient(i, lambda raw, k=ks[i]: s.activation(raw).reshape(raw.shape[0], -1)[:, k],
                                           n_steps) for i in range(n)]
                    progress.add(n * n_steps)
                    extra = dict(n_steps=n_steps, completeness_error=[float(p.sum() - (o - b))
                                                                      for p, o, b in zip(phis, outputs, bases)])
            else:   # the kind's own method (Grad-CAM): no base value of its own
                phis, extra = items.attributions(method, ks, lambda raw, k: s.activation(raw).reshape(raw.shape[0], -1)[
                    torch.arange(raw.shape[0]), torch.as_tensor(k).to(raw.device)], progress.add)
                ses, bases = [np.full(len(u), np.nan) for u in units], [float('nan')] * n
                outputs = [float(prob[i, k]) for i, k in enumerate(ks)]
            if method in ('occlusion', 'integrated_gradients'):
                for phi, u in zip(phis, units): phi[~u.changes()] = 0.0   # removing it changes nothing: exactly 0
            if flag is not None: without = items.without(flag, progress.add)
    records = []
    for i, u in enumerate(units):
        for j, name in enumerate(u.names):
            record = dict(row=i, Variable=name, **{c: v[j] for c, v in u.where.items()},
                          Contribution=float(phis[i][j]), Std=float(ses[i][j]), **{c: v[j] for c, v in u.about.items()})
            if flag is not None: record['Flagged'] = bool(without.units[i][j])
            records.append(record)
    columns = ['row', 'Variable', *units[0].where, 'Contribution', 'Std', *units[0].about] if units else \
        ['row', 'Variable', 'Contribution', 'Std']
    expl = pd.DataFrame.from_records(records, columns=columns + (['Flagged'] if flag is not None else []))
    if flag is not None:
        _reliance_attrs(expl, s, prob, s.activation(without.raw).reshape(n, -1), ks, threshold, without.names,
                        adapter, flag)
    expl.attrs.update(method=method, kind=s.kind.name, base_values=[float(b) for b in bases],
                      outputs=[float(o) for o in outputs], targets=[plain(s.labels[k]) for k in ks],
                      output=s.output_kind, row_index=plain(items.index), seed=seed,
                      n_permutations=n_permutations if method == 'shapley' else None, **items.attrs(), **extra)
    return expl


def _first_param(learn, s) -> str:
    "What the data argument is called in messages (the kind's word for it: 'texts', 'images')."
    return s.kind.adapter().items


def _budgeted(method: str, n_permutations, max_evals, tolerance) -> bool:
    "Whether Shapley values are estimated on a budget (the default) rather than from permutations."
    if check_budget(method, max_evals, tolerance) and n_permutations is not None:
        raise ParameterError('n_permutations', "give either `n_permutations` (Shapley values from permutations) or a "
                                               "budget (`max_evals`, `tolerance`), not both")
    return method == 'shapley' and n_permutations is None


def _fixed_keeps(method: str, plan, m: int) -> torch.Tensor:
    """The coalitions evaluated at once (a budget is evaluated in rounds instead): a permutation plan's, or every unit
    removed, the whole item, and each unit removed alone (occlusion)."""
    if plan is not None: return torch.from_numpy(plan.distinct)
    if method not in ('occlusion', 'integrated_gradients'): return torch.zeros(0, m, dtype=torch.bool)
    alone = m if method == 'occlusion' else 0         # IG needs only the base and full values
    keep = torch.ones(alone + 2, m, dtype=torch.bool)
    keep[0] = False                                   # all removed: the base value
    keep[torch.arange(2, alone + 2), torch.arange(alone)] = False
    return keep


def _reliance_attrs(expl, s, prob, prob_without, ks, threshold, names, adapter, flag) -> None:
    "Each item's prediction with and without the flagged inputs, for the banner (as `learn.reliance` reports them)."
    threshold, rule = data_threshold(threshold, s.output_kind, [float(prob[i, k]) for i, k in enumerate(ks)],
                                     f'the outputs of the {adapter.items} explained')
    label = lambda p: plain(s.labels[int(p.argmax())]) if s.schema.y_vocab is not None else None
    expl.attrs['reliance'] = [reliance_record(float(prob[i, k]), float(prob_without[i, k]), label(prob[i]),
                                              label(prob_without[i]), threshold, names[i]) for i, k in enumerate(ks)]
    expl.attrs.update(flagged=adapter.describe_flagged(flag), threshold=threshold, threshold_rule=rule)
