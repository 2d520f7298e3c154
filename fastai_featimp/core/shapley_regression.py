"""Shapley values on a budget of model evaluations (no fastai): null players skipped, exact enumeration when the rest
fits, otherwise the Shapley kernel regression with its coalitions chosen to waste nothing.

Why this estimator. Shapley values are the solution of a weighted least-squares problem over coalitions (Charnes et
al. 1988; KernelSHAP, Lundberg & Lee 2017): minimise sum_z k(z) (v(z) - v(0) - sum_{j in z} phi_j)^2 subject to
sum phi = v(1) - v(0), with k(z) = (n - 1) / (C(n, |z|) |z| (n - |z|)). shap's KernelExplainer (with `l1_reg=False`)
solves it from sampled coalitions and is the most accurate per evaluation of the common samplers. Four choices here
spend the same budget better:
- units that cannot change the output (equal to the single background row, a word already `xxunk`) are exactly 0
  and are never evaluated (as KernelExplainer's "varying" check); with m units left and 2^m within the budget every
  coalition is enumerated and the values are exact;
- the coalition sizes whose kernel weight is largest (1 and n - 1, then 2 and n - 2, ...) are enumerated whole, from
  the outside in, while the budget's share for them covers them (KernelExplainer's rule);
- the remaining budget is split between the remaining sizes in proportion to their kernel weight, deterministically
  (stratified by size: KernelExplainer draws each sample's size at random, which adds the noise of the allocation),
  and inside a size coalitions are drawn uniformly *without* replacement, each with its complement (paired sampling,
  Covert & Lee 2021), so that every evaluation is a distinct coalition;
- each stratum's coalitions share its kernel weight W(s) = (n - 1) / (s (n - s)) equally, an unbiased stratified
  estimate of the regression's normal equations.
The constraint makes the values add up exactly: base + sum = output. Standard errors: a bootstrap of the sampled
pairs within their strata (the enumerated part is fixed), the spread of the re-solved values; 0 where exact.
`benchmarks/bench_shapley.py` compares the error per evaluation with shap's and captum's estimators."""
from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations
from math import comb
from typing import Callable

import numpy as np
import torch

from .params import ParameterError
from .shapley import all_coalitions, shapley_from_values

__all__ = ['BudgetPlan', 'check_budget', 'budget_plan', 'shapley_from_budget', 'budget_shapley', 'budget_shapley_rows', 'N_BOOTSTRAP']

N_BOOTSTRAP = 64        # resamples of the sampled pairs for the standard errors
ENUMERATE_LIMIT = 200_000   # a size with at most this many coalitions is sampled from its list (else by rejection)


@dataclass
class BudgetPlan:
    """The coalitions to evaluate for one row. `masks[0]` is the empty coalition, `masks[1]` the full one; then the
    coalitions of the active players (null players always absent). `weights` is each row's weight in the regression,
    `stratum` the sampled stratum of a row (-1: enumerated), `pair` the sampled pair it belongs to."""
    n_players: int
    active: np.ndarray                       # indices of the players that can change the output
    masks: np.ndarray                        # (K, n_players) bool
    exact: bool
    weights: np.ndarray = field(default_factory=lambda: np.zeros(0))
    stratum: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    pair: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    stratum_weight: dict = field(default_factory=dict)   # stratum -> the kernel weight its coalitions share


def check_budget(method: str, max_evals, tolerance) -> bool:
    "Whether a budget (`max_evals`, `tolerance`) was given: refused by name for a `method` other than 'shapley'."
    budgeted = max_evals is not None or tolerance is not None
    if budgeted and method != 'shapley':
        raise ParameterError('max_evals' if max_evals is not None else 'tolerance',
                             f"`max_evals` and `tolerance` are the budget of `method=`'shapley', not of {method!r}")
    return budgeted


def _size_weight(n: int, s: int) -> float:
    "W(s): the total kernel weight of the coalitions of size s (0 < s < n)."
    return (n - 1) / (s * (n - s))


