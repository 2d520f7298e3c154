"""Declared parameter checks (as scikit-learn's `_parameter_constraints`): each public function states the
constraints of its parameters once, in `@checked(...)`; a failure raises `ParameterError`, which carries the
parameter's name.

Messages name parameters in backticks (`` `n_repeats` ``, or `` `target=` `` for "pass target="): `str(error)` shows
them as Python spells them, and `error.render(spell)` lets another door spell them its own way (the command line
shows `--repeats`), so the wording lives in one place and no door rewrites another's strings."""
from __future__ import annotations

import functools
import inspect
import math
import re
from numbers import Integral, Real

__all__ = ['ParameterError', 'Integer', 'Number', 'Choice', 'Seed', 'Flag', 'Instance', 'AnyOf', 'check', 'checked',
           'spelled']

_NAMED = re.compile(r'`([A-Za-z_][A-Za-z0-9_]*)(=?)`')


def spelled(message: str, spell=None) -> str:
    "`message` with each `` `name` `` / `` `name=` `` spelled by `spell(name, '=' or '')` (default: as written)."
    spell = spell or (lambda name, eq: name + eq)
    return _NAMED.sub(lambda m: spell(m.group(1), m.group(2)), message)


class ParameterError(ValueError, TypeError):
    """A bad argument: `name` is the parameter, the message says what arrived and what to pass instead. A
    ValueError and a TypeError both, so callers catching either (as scikit-learn's and fastai's users do) see it."""
    def __init__(self, name: str, message: str):
        super().__init__(message)
        self.name, self.message = name, message

    def __str__(self) -> str: return spelled(self.message)

    def render(self, spell) -> str:
        "The message with every parameter spelled by `spell(name, eq)` (the command line's flags, say)."
        return spelled(self.message, spell)


def _is_int(value) -> bool: return isinstance(value, Integral) and not isinstance(value, bool)


def _declared(obj, *args, **optional) -> str:
    "`Name(args..., key=value...)`, the keywords only where they differ from the defaults (a repr that evaluates back)."
    given = [repr(a) for a in args] + [f"{k}={v!r}" for k, (v, default) in optional.items() if v != default]
    return f"{type(obj).__name__}({', '.join(given)})"


class _Constraint:
    "A constraint is what it declares: equal to (and hashed as) another of the same declaration, by its repr."
    def __eq__(self, other): return type(self) is type(other) and repr(self) == repr(other)

    def __hash__(self): return hash(repr(self))


class Integer(_Constraint):
    "A whole number in `[minimum, maximum]` (bools refused); `none`: None is allowed."
    def __init__(self, minimum=1, maximum=None, none=False): self.minimum, self.maximum, self.none = minimum, maximum, none

    def __repr__(self):
        return _declared(self, self.minimum, **dict(maximum=(self.maximum, None), none=(self.none, False)))

    def problem(self, value):
        if value is None and self.none: return None
        ok = _is_int(value) and value >= self.minimum \
            and (self.maximum is None or value <= self.maximum)
        if ok: return None
        upper = f" and <= {self.maximum}" if self.maximum is not None else ''
        return f"must be an integer >= {self.minimum}{upper}, got {value!r}"


class Number(_Constraint):
    "A finite real number (not NaN or infinite, not a bool) with optional bounds; `low_open`/`high_open` exclude the bound itself."
    def __init__(self, low=None, high=None, low_open=False, high_open=False, none=False):
        self.low, self.high, self.low_open, self.high_open, self.none = low, high, low_open, high_open, none

    def __repr__(self):
        return _declared(self, **dict(low=(self.low, None), high=(self.high, None), low_open=(self.low_open, False),
                                      high_open=(self.high_open, False), none=(self.none, False)))

    def _range(self) -> str:
        if self.low is not None and self.high is not None:
            return f"in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"
        if self.low is not None: return f"{'>' if self.low_open else '>='} {self.low:g}"
        if self.high is not None: return f"{'<' if self.high_open else '<='} {self.high:g}"
        return ''

    def problem(self, value):
        if value is None and self.none: return None
        ok = isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(float(value))
        if ok and self.low is not None: ok = value > self.low if self.low_open else value >= self.low
        if ok and self.high is not None: ok = value < self.high if self.high_open else value <= self.high
        if ok: return None
        if self.low == 0 and self.low_open and self.high is None: kind, where = 'a positive number', ''
        else: kind, where = 'a number', self._range()
        return f"must be {kind}{' ' + where if where else ''}, got {value!r}"


