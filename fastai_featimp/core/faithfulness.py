"""How faithful an attribution is to the model (no fastai): units removed in the explanation's order (deletion) or
added back in that order (insertion), the area over the perturbation curve (AOPC; Samek et al. 2017, Petsiuk et
al. 2018), ERASER's comprehensiveness and sufficiency at k units (DeYoung et al. 2020), each also for random orders
of the same units and for the reverse order, so that a score is read against chance. Everything comes from one
value function `value(masks)` (the output with the masked-in units present), the one the explanation itself used."""
from __future__ import annotations

import math

import numpy as np
import torch

from .params import ParameterError

__all__ = ['DEFAULT_K', 'check_ks', 'check_base', 'unit_count', 'k_label', 'is_fraction', 'order_curves', 'faithfulness_of_row', 'evaluation_frame']

def is_fraction(k) -> bool: return isinstance(k, float) and 0 < k < 1


def unit_count(k, m: int) -> int:
    "`k` units: a whole number, or a fraction of the row's `m` units (at least one)."
    return max(1, math.ceil(k * m)) if is_fraction(k) else int(k)


def k_label(k) -> str: return f'{k:g}' if is_fraction(k) else str(int(k))


DEFAULT_K = (1, 3, 5, 0.2)


def check_ks(k, counts: dict) -> list:
    """`k` as a list of unit counts or fractions in (0, 1), none larger than the fewest units of an explained row;
    None: `DEFAULT_K`, leaving out the counts some row is too short for."""
    if k is None:
        fewest = min(counts.values())
        return [x for x in DEFAULT_K if unit_count(x, fewest) <= fewest]
    ks = list(k) if isinstance(k, (list, tuple, np.ndarray)) else [k]
    # NumPy's integers and floats are numbers like Python's (np.int64(2) is a count of 2)
    ks = [x.item() if isinstance(x, np.generic) and not isinstance(x, np.bool_) else x for x in ks]
    bad = [x for x in ks if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, float)) or not math.isfinite(x)
           or x <= 0 or (isinstance(x, float) and x >= 1 and not float(x).is_integer())]
    if not ks or bad: raise ParameterError('k', f"`k` must be unit counts (whole numbers >= 1) or fractions in (0, 1), got {k!r}")
    ks = [int(x) if isinstance(x, float) and x >= 1 else x for x in ks]
    fewest = min(counts.values())
    row = min(counts, key=counts.get)
    row = int(row) if isinstance(row, (int, np.integer)) else row
    large = [x for x in ks if unit_count(x, fewest) > fewest]
    if large: raise ParameterError('k', f"`k`={large[0]!r} is more units than row {row!r} has ({fewest}): give a smaller k "
                                        "or a fraction such as 0.2")
    return ks


def check_base(row, explained: float, base: float, how: str) -> None:
    """The explanation's base value must be the value function's with every unit removed: with another background
    (or mask) it would be scored against a different question. `how` names what to pass the same."""
    if abs(base - explained) > 1e-4 * max(1.0, abs(base)):
        raise ParameterError(how, f"row {row!r} of `expl` starts from a base value of {explained:.6g}, but with every unit "
                                  f"removed this evaluation gives {base:.6g}: the explanation was made with another "
                                  f"`{how}`; evaluate it with the same one")


def _prefix_masks(orders: np.ndarray, present_first: bool) -> np.ndarray:
    """(n_orders, m + 1, m) masks of units present: deletion removes the first j units of an order (`present_first`
    False: the rest are present), insertion keeps only them."""
    n, m = orders.shape
    masks = np.zeros((n, m + 1, m), dtype=bool)
    for j in range(m + 1):
        chosen = np.zeros((n, m), dtype=bool)
        chosen[np.arange(n)[:, None], orders[:, :j]] = True
        masks[:, j] = chosen if present_first else ~chosen
    return masks


