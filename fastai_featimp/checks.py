"Argument checks shared by every method, with messages that name the argument and what arrived."
from __future__ import annotations

__all__ = ['check_int']


def check_int(name: str, value, minimum: int = 1) -> int:
    "`value` as an int, or a ValueError when it is not a whole number >= `minimum` (bools refused)."
    ok = not isinstance(value, bool)
    try: ok = ok and int(value) == value and value >= minimum
    except (TypeError, ValueError): ok = False
    if not ok: raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)
