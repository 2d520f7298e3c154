"Argument checks shared by every method (the constraints of `params`, called inline), and wording helpers for messages."
from __future__ import annotations

import sys
import warnings

import numpy as np

from .params import Choice, Integer, Number, ParameterError, check

__all__ = ['check_data', 'check_int', 'check_number', 'check_choice', 'shown', 'plain', 'warn']


def check_data(data, name: str = 'data'):
    "`data` to explain, refused by `name` when it is None or empty (a string, list, Series or DataFrame of nothing)."
    if data is None or (hasattr(data, '__len__') and len(data) == 0):
        raise ParameterError(name, f"`{name}` is empty: give the rows or texts to explain")
    return data


def check_int(name: str, value, minimum: int = 1) -> int:
    "`value` as an int, or a ParameterError when it is not a whole number >= `minimum` (bools refused)."
    return int(check(name, Integer(minimum), value))


def check_number(name: str, value, *, positive: bool = False) -> float:
    "`value` as a float, or a ParameterError naming `name` (bools and NaN refused; `positive`: > 0)."
    return float(check(name, Number(0, low_open=True) if positive else Number(), value))


def check_choice(name: str, value, choices) -> str:
    "`value` when it is one of `choices`, else a ParameterError listing them."
    return check(name, Choice(*choices), value)


def shown(values, k: int = 5) -> str:
    "The first `k` values for a message: `'a', 'b' and 3 more`."
    values = list(values)
    text = ', '.join(repr(plain(v)) for v in values[:k])
    return text + (f' and {len(values) - k} more' if len(values) > k else '')


def plain(value):
    "A plain Python number (or list/dict of them) in place of NumPy scalars, for messages and `attrs`."
    if isinstance(value, dict): return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)): return type(value)(plain(v) for v in value)
    if isinstance(value, np.ndarray): return [plain(v) for v in value.tolist()]
    if isinstance(value, np.generic): return value.item()
    return value


_PACKAGE = __name__.split('.')[0]


def warn(message: str, category=UserWarning) -> None:
    """A warning attributed to the caller's own line: the first frame outside this package (however deep the call
    came through the Learner door, the registry and the checks)."""
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_globals.get('__name__', '').split('.')[0] == _PACKAGE:
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
