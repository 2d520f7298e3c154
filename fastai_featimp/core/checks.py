"Argument checks shared by every method, with messages that name the argument and what arrived."
from __future__ import annotations

import numpy as np

__all__ = ['check_int', 'check_number', 'check_choice', 'check_threshold', 'shown', 'plain']


def check_int(name: str, value, minimum: int = 1) -> int:
    "`value` as an int, or a ValueError when it is not a whole number >= `minimum` (bools refused)."
    ok = not isinstance(value, bool)
    try: ok = ok and int(value) == value and value >= minimum
    except (TypeError, ValueError): ok = False
    if not ok: raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_number(name: str, value, *, positive: bool = False) -> float:
    "`value` as a float, or a ValueError naming `name` (bools and NaN refused; `positive`: > 0)."
    ok = not isinstance(value, bool)
    try: ok = ok and float(value) == float(value) and (not positive or float(value) > 0)
    except (TypeError, ValueError): ok = False
    if not ok: raise ValueError(f"{name} must be a {'positive ' if positive else ''}number, got {value!r}")
    return float(value)


def check_choice(name: str, value, choices) -> str:
    "`value` when it is one of `choices`, else a ValueError listing them."
    if not isinstance(value, str) or value not in choices:
        names = list(map(repr, choices))
        expected = ' or '.join(names) if len(names) == 2 else f"one of {', '.join(names)}"
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return value


def check_threshold(threshold) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold <= 1:
        raise ValueError(f"threshold must be a number in (0, 1], got {threshold!r}")
    return float(threshold)


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
