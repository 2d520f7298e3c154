"""Interventional Shapley values over groups of input columns, on tensors (no fastai).

A player is a set of `(tensor, column)` slots. The value of a coalition S is the mean model output over
the background rows with S's slots taken from the explained row and every other slot from the background
row. `shapley_from_values` reads every one of the 2^M coalitions; `shapley_from_plan` antithetic permutations.
Both satisfy efficiency exactly: base value + sum of contributions = the output for the row."""
from __future__ import annotations

from dataclasses import dataclass
from math import factorial
from typing import Callable, Sequence

import numpy as np
import torch

from .forward import default_bs, prime_allocator

EXACT_MAX_PLAYERS = 14   # every coalition is enumerated up to this many players (2^14 = 16,384)

__all__ = ['EXACT_MAX_PLAYERS', 'coalition_value_fn', 'all_coalitions', 'shapley_from_values',
           'shapley_interactions', 'PermutationPlan', 'permutation_plan', 'shapley_from_plan']


def coalition_value_fn(forward: Callable, row: Sequence[torch.Tensor], background: Sequence[torch.Tensor],
                       players: Sequence, output: Callable[[torch.Tensor], torch.Tensor], bs: int | None = None,
                       progress: Callable[[int], None] | None = None):
    """`value(masks)`: for a bool matrix `masks` (C x M), the mean of `output(forward(...))` over the background
    for each coalition. `row[t]` has shape (1, cols_t), `background[t]` (B, cols_t); `players[m]` lists the
    `(tensor, column)` slots of player m. `progress(k)` is told of every k coalitions evaluated."""
    device, n_bg = background[0].device, background[0].shape[0]
    membership = [torch.zeros(len(players), bg.shape[1], dtype=torch.bool, device=device) for bg in background]
    for m, slots in enumerate(players):
        for t, c in slots: membership[t][m, c] = True
    per_chunk = max(1, (bs or default_bs(device)) // n_bg)   # coalitions per forward pass

    def value(masks: torch.Tensor) -> np.ndarray:
        prime_allocator()
        masks = masks.to(device)
        out = []
        with torch.inference_mode():
            for start in range(0, masks.shape[0], per_chunk):
                m = masks[start:start + per_chunk].to(torch.float32)
                xb = []
                for t, (x, bg) in enumerate(zip(row, background)):
                    take = (m @ membership[t].to(torch.float32)).bool()          # (c, cols): from the row?
                    mixed = torch.where(take[:, None, :], x[None, :, :], bg[None, :, :])  # (c, B, cols)
                    xb.append(mixed.reshape(m.shape[0] * n_bg, x.shape[1]))   # also for 0 columns
                y = output(forward(*xb)).reshape(m.shape[0], n_bg)
                out.append(y.double().mean(1).cpu())
                if progress is not None: progress(m.shape[0])
        return torch.cat(out).numpy()
    return value


def all_coalitions(n_players: int) -> torch.Tensor:
    "Every coalition as a bool mask (2^M x M); coalition k holds player j when bit j of k is set."
    codes = torch.arange(2 ** n_players)
    return (codes[:, None] >> torch.arange(n_players)) & 1 == 1


def _sizes(n_players: int) -> np.ndarray:
    return np.array([bin(k).count('1') for k in range(2 ** n_players)])


def shapley_from_values(v: np.ndarray, n_players: int) -> np.ndarray:
    "Shapley values from the values `v[k]` of every coalition k (bit j of k set: player j in it)."
    m, codes, size = n_players, np.arange(2 ** n_players), _sizes(n_players)
    weight = np.array([factorial(s) * factorial(m - s - 1) / factorial(m) for s in range(m)])
    phi = np.empty(m)
    for j in range(m):
        without = codes[(codes >> j) & 1 == 0]
        phi[j] = (weight[size[without]] * (v[without | (1 << j)] - v[without])).sum()
    return phi


def shapley_interactions(v: np.ndarray, n_players: int) -> np.ndarray:
    """The M x M matrix of pairwise Shapley interaction values (Lundberg et al. 2020) from every coalition's value:
    off the diagonal, the Shapley interaction index of (i, j) split equally between (i, j) and (j, i); on the
    diagonal, the main effects, so that each row sums to the player's Shapley value and the matrix to
    v(all) - v(none)."""
    m, codes, size = n_players, np.arange(2 ** n_players), _sizes(n_players)
    phi = shapley_from_values(v, m)
    out = np.zeros((m, m))
    if m >= 2:
        weight = np.array([factorial(s) * factorial(m - s - 2) / (2 * factorial(m - 1)) for s in range(m - 1)])
        for i in range(m):
            for j in range(i + 1, m):
                s_ = codes[((codes >> i) & 1 == 0) & ((codes >> j) & 1 == 0)]
                delta = v[s_ | (1 << i) | (1 << j)] - v[s_ | (1 << i)] - v[s_ | (1 << j)] + v[s_]
                out[i, j] = out[j, i] = (weight[size[s_]] * delta).sum()
    out[np.diag_indices(m)] = phi - out.sum(1)   # the main effects: what is left of each Shapley value
    return out


@dataclass(frozen=True)
class PermutationPlan:
    "The coalitions a permutation estimate evaluates: antithetic orders and the distinct prefix coalitions they hold."
    orders: np.ndarray        # (n_orders, m): each order, then its reverse
    distinct: np.ndarray      # (n_distinct, m) bool: every coalition to evaluate, once
    where: np.ndarray         # (n_orders * (m + 1),): position in `distinct` of each order's k-th prefix
    pairs: int

    @property
    def n_coalitions(self) -> int: return len(self.distinct)


def permutation_plan(n_players: int, n_permutations: int, rng: np.random.Generator) -> PermutationPlan:
    "`n_permutations` orders drawn as antithetic pairs (a permutation and its reverse), and their distinct coalitions."
    m = n_players
    pairs = max(1, (n_permutations + 1) // 2)
    orders = []
    for _ in range(pairs):
        p = rng.permutation(m)
        orders += [p, p[::-1]]
    orders = np.array(orders)
    # prefix coalitions of every order: (n_orders, m + 1, m)
    prefix = np.zeros((len(orders), m + 1, m), dtype=bool)
    for k in range(1, m + 1):
        prefix[:, k] = prefix[:, k - 1]
        prefix[np.arange(len(orders)), k, orders[:, k - 1]] = True
    # every order holds the empty and the full coalition (and orders may share more): each distinct one runs once
    distinct, where = np.unique(prefix.reshape(-1, m), axis=0, return_inverse=True)
    return PermutationPlan(orders, distinct, where.ravel(), pairs)


def shapley_from_plan(plan: PermutationPlan, values: np.ndarray) -> tuple:
    """`(contributions, standard_errors, base, full)` from the values of the plan's distinct coalitions; each
    order's marginal contributions add up to full - base."""
    orders, m = plan.orders, plan.orders.shape[1]
    v = np.asarray(values)[plan.where].reshape(len(orders), m + 1)
    gains = np.diff(v, axis=1)                  # gain of the k-th player added, per order
    contrib = np.empty((len(orders), m))
    contrib[np.arange(len(orders))[:, None], orders] = gains
    per_pair = contrib.reshape(plan.pairs, 2, m).mean(1)
    phi = per_pair.mean(0)
    se = per_pair.std(0, ddof=1) / np.sqrt(plan.pairs) if plan.pairs > 1 else np.full(m, np.nan)
    # every order starts at the empty and ends at the full coalition; their values agree up to float rounding
    # between batches, so their means are returned: then base + sum of contributions = full exactly
    return phi, se, float(v[:, 0].mean()), float(v[:, -1].mean())
