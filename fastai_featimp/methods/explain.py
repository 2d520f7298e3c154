"Shapley attributions of single predictions of a fastai tabular learner, per input column."
from __future__ import annotations


import numpy as np
import pandas as pd
import torch

from ..common.parallel import check_jobs, parallel_map
from ..common.reliance import checked_threshold, data_threshold
from ..common.setup import method_setup
from ..core.checks import plain, warn
from ..core.params import Choice, Flag, Integer, Number, ParameterError, Seed, checked
from ..core.forward import default_bs
from ..core.results import reliance_record
from ..core.shapley_regression import budget_shapley, check_budget
from ..core.shapley import EXACT_MAX_PLAYERS, all_coalitions, permutation_plan, shapley_from_plan, shapley_from_values
from ..tabular.data import frame_record, training_targets
from ..tabular.coalitions import background_inputs, changeable_players, display_value, explained_rows, row_value
from ..tabular.kind import TABULAR
from ..tabular.reliance import flagged_variables, without_flagged_columns

__all__ = ['explain']


@checked(n_background=Integer(2), method=Choice('auto', 'exact', 'shapley', 'permutation'),
         n_permutations=Integer(1, none=True), max_evals=Integer(1, none=True),
         tolerance=Number(0, low_open=True, none=True), seed=Seed(), output=Choice('probability', 'raw'),
         show_progress=Flag())
def explain(
    learn,                         # a fastai tabular Learner
    rows,                          # DataFrame of rows to explain (raw values; labels optional)
    *,
    background=None,               # DataFrame of reference rows; None: a seeded sample of the training set
    n_background:int=100,          # size of that sample (at least 2: the base value is an expectation over it)
    method:str='auto',             # 'exact', 'shapley' (on a budget: exact where it fits), 'permutation', or 'auto' (exact up to 14 columns, else 'shapley')
    n_permutations:int|None=None,  # permutations for method='permutation' (default 10 per column, antithetic pairs)
    max_evals:int|None=None,       # method='shapley': coalitions evaluated per row, each over the background (default 2048 + 2 per column, as shap's)
    tolerance:float|None=None,     # method='shapley': stop a row early once every value's standard error is below this
    seed:int|None=None,            # same seed, same background sample and permutations
    target=None,                   # class or target to explain (default: a binary model's positive class, else the predicted class)
    output:str='probability',      # 'probability' (after the loss's activation) or 'raw' (logit / value)
    groups:dict|None=None,         # `{name: [columns]}` switched together as one player
    n_jobs:int=1,                  # rows explained in parallel through joblib (-1: all cores; a joblib backend decides where)
    flagged=None,                  # columns known to be shortcuts: marked, and each row's prediction without them
    threshold:float|None=None,     # with `flagged`: a row relies on them when its output moves this much (or flips); default 0.1 in probability, else 0.1 standard deviation of the background's outputs
    show_progress:bool=True,       # a fastprogress bar over the coalitions evaluated
):
    """Interventional Shapley values per input column for each row: a long DataFrame `row, Variable, Value,
    Contribution, Std`; `attrs` hold base values, explained outputs and classes. Base + contributions = output.
    With `flagged`, a `Flagged` column marks those columns and `attrs['reliance']` holds each row's prediction with
    and without them (taken from the same background rows), as `learn.reliance`."""
    check_jobs(n_jobs)
    s = method_setup(learn, TABULAR, output=output, seed=seed, groups=groups, target=target)
    players = s.variables
    m = len(players)
    if method == 'exact' and m > EXACT_MAX_PLAYERS:
        raise ParameterError('method', f"`method`='exact' enumerates all 2^{m} coalitions of these {m} columns; at "
                                       f"most {EXACT_MAX_PLAYERS} are enumerated: use `method=`'permutation' (or "
                                       "'auto'), or group columns with `groups=`")
    method = _resolved_method(method, m, n_permutations, max_evals, tolerance)
    use_exact = method == 'exact'
    max_evals = max_evals or DEFAULT_EVALS + 2 * m
    if flagged is not None:
        flagged_vars, threshold = flagged_variables(players, flagged), checked_threshold(threshold, s.output_kind)
    n_perm = int(n_permutations or 10 * m)
    if background is not None and isinstance(background, pd.DataFrame) and len(background) == 1:
        warn("background= holds a single row: the Shapley values then explain the difference from that one "
                      "row, not from an expected prediction; pass typical rows (dozens or more) for the usual "
                      "reading")
    with s.computing():
        x = explained_rows(learn, s.schema, rows)
        sample = background_inputs(learn, s.schema, background, n_background, s.stream('background'))
        bg = sample.inputs
        n = x[0].shape[0]
        with torch.inference_mode(): full_out = s.activation(learn.model(*x)).reshape(n, -1).cpu()
        plans = [permutation_plan(m, n_perm, s.stream('permutations', i)) if method == 'permutation' else None
                 for i in range(n)]
        ks = [s.target(target, int(full_out[i].argmax())) for i in range(n)]
        budget = None if method != 'shapley' else dict(
            max_evals=max_evals, tolerance=tolerance,   # seeds, not generators: a worker may keep the payload
            seeds=[int(s.stream('coalitions', i).integers(2 ** 63)) for i in range(n)],
            active=[changeable_players(x, i, bg, players) for i in range(n)])
        shared = dict(model=learn.model, x=x, bg=bg, players=players, activation=s.activation, plans=plans, ks=ks, m=m,
                      budget=budget)
        sizes = [max_evals + 2 if budget else 2 ** m if p is None else p.n_coalitions for p in plans]
        explained = parallel_map(_row_shapley, shared, range(n), n_jobs=n_jobs, learn=learn, show_progress=show_progress,
                                 comment='explaining rows', sizes=sizes)
        records, base_values, outputs, targets, n_evals = [], [], [], [], []
        for i, (phi, se, base, full, evals) in enumerate(explained):
            n_evals.append(evals)
            base_values.append(base); outputs.append(full); targets.append(plain(s.labels[ks[i]]))
            for p, c, e in zip(players, phi, se):
                records.append(dict(row=i, Variable=p.name, Value=display_value(rows, i, p.members),
                                    Contribution=float(c), Std=float(e)))
        if flagged is not None:
            without = without_flagged_columns(learn.model, x, bg, flagged_vars, s.activation, default_bs(x[0].device))
            threshold, rule = data_threshold(threshold, s.output_kind, None, 'the rows explained',
                                             training=training_targets(learn, ks[0]))
    columns = ['row', 'Variable', 'Value', 'Contribution', 'Std']
    expl = pd.DataFrame.from_records(records, columns=columns)
    if flagged is not None:
        names = {v.name for v in flagged_vars}
        expl['Flagged'] = expl['Variable'].isin(names)
        label = lambda p: plain(s.labels[int(p.argmax())]) if s.schema.y_vocab is not None else None
        expl.attrs['reliance'] = [reliance_record(float(full_out[i, k]), float(without[i, k]), label(full_out[i]),
                                                  label(without[i]), threshold, sorted(names)) for i, k in enumerate(ks)]
        expl.attrs.update(flagged=sorted(names), threshold=threshold, threshold_rule=rule)
    expl.attrs.update(method=method, base_values=base_values, outputs=outputs,
                      targets=targets, output=s.output_kind, n_background=int(bg[0].shape[0]), seed=seed,
                      n_permutations=n_perm if method == 'permutation' else None, row_index=plain(list(rows.index)),
                      max_evals=max_evals if method == 'shapley' else None, tolerance=tolerance, n_evals=n_evals,
                      groups={p.name: list(p.members) for p in players if p.kind == 'group'},
                      background_rows=None if background is not None else
                      (sample.rows if sample.rows is not None else list(range(sample.n_rows))),
                      # what the explanation was made from, so that it can be evaluated (and a mismatch seen) later
                      data=frame_record(rows, s.schema.feature_names),
                      background_data=None if background is None else frame_record(
                          background if sample.rows is None else background.iloc[sample.rows], s.schema.feature_names),
                      background_sample=None if background is None else sample.rows)
    return expl