class Choice(_Constraint):
    "One of `choices`; `none`: None is allowed."
    def __init__(self, *choices, none=False): self.choices, self.none = choices, none

    def __repr__(self): return _declared(self, *self.choices, **dict(none=(self.none, False)))

    def problem(self, value):
        if value is None and self.none: return None
        try:
            if any(value == c and type(value) is type(c) for c in self.choices): return None
        except (TypeError, ValueError): pass
        names = [repr(c) for c in self.choices] + (['None'] if self.none else [])
        expected = ' or '.join(names) if len(names) == 2 else f"one of {', '.join(names)}"
        return f"must be {expected}, got {value!r}"


class Seed(Integer):
    "None (fresh entropy) or a non-negative whole number."
    def __init__(self): super().__init__(minimum=0, none=True)

    def __repr__(self): return 'Seed()'


class Flag(_Constraint):
    "True or False."
    def __repr__(self): return 'Flag()'

    def problem(self, value):
        return None if isinstance(value, bool) else f"must be True or False, got {value!r}"


class Instance(_Constraint):
    "An instance of `types` (described to the user as `what`); `none`: None is allowed."
    def __init__(self, types, what: str, none=False): self.types, self.what, self.none = types, what, none

    def __repr__(self):   # evaluates back for builtin types (the command line's declarations)
        names = [t.__name__ for t in (self.types if isinstance(self.types, tuple) else (self.types,))]
        return f"Instance(({', '.join(names)}{',' if len(names) == 1 else ''}), {self.what!r}" + \
            (", none=True)" if self.none else ")")

    def problem(self, value):
        if value is None and self.none: return None
        if isinstance(value, self.types) and not isinstance(value, bool): return None
        return f"must be {self.what}, got {type(value).__name__}"


class AnyOf(_Constraint):
    """Any of `constraints` (e.g. a whole number, or a pair); `what` says what is expected, in words; `none`: None is
    allowed."""
    def __init__(self, *constraints, what: str, none=False): self.constraints, self.what, self.none = constraints, what, none

    def __repr__(self): return _declared(self, *self.constraints, **dict(what=(self.what, None), none=(self.none, False)))

    def problem(self, value):
        if value is None and self.none: return None
        if any(c.problem(value) is None for c in self.constraints): return None
        return f"must be {self.what}, got {value!r}"


def check(name: str, constraint, value):
    "`value` when it meets `constraint`, else a ParameterError naming `name`."
    problem = constraint.problem(value)
    if problem: raise ParameterError(name, f"`{name}` {problem}")
    return value


def checked(**constraints):
    """Check the named parameters of the decorated function against their constraints on every call, before it
    runs (`fn.constraints` keeps them, for documentation and other doors)."""
    def decorate(fn):
        sig = inspect.signature(fn)
        unknown = set(constraints) - set(sig.parameters)
        if unknown: raise TypeError(f"{fn.__name__} has no parameter(s) {sorted(unknown)} to check")

        @functools.wraps(fn)
        def run(*args, **kwargs):
            try: bound = sig.bind_partial(*args, **kwargs)
            except TypeError: return fn(*args, **kwargs)   # Python's own message for a wrong call
            for name, value in bound.arguments.items():
                if name in constraints: check(name, constraints[name], value)
            return fn(*args, **kwargs)
        run.constraints = dict(constraints)
        return run
    return decorate
