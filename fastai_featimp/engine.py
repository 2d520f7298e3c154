"""Tensor-level permutation engine. It knows nothing of fastai: it sees input tensors (for a tabular
model: categorical codes and continuous values), a target, a forward function and a scoring function.
Every importance method of the package perturbs inputs through this module."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np
import torch

__all__ = ['ColumnGroup', 'prime_allocator', 'batched_forward', 'permuted_forward', 'fixed_forward', 'permutation_scores', 'group_generators',
           'within_strata_permutation']

Forward = Callable[..., torch.Tensor]
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


_ALLOCATOR_PRIMED = False


def prime_allocator() -> None:
    """Free one 30 MB block, once per process, before the chunked forward passes.

    glibc's malloc returns freed heap memory above a trim threshold to the OS, and every chunk's activations
    are then faulted in again: that doubled the time of an exact explanation here. Freeing one large mapped
    block raises the threshold for the rest of the process, exactly as any large tensor allocation would, so
    the activation memory is reused. On other allocators this is a harmless allocation."""
    global _ALLOCATOR_PRIMED
    if not _ALLOCATOR_PRIMED:
        block = torch.empty(30 * 2**20, dtype=torch.uint8)   # allocated and freed, never touched
        del block
        _ALLOCATOR_PRIMED = True


def _chunks(n: int, bs: int) -> Iterable[slice]:
    for start in range(0, n, bs): yield slice(start, min(start + bs, n))


def batched_forward(forward: Forward, inputs: Sequence[torch.Tensor], bs: int,
                    replace: Callable[[int, slice, torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
    "Model outputs for all rows of `inputs`, in chunks of `bs` rows; `replace(t, rows, chunk)` may edit a chunk's copy."
    n = inputs[0].shape[0]
    out = None
    prime_allocator()
    with torch.inference_mode():
        for rows in _chunks(n, bs):
            xb = [x[rows] if replace is None else replace(t, rows, x[rows]) for t, x in enumerate(inputs)]
            pred = forward(*xb)
            if out is None: out = pred.new_empty((n, *pred.shape[1:]))   # one buffer, filled in place
            out[rows] = pred
    return out


def permuted_forward(forward: Forward, inputs: Sequence[torch.Tensor], group: ColumnGroup, perm: torch.Tensor,
                     bs: int) -> torch.Tensor:
    "Outputs with `group`'s columns taken from row `perm[i]` for row `i`; inputs are never modified."
    cols = group.by_tensor(inputs[0].device)

    def replace(t, rows, chunk):
        if t not in cols: return chunk
        chunk = chunk.clone()   # a chunk-sized copy: memory does not grow with the set or the repeats
        chunk[:, cols[t]] = inputs[t][perm[rows].unsqueeze(1), cols[t]]
        return chunk
    return batched_forward(forward, inputs, bs, replace)


def within_strata_permutation(rng: np.random.Generator, n: int, strata: np.ndarray | None = None) -> np.ndarray:
    "A permutation of `n` rows that maps every row to a row of the same stratum (all rows when `strata` is None)."
    if strata is None: return rng.permutation(n)
    shuffled = np.lexsort((rng.random(n), strata))   # rows by stratum, in random order within each
    by_stratum = np.argsort(strata, kind='stable')    # rows by stratum, in their own order
    perm = np.empty(n, dtype=np.int64)
    perm[by_stratum] = shuffled                       # both list the strata in the same blocks
    return perm


def fixed_forward(forward: Forward, inputs: Sequence[torch.Tensor], fixed: dict, bs: int) -> torch.Tensor:
    "Outputs with the columns in `fixed` (`{(tensor, column): value}`) set to one value on every row."
    by_tensor: dict = {}
    for (t, c), v in fixed.items(): by_tensor.setdefault(t, []).append((c, v))

    def replace(t, rows, chunk):
        if t not in by_tensor: return chunk
        chunk = chunk.clone()
        for c, v in by_tensor[t]: chunk[:, c] = v
        return chunk
    return batched_forward(forward, inputs, bs, replace)


def group_generators(seed: int | None, n_groups: int) -> list:
    "One independent numpy Generator per group, all derived from `seed` (fresh entropy when `None`)."
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(n_groups)]


def permutation_scores(forward: Forward, inputs: Sequence[torch.Tensor], target: torch.Tensor,
                       groups: Sequence[ColumnGroup], score: Score, n_repeats: int, seed: int | None = None,
                       bs: int = 4096, progress: Callable[[Iterable], Iterable] = iter, strata: Sequence | None = None):
    """Baseline scores and scores with each group permuted.

    Returns `(baseline, permuted)`: arrays of shape `(n_scores,)` and `(n_groups, n_repeats, n_scores)`.
    Each repeat permutes the whole set once (never per batch); permutations are drawn on the CPU from
    per-group generators, so results do not depend on `bs`, the device, or which other groups are scored.
    `strata[g]` (an int array of length n, or None) restricts group g's permutations to rows of the same
    stratum: conditional permutation.
    """
    n = inputs[0].shape[0]
    device = inputs[0].device
    baseline = np.asarray(score(batched_forward(forward, inputs, bs), target), dtype=float)
    permuted = np.empty((len(groups), n_repeats, baseline.size))
    gens = group_generators(seed, len(groups))
    for step in progress(range(len(groups) * n_repeats)):
        g, r = divmod(step, n_repeats)
        perm = torch.from_numpy(within_strata_permutation(gens[g], n, None if strata is None else strata[g])).to(device)
        permuted[g, r] = score(permuted_forward(forward, inputs, groups[g], perm, bs), target)
    return baseline, permuted
