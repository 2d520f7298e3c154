"""What Shapley values of a tabular learner compare: the rows explained and the background rows, as tensors, and
the value of a coalition of columns for one row (shared by explanations and interaction values)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..core.params import ParameterError
from ..core.shapley import coalition_value_fn
from ..core.forward import model_device
from .data import TabularData, gather_batch, load_tabular

__all__ = ['changeable_players', 'explained_and_background', 'explained_rows', 'background_inputs', 'row_value', 'display_value']


def explained_and_background(learn, schema, rows, background, n_background: int, rng, param: str = 'rows') -> tuple:
    """`(inputs of rows, inputs of the background)`: the background is `background`, or a seeded training sample
    (`param` names the argument holding the rows)."""
    return explained_rows(learn, schema, rows, param), background_inputs(learn, schema, background, n_background, rng).inputs


def explained_rows(learn, schema, rows, param: str = 'rows') -> list:
    "The inputs of the rows to explain (a DataFrame, labels optional)."
    if rows is None: raise ParameterError(param, f"`{param}` must be a pandas DataFrame of the rows to explain, got None")
    return load_tabular(learn, schema, rows, param=param, dataloader_ok=False).inputs


def background_inputs(learn, schema, background, n_background: int, rng=None, rows: list | None = None):
    """The background's `TabularData`: `background`, or a seeded sample of `n_background` training rows (or the
    training rows at positions `rows`, to use again the sample an explanation used)."""
    if rows is not None and background is None:
        to = learn.dls.train_ds
        if len(to) == 0: raise ParameterError('background', "this learner holds no training data: pass `background=`")
        inputs, _ = gather_batch(learn.dls.train, to.iloc[rows])
        device = model_device(learn.model)
        return TabularData([t.to(device) for t in inputs], None, len(rows), 'training set', list(rows))
    return load_tabular(learn, schema, background, split='train', max_rows=n_background, rng=rng, param='background',
                        dataloader_ok=False, cap_name='n_background',
                        hint=': this learner holds no training data (a learner from load_learner is exported '
                             'without it): pass `background=`, typical rows to compare with')


def row_value(model, x, i: int, bg, players, out_fn, k: int, progress=None, bs=None):
    "The coalition value function of row `i` for output `k` (see `core.shapley.coalition_value_fn`)."
    return coalition_value_fn(model, [t[i:i + 1] for t in x], bg, [p.group.slots for p in players],
                              lambda p: out_fn(p).reshape(p.shape[0], -1)[:, k], bs=bs, progress=progress)


def changeable_players(x, i: int, bg, players) -> np.ndarray:
    """Per player, whether taking it from the background can change row `i`'s output: False when each of its slots
    holds, in every background row, the row's own value (its Shapley value is then exactly 0)."""
    same = [(b == t[i:i + 1]).all(0).cpu() for t, b in zip(x, bg)]   # per input column: equal in every background row
    return np.array([not all(bool(same[t][c]) for t, c in p.group.slots) for p in players])


def display_value(rows: pd.DataFrame, i: int, members) -> object:
    "The value as the user wrote it (several members: 'a=1, b=x')."
    if len(members) == 1: return rows.iloc[i][members[0]]
    return ', '.join(f'{m}={rows.iloc[i][m]}' for m in members)
