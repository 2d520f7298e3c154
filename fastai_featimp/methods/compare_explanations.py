"""Which explanation can I believe for this model? Every explanation method of the learner's kind run on the same
rows, each scored by its faithfulness (deletion and insertion against chance), their agreement with each other, and
the method to believe when one leads clearly."""
from __future__ import annotations

import inspect
import time
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats

from ..common.kinds import kind_of
from ..core.checks import check_data
from ..core.faithfulness import DEFAULT_K
from ..core.params import Flag, ParameterError, Seed, checked
from ..core.seeding import root_seed

__all__ = ['compare_explanations']


@checked(seed=Seed(), show_progress=Flag())
def compare_explanations(
    learn,                     # a fastai learner of any kind this package explains
    data,                      # the rows (tabular DataFrame) or texts to explain
    methods=None,              # explanation methods to compare (default: the kind's: tabular exact and permutation; text shapley, occlusion, integrated_gradients)
    *,
    k=None,                    # units for comprehensiveness@k and sufficiency@k (default: 1, 3, 5 and 0.2, as the rows allow)
    n_random:int=20,           # random orders per row, for chance level
    seed:int|None=None,        # same seed, same explanations, orders and table
    bs:int|None=None,          # rows or texts per forward pass
    show_progress:bool=False,  # bars of the explanations and evaluations
    **explain_kwargs,          # passed to every explanation (target, output, n_permutations, unit, ...)
):
    """One row per method (`Method`): `Status` ('ok', or why it was skipped), the overall faithfulness scores
    (`deletion_aopc`, `insertion_aopc`, `comprehensiveness@K`, `sufficiency@K`: higher is better), `Rank` (by
    deletion AOPC), `Agreement` (mean Kendall's tau of the units' order with the other methods) and `Seconds` (the
    explanation's time). `attrs`: the agreement matrix, top-k overlaps, each method's evaluation, and `recommended`
    (the best deletion AOPC when its lead over the next is beyond twice its standard error over rows, else None) with
    `reason` in words."""
    kind = kind_of(learn, 'compare_explanations')
    check_data(data)
    if isinstance(methods, str): methods = [methods]   # one method named, not its letters
    methods = list(methods) if methods is not None else list(kind.explanation_methods)
    if not methods: raise ParameterError('methods', "`methods` is empty: name the explanation methods to compare")
    unknown = [m for m in methods if m not in kind.explanation_methods]
    if unknown: raise ParameterError('methods', f"unknown method(s) {unknown} for a {kind.name} learner; it has "
                                                f"{list(kind.explanation_methods)}")
    explain, evaluate = kind.function('explain'), kind.function('evaluate_explanation')
    root = root_seed(seed)   # one seed for every method: the same background rows and random orders for all
    # what the evaluation must know of how the explanations were made (the background rows)
    shared = {n: v for n, v in explain_kwargs.items() if n in inspect.signature(evaluate).parameters}
    if bs is not None and 'bs' in inspect.signature(explain).parameters: explain_kwargs = {**explain_kwargs, 'bs': bs}
    results, records, failures = {}, [], []
    for method in methods:
        start = time.perf_counter()
        # a method that cannot run with these settings (IG with mask='delete', exact Shapley of many columns) is
        # skipped with the reason; when none can run, the first reason is raised
        try: expl = explain(learn, data, method=method, seed=root, show_progress=show_progress, **explain_kwargs)
        except ParameterError as e:
            failures.append(e)
            records.append(dict(Method=method, Status=f'skipped: {e}')); continue
        seconds = time.perf_counter() - start
        ev = evaluate(learn, expl, data, k=k, n_random=n_random, seed=root, bs=bs, show_progress=show_progress,
                      **shared)
        results[method] = (expl, ev)
        overall = ev[ev['row'] == 'all'].set_index('Metric')['Explanation']
        records.append(dict(Method=method, Status='ok', **overall.to_dict(), Seconds=seconds))
    if not results: raise failures[0]
    table = pd.DataFrame.from_records(records)
    ok = [m for m in methods if m in results]
    agreement, overlaps = _agreement(results, ok, k)
    if ok:
        table['Rank'] = table['deletion_aopc'].rank(ascending=False, method='min')
        table['Agreement'] = [agreement.loc[m].drop(m).mean() if m in ok and len(ok) > 1 else np.nan for m in table['Method']]
    first = ['Method', 'Status']
    table = table[first + [c for c in table.columns if c not in first + ['Rank', 'Agreement', 'Seconds']] +
                  [c for c in ('Rank', 'Agreement', 'Seconds') if c in table.columns]]
    recommended, reason = _recommend(results, ok)
    table.attrs.update(agreement=agreement, top_k_overlap=overlaps, evaluations={m: ev for m, (_, ev) in results.items()},
                       recommended=recommended, reason=reason, seed=root, n_random=n_random)
    return table


def _orders(expl) -> dict:
    "Each row's contributions, by row."
    return {r: part['Contribution'].to_numpy(float) for r, part in expl.groupby('row', sort=True)}


def _agreement(results, ok, k) -> tuple:
    "Mean Kendall's tau of the units' order between each pair of methods, and the overlap of their top-k units."
    agreement = pd.DataFrame(np.eye(len(ok)), index=ok, columns=ok)
    ks = [x for x in (k if isinstance(k, (list, tuple)) else [k] if k is not None else DEFAULT_K) if not isinstance(x, float) or x >= 1]
    overlaps = {int(x): pd.DataFrame(np.eye(len(ok)), index=ok, columns=ok) for x in ks}
    for a, b in combinations(ok, 2):
        ca, cb = _orders(results[a][0]), _orders(results[b][0])
        taus = []
        for r in ca:
            tau = stats.kendalltau(ca[r], cb[r]).statistic if len(ca[r]) > 1 else np.nan
            taus.append(0.0 if np.isnan(tau) else tau)
        agreement.loc[a, b] = agreement.loc[b, a] = float(np.mean(taus))
        for x in overlaps:
            shared = [len(set(np.argsort(-ca[r])[:x]) & set(np.argsort(-cb[r])[:x])) / min(x, len(ca[r])) for r in ca]
            overlaps[x].loc[a, b] = overlaps[x].loc[b, a] = float(np.mean(shared))
    return agreement, overlaps


def _recommend(results, ok) -> tuple:
    "The method to believe: the best deletion AOPC, when its lead over the next is beyond the row-to-row spread."
    if len(ok) == 1: return ok[0], f"{ok[0]} is the only method that could run on this model"
    per_row = {m: ev[(ev['row'] != 'all') & (ev['Metric'] == 'deletion_aopc')]['Explanation'].to_numpy(float)
               for m, (_, ev) in results.items()}
    ranked = sorted(ok, key=lambda m: -per_row[m].mean())
    best, second = ranked[:2]
    diff = per_row[best] - per_row[second]
    se = diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else np.inf
    if diff.mean() > 2 * se:
        return best, (f"{best} has the best deletion AOPC ({per_row[best].mean():.4g}), ahead of {second} "
                      f"({per_row[second].mean():.4g}) by {diff.mean():.3g}, more than twice its standard error over the "
                      f"{len(diff)} rows ({se:.2g})")
    return None, (f"{best} leads {second} on deletion AOPC by {diff.mean():.3g}, within twice its standard error over "
                  f"the {len(diff)} rows ({se:.2g}): explain more rows, or read both")