def _draw(n: int, s: int, k: int, rng: np.random.Generator, taken: set) -> list:
    "`k` distinct coalitions of size s (as sorted tuples), none in `taken` nor the complement of one drawn before."
    out = []
    if comb(n, s) <= ENUMERATE_LIMIT:
        pool = [c for c in combinations(range(n), s) if c not in taken]
        for i in rng.permutation(len(pool)):
            c = pool[i]
            if c in taken: continue
            out.append(c); taken.add(c); taken.add(tuple(sorted(set(range(n)) - set(c))))
            if len(out) == k: break
        return out
    while len(out) < k:
        c = tuple(sorted(rng.choice(n, s, replace=False).tolist()))
        if c in taken: continue
        out.append(c); taken.add(c); taken.add(tuple(sorted(set(range(n)) - set(c))))
    return out


def budget_plan(n_players: int, max_evals: int, rng: np.random.Generator, active=None) -> BudgetPlan:
    """The coalitions of one row for a budget of `max_evals` evaluations (besides the empty and full coalitions):
    exact over the `active` players (default: all) when their 2^m - 2 proper coalitions fit, else the kernel
    regression's enumerated sizes and stratified paired samples."""
    active = np.arange(n_players) if active is None else np.flatnonzero(np.asarray(active, bool))
    n = len(active)
    embed = lambda sub: _embed(sub, active, n_players)
    ends = np.zeros((2, n_players), bool)
    ends[1, active] = True
    if n <= 1 or 2 ** n - 2 <= max_evals:
        masks = np.concatenate([ends, embed(all_coalitions(n).numpy()[1:-1])]) if n > 1 else ends
        return BudgetPlan(n_players, active, masks, exact=True)
    if max_evals < 2 * n:
        raise ParameterError('max_evals', f"`max_evals`={max_evals} cannot determine the Shapley values of {n} units "
                                          f"that can change the output: give at least {2 * n} (each unit alone and "
                                          "each unit left out), or more for a useful estimate")
    # enumerate whole size pairs from the outside in while the budget's share for them covers them; sizes 1 and n - 1
    # always (2n coalitions), which makes every value determined
    sizes = list(range(1, n // 2 + 1))                    # s pairs with n - s (s = n/2 stands alone)
    pair_count = lambda s: comb(n, s) * (1 if 2 * s == n else 2)
    pair_weight = lambda s: _size_weight(n, s) * (1 if 2 * s == n else 2)
    left, enumerated = max_evals, []
    while sizes:
        s = sizes[0]
        share = left * pair_weight(s) / sum(pair_weight(t) for t in sizes)
        if s > 1 and (pair_count(s) > share or pair_count(s) > left): break
        enumerated.append(s); left -= pair_count(s); sizes.pop(0)
    rows, weights, stratum, pair = [], [], [], []
    for s in enumerated:
        for size in {s, n - s}:
            for c in combinations(range(n), size):
                z = np.zeros(n, bool); z[list(c)] = True
                rows.append(z); weights.append(_size_weight(n, size) / comb(n, size)); stratum.append(-1); pair.append(-1)
    # the rest: each remaining size pair gets a share of the pairs proportional to its kernel weight
    stratum_weight, n_pairs, pair_id = {}, left // 2, 0
    if sizes and n_pairs:
        total = sum(pair_weight(t) for t in sizes)
        share = np.array([n_pairs * pair_weight(t) / total for t in sizes])
        alloc = np.floor(share).astype(int)
        for i in np.argsort(-(share - alloc), kind='stable')[:n_pairs - alloc.sum()]: alloc[i] += 1
        taken = set()
        for s, k in zip(sizes, alloc):
            k = int(min(k, comb(n, s) // (2 if 2 * s == n else 1)))
            if k == 0: continue
            stratum_weight[s] = pair_weight(s)
            for c in _draw(n, s, k, rng, taken):
                z = np.zeros(n, bool); z[list(c)] = True
                for member in (z, ~z):
                    rows.append(member); weights.append(pair_weight(s) / (2 * k)); stratum.append(s); pair.append(pair_id)
                pair_id += 1
    masks = np.concatenate([ends, embed(np.array(rows, bool).reshape(-1, n))])
    return BudgetPlan(n_players, active, masks, exact=False, weights=np.array(weights), stratum=np.array(stratum),
                      pair=np.array(pair), stratum_weight=stratum_weight)


def _embed(sub: np.ndarray, active: np.ndarray, n_players: int) -> np.ndarray:
    "Coalitions of the active players as coalitions of all players (null players absent)."
    out = np.zeros((len(sub), n_players), bool)
    out[:, active] = sub
    return out


def _solve(z: np.ndarray, y: np.ndarray, w: np.ndarray, total: float) -> tuple:
    """`(values, rank)` of the constrained weighted least squares: min sum w (y - z phi)^2 with sum phi = total (the
    last player's value eliminated), solved by least squares on the square-root-weighted system; a rank below the
    players less one leaves some values undetermined."""
    z = z.astype(float)
    a = z[:, :-1] - z[:, -1:]
    b = y - z[:, -1] * total
    sw = np.sqrt(w)
    head, _, rank, _ = np.linalg.lstsq(a * sw[:, None], b * sw, rcond=None)
    return np.append(head, total - head.sum()), int(rank)


def shapley_from_budget(plan: BudgetPlan, values, rng: np.random.Generator | None = None, strict: bool = True) -> tuple:
    """`(contributions, standard_errors, base, full)` from the values of the plan's coalitions (in plan order). When
    the coalitions cannot determine every value: an error (`strict`), else infinite standard errors (a round that
    must go on)."""
    v = np.asarray(values, dtype=float)
    base, full = float(v[0]), float(v[1])
    phi, se = np.zeros(plan.n_players), np.zeros(plan.n_players)
    n = len(plan.active)
    if n == 0: return phi, se, base, full
    if plan.exact:
        if n == 1: phi[plan.active] = full - base
        else:   # plan order: empty, full, then coalitions 1 .. 2^n - 2 of the active players
            phi[plan.active] = shapley_from_values(np.concatenate([[base], v[2:], [full]]), n)
        return phi, se, base, full
    z = plan.masks[2:][:, plan.active]
    y = v[2:] - base
    phi[plan.active], rank = _solve(z, y, plan.weights, full - base)
    if rank < n - 1 and not strict: return phi, np.full(plan.n_players, np.inf), base, full
    if rank < n - 1:   # the coalitions leave directions free: any values there would be made up
        raise ParameterError('max_evals', f"{len(z)} coalitions cannot determine the Shapley values of {n} units that "
                                          f"can change the output ({n - 1 - rank} left undetermined): give "
                                          "a larger `max_evals`")
    # bootstrap: the sampled pairs resampled within their strata, the enumerated coalitions kept
    sampled = plan.stratum >= 0
    if sampled.any():
        rng = rng or np.random.default_rng(0)
        pairs = {s: np.unique(plan.pair[plan.stratum == s]) for s in plan.stratum_weight}
        rows_of = {p: np.flatnonzero(plan.pair == p) for ps in pairs.values() for p in ps}
        fixed = np.flatnonzero(~sampled)
        draws = []
        for _ in range(N_BOOTSTRAP):
            idx, w = [fixed], [plan.weights[fixed]]
            for s, ps in pairs.items():
                chosen = rng.choice(ps, len(ps), replace=True)
                rows = np.concatenate([rows_of[p] for p in chosen])
                idx.append(rows); w.append(np.full(len(rows), plan.stratum_weight[s] / len(rows)))
            idx, w = np.concatenate(idx), np.concatenate(w)
            draw, rank = _solve(z[idx], y[idx], w, full - base)
            if rank == n - 1: draws.append(draw)   # a resample that cannot determine every value says nothing
        se[plan.active] = np.std(draws, axis=0, ddof=1) if len(draws) > 1 else np.nan
    return phi, se, base, full


def _first_pairs(plan: BudgetPlan, fraction: float) -> BudgetPlan:
    "The plan with the enumerated coalitions and the first `fraction` of each stratum's pairs (drawn in random order)."
    keep = np.ones(len(plan.masks), bool)
    weights = plan.weights.copy()
    for s, w in plan.stratum_weight.items():
        ids = np.unique(plan.pair[plan.stratum == s])   # pair ids grow in drawing order
        used = ids[:max(1, int(np.ceil(fraction * len(ids))))]
        rows = plan.stratum == s
        keep[2:][rows & ~np.isin(plan.pair, used)] = False
        weights[rows] = w / (2 * len(used))
    inner = keep[2:]
    return BudgetPlan(plan.n_players, plan.active, plan.masks[keep], plan.exact, weights[inner], plan.stratum[inner],
                      plan.pair[inner], plan.stratum_weight)


def budget_shapley_rows(evaluate: Callable, plans: list, rngs: list, tolerance: float | None = None) -> list:
    """`(contributions, standard_errors, base, full, n_evals)` per row, from `evaluate(masks per row)` -> values per
    row (one call per round, so that a kind can batch every row's coalitions together). With `tolerance`, each row's
    sampled pairs are evaluated in rounds (a quarter, half, all of each stratum's) and the row stops once every
    standard error is below it; no row spends more than its plan (its `max_evals` besides the empty and full
    coalitions). `rngs` draw each row's bootstrap."""
    seen = [dict() for _ in plans]
    results = [None] * len(plans)
    rounds = [1.0] if tolerance is None else [0.25, 0.5, 1.0]
    settled = [False] * len(plans)
    for fraction in rounds:
        open_ = [i for i, r in enumerate(results) if r is None or not settled[i]]
        if not open_: break
        parts = {i: plans[i] if fraction == 1.0 or plans[i].exact else _first_pairs(plans[i], fraction) for i in open_}
        keys = {i: [m.tobytes() for m in parts[i].masks] for i in open_}
        todo = {i: [j for j, k in enumerate(keys[i]) if k not in seen[i]] for i in open_}
        got = evaluate([parts[i].masks[todo[i]] if i in todo else np.zeros((0, p.n_players), bool)
                        for i, p in enumerate(plans)])
        for i in open_:
            for j, g in zip(todo[i], np.asarray(got[i], dtype=float)): seen[i][keys[i][j]] = g
            phi, se, base, full = shapley_from_budget(parts[i], [seen[i][k] for k in keys[i]],
                                                      np.random.default_rng(rngs[i].integers(2 ** 63)), fraction == 1.0)
            results[i] = (phi, se, base, full, max(0, len(seen[i]) - 2))
            settled[i] = fraction == 1.0 or parts[i].exact or _converged(parts[i], se, tolerance)
    return results


def _converged(part: BudgetPlan, se: np.ndarray, tolerance) -> bool:
    """Every standard error below `tolerance`, and trustworthy: a stratum of one sampled pair has no spread to
    resample, so a round with one is never taken as converged."""
    pairs = [len(np.unique(part.pair[part.stratum == s])) for s in part.stratum_weight]
    return tolerance is not None and min(pairs, default=2) >= 2 and np.max(se, initial=0.0) < tolerance


def budget_shapley(value: Callable, n_players: int, max_evals: int, rng: np.random.Generator, active=None,
                   tolerance: float | None = None) -> tuple:
    """`(contributions, standard_errors, base, full, n_evals)` of one row from `value(masks)` (see
    `budget_shapley_rows`)."""
    plan = budget_plan(n_players, max_evals, rng, active)
    evaluate = lambda masks: [np.asarray(value(torch.from_numpy(masks[0])), dtype=float) if len(masks[0]) else []]
    return budget_shapley_rows(evaluate, [plan], [rng], tolerance)[0]