DEFAULT_EVALS = 2048   # method='shapley': coalitions per row, plus 2 per column (shap's KernelExplainer default)


def _resolved_method(method: str, m: int, n_permutations, max_evals, tolerance) -> str:
    "The estimator `method` names ('auto': exact up to 14 columns, else the budgeted one), its options checked."
    budgeted = max_evals is not None or tolerance is not None
    if method == 'auto':
        method = ('permutation' if n_permutations is not None else 'shapley' if budgeted or m > EXACT_MAX_PLAYERS
                  else 'exact')
    check_budget(method, max_evals, tolerance)
    if n_permutations is not None and method != 'permutation':
        raise ParameterError('n_permutations', f"`n_permutations` is for `method=`'permutation', not {method!r} "
                                               "(method='shapley' takes `max_evals=`)")
    return method


def _row_shapley(shared: dict, i: int) -> tuple:
    """`(contributions, standard errors, base, output, coalitions evaluated)` of row `i` (a module-level function:
    any worker can run it)."""
    m, plan, budget = shared['m'], shared['plans'][i], shared['budget']
    value = row_value(shared['model'], shared['x'], i, shared['bg'], shared['players'], shared['activation'],
                      shared['ks'][i])
    if budget is not None:
        return budget_shapley(value, m, budget['max_evals'], np.random.default_rng(budget['seeds'][i]),
                              budget['active'][i], budget['tolerance'])
    if plan is None:
        v = value(all_coalitions(m))
        return shapley_from_values(v, m), np.full(m, np.nan), float(v[0]), float(v[-1]), 2 ** m - 2
    return (*shapley_from_plan(plan, value(torch.from_numpy(plan.distinct))), plan.n_coalitions - 2)
