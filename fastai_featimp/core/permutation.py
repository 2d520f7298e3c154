"""Permutation importance on tensors: columns (or groups of columns, across input tensors) permuted over the
whole set, the model run again, the score compared. Knows nothing of fastai."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np
import torch

from .forward import Forward, batched_forward, replaced_forward
from .seeding import root_seed, stream
from .stats import oriented

__all__ = ['ColumnGroup', 'permuted_forward', 'within_strata_permutation', 'permutation_scores', 'permutation_drops']

Score = Callable[[torch.Tensor, torch.Tensor], Sequence[float]]


@dataclass(frozen=True)
class ColumnGroup:
    "Columns permuted together: `slots` are `(input_tensor_index, column_index)` pairs, across tensors."
    slots: tuple

    def by_tensor(self, device) -> dict:
        "Column indices per input tensor, as index tensors on `device`."
        cols: dict = {}
        for t, c in self.slots: cols.setdefault(t, []).append(c)
        return {t: torch.tensor(sorted(set(cs)), dtype=torch.long, device=device) for t, cs in cols.items()}


def permuted_forward(forward: Forward, inputs: Sequence[torch.Tensor], group: ColumnGroup, perm: torch.Tensor,
                     bs: int) -> torch.Tensor:
    "Outputs with `group`'s columns taken from row `perm[i]` for row `i`; inputs are never modified."
    cols = group.by_tensor(inputs[0].device)
    edits = {t: (c, lambda rows, old, t=t, c=c: inputs[t][perm[rows].unsqueeze(1), c]) for t, c in cols.items()}
    return replaced_forward(forward, inputs, edits, bs)


def within_strata_permutation(rng: np.random.Generator, n: int, strata: np.ndarray | None = None) -> np.ndarray:
    "A permutation of `n` rows that maps every row to a row of the same stratum (all rows when `strata` is None)."
    if strata is None: return rng.permutation(n)
    shuffled = np.lexsort((rng.random(n), strata))   # rows by stratum, in random order within each
    by_stratum = np.argsort(strata, kind='stable')    # rows by stratum, in their own order
    perm = np.empty(n, dtype=np.int64)
    perm[by_stratum] = shuffled                       # both list the strata in the same blocks
    return perm


def group_scores(shared: dict, g: int) -> np.ndarray:
    """(n_repeats, n_scores): the scores with group `g` permuted, each repeat drawn from the group's own stream (a
    module-level function of picklable arguments, so any worker can run it and give the same numbers)."""
    inputs, n = shared['inputs'], shared['inputs'][0].shape[0]
    gen = stream(shared['root'], 'permutation', shared['keys'][g])
    strata = None if shared['strata'] is None else shared['strata'][g]
    out = []
    for _ in range(shared['n_repeats']):
        perm = torch.from_numpy(within_strata_permutation(gen, n, strata)).to(inputs[0].device)
        out.append(shared['score'](permuted_forward(shared['forward'], inputs, shared['groups'][g], perm, shared['bs']),
                                   shared['target']))
    return np.asarray(out, dtype=float).reshape(shared['n_repeats'], -1)


def permutation_scores(forward: Forward, inputs: Sequence[torch.Tensor], target: torch.Tensor,
                       groups: Sequence[ColumnGroup], score: Score, n_repeats: int, seed: int | None = None,
                       bs: int = 4096, progress: Callable[[Iterable], Iterable] = iter, strata: Sequence | None = None,
                       keys: Sequence | None = None, check: Callable | None = None, run_pieces: Callable | None = None):
    """Baseline scores and scores with each group permuted.

    Returns `(baseline, permuted)`: arrays of shape `(n_scores,)` and `(n_groups, n_repeats, n_scores)`.
    Each repeat permutes the whole set once (never per batch). Group g's permutations come from its own
    stream, derived from `seed` and `keys[g]` (default: its position; pass names so that a group's result
    does not depend on which other groups are scored), drawn on the CPU: results do not depend on `bs` or
    the device. `strata[g]` (an int array of length n, or None) restricts group g's permutations to rows of
    the same stratum: conditional permutation. `check(preds, target)` sees the unpermuted predictions first (to
    refuse a score that cannot measure anything before the permuted passes run). `run_pieces(fn, shared, pieces)`
    runs the groups (`fn(shared, g)` for each), e.g. in parallel; by default one after the other, through `progress`."""
    root = root_seed(seed)
    keys = list(range(len(groups))) if keys is None else list(keys)
    preds = batched_forward(forward, inputs, bs)
    if check is not None: check(preds, target)
    baseline = np.asarray(score(preds, target), dtype=float)
    shared = dict(forward=forward, inputs=list(inputs), target=target, groups=list(groups), score=score,
                  n_repeats=n_repeats, root=root, keys=keys, bs=bs, strata=None if strata is None else list(strata))
    if run_pieces is None:
        run_pieces = lambda fn, sh, pieces: [fn(sh, g) for g in progress(pieces)]
    permuted = np.stack([r.reshape(n_repeats, baseline.size) for r in run_pieces(group_scores, shared, range(len(groups)))]) \
        if len(groups) else np.empty((0, n_repeats, baseline.size))
    return baseline, permuted


def permutation_drops(forward: Forward, inputs: Sequence[torch.Tensor], target: torch.Tensor,
                      groups: Sequence[ColumnGroup], score: Score, greater_is_better: Sequence[bool], n_repeats: int,
                      **options):
    """`permutation_scores` as drops in quality: `(baseline, drops)` with `drops[g, r, k]` positive when permuting
    group g (repeat r) made score k worse, whatever its direction (`greater_is_better[k]`). `options` as there."""
    baseline, permuted = permutation_scores(forward, inputs, target, groups, score, n_repeats, **options)
    return baseline, oriented(permuted - baseline, greater_is_better)