def order_curves(value, orders: np.ndarray) -> tuple:
    "`(deletion, insertion)` curves, each (n_orders, m + 1), of the units removed / added back in each order."
    n, m = orders.shape
    masks = np.concatenate([_prefix_masks(orders, False), _prefix_masks(orders, True)]).reshape(-1, m)
    distinct, where = np.unique(masks, axis=0, return_inverse=True)   # every order shares the full and empty sets
    v = np.asarray(value(torch.from_numpy(distinct)), dtype=float)[where.ravel()].reshape(2, n, m + 1)
    return v[0], v[1]


def _scores(deletion: np.ndarray, insertion: np.ndarray, ks: list) -> dict:
    """Every metric of a batch of orders' curves, higher is better: AOPC of deletion (how fast the output falls) and
    of insertion (how fast it comes back), comprehensiveness@k (the fall with the top k removed) and sufficiency@k
    (the output with only the top k, minus the output: 0 when they suffice)."""
    full, empty = deletion[:, :1], insertion[:, :1]
    out = {'deletion_aopc': (full - deletion).mean(1), 'insertion_aopc': (insertion - empty).mean(1)}
    for label, k in ks:
        out[f'comprehensiveness@{label}'] = deletion[:, 0] - deletion[:, k]
        out[f'sufficiency@{label}'] = insertion[:, k] - insertion[:, -1]
    return out


def faithfulness_of_row(value, contributions: np.ndarray, ks, n_random: int, rng: np.random.Generator) -> tuple:
    """`(scores, curves)` of one explained row: `scores[metric] = (explanation, random mean, random std, reverse)`;
    `curves` holds the deletion and insertion curves of the explanation's order, the random orders and the reverse.
    Units are taken most positive first (ties in their own order)."""
    m = len(contributions)
    if np.isnan(np.asarray(contributions, dtype=float)).any():
        raise ParameterError('expl', f"the explanation has {int(np.isnan(contributions).sum())} NaN contribution(s) in a "
                                     "row: its order of units is undefined, so no faithfulness can be measured; explain "
                                     "again (or drop that row)")
    labels = [(k_label(k), unit_count(k, m)) for k in ks]
    order = np.argsort(-np.asarray(contributions, dtype=float), kind='stable')
    orders = np.stack([order, order[::-1]] + [rng.permutation(m) for _ in range(n_random)])
    deletion, insertion = order_curves(value, orders)
    scores = _scores(deletion, insertion, labels)
    summary = {name: (float(v[0]), float(v[2:].mean()), float(v[2:].std(ddof=1)) if n_random > 1 else float('nan'),
                      float(v[1])) for name, v in scores.items()}
    curves = dict(deletion=deletion[0], insertion=insertion[0], reverse_deletion=deletion[1],
                  reverse_insertion=insertion[1], random_deletion=deletion[2:], random_insertion=insertion[2:])
    return summary, curves


def evaluation_frame(rows: list, scores: list, curves: list, **attrs):
    """The long result of `evaluate_explanation`: one row per (explained row, metric) with `Explanation`, `Random`
    (mean over random orders), `RandomStd` and `Reverse`, then the mean over rows (`row == 'all'`); the curves in
    `attrs['curves']` (by row)."""
    import pandas as pd
    records = [dict(row=r, Metric=name, Explanation=e, Random=rm, RandomStd=rs, Reverse=rv)
               for r, sc in zip(rows, scores) for name, (e, rm, rs, rv) in sc.items()]
    frame = pd.DataFrame.from_records(records, columns=['row', 'Metric', 'Explanation', 'Random', 'RandomStd', 'Reverse'])
    if len(frame):
        overall = frame.groupby('Metric', sort=False)[['Explanation', 'Random', 'RandomStd', 'Reverse']].mean().reset_index()
        frame = pd.concat([frame, overall.assign(row='all')[frame.columns]], ignore_index=True)
    frame['row'] = frame['row'].astype(object)
    frame.attrs.update(attrs, curves=dict(zip(rows, curves)))
    return frame
