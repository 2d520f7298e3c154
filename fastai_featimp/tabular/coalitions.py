"""What Shapley values of a tabular learner compare: the rows explained and the background rows, as tensors, and
the value of a coalition of columns for one row (shared by explanations and interaction values)."""
from __future__ import annotations

import pandas as pd

from ..core.params import ParameterError
from ..core.shapley import coalition_value_fn
from .data import load_tabular

__all__ = ['explained_and_background', 'row_value', 'display_value']


def explained_and_background(learn, schema, rows, background, n_background: int, rng, param: str = 'rows') -> tuple:
    """`(inputs of rows, inputs of the background)`: the background is `background`, or a seeded training sample
    (`param` names the argument holding the rows)."""
    if rows is None: raise ParameterError(param, f"`{param}` must be a pandas DataFrame of the rows to explain, got None")
    x = load_tabular(learn, schema, rows, param=param, dataloader_ok=False).inputs
    bg = load_tabular(learn, schema, background, split='train', max_rows=n_background, rng=rng, param='background',
                      dataloader_ok=False, cap_name='n_background',
                      hint=': this learner holds no training data (a learner from load_learner is exported '
                           'without it): pass `background=`, typical rows to compare with').inputs
    return x, bg


def row_value(model, x, i: int, bg, players, out_fn, k: int, progress=None):
    "The coalition value function of row `i` for output `k` (see `core.shapley.coalition_value_fn`)."
    return coalition_value_fn(model, [t[i:i + 1] for t in x], bg, [p.group.slots for p in players],
                              lambda p: out_fn(p).reshape(p.shape[0], -1)[:, k], progress=progress)


def display_value(rows: pd.DataFrame, i: int, members) -> object:
    "The value as the user wrote it (several members: 'a=1, b=x')."
    if len(members) == 1: return rows.iloc[i][members[0]]
    return ', '.join(f'{m}={rows.iloc[i][m]}' for m in members)
