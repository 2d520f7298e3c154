"""Which input columns move together: one variable per learner column (with its FillMissing `_na`
indicator), user groups permuted jointly, each mapped to positions in the `(x_cat, x_cont)` tensors."""
from __future__ import annotations

from dataclasses import dataclass

from ..core.permutation import ColumnGroup

__all__ = ['Variable', 'resolve_variables', 'tabular_variables']

CAT, CONT = 0, 1   # positions of x_cat and x_cont among the model's inputs


@dataclass(frozen=True)
class Variable:
    "One reported row: its name, `Type`, the learner columns it stands for and their tensor positions."
    name: str
    kind: str            # 'categorical', 'continuous' or 'group'
    members: tuple
    group: ColumnGroup


def _slots(column: str, cat_names, cont_names, na_parent) -> list:
    "Tensor positions of `column`, its `_na` indicator included."
    if column in cont_names:
        slots = [(CONT, cont_names.index(column))]
        na = f'{column}_na'
        if na in na_parent: slots.append((CAT, cat_names.index(na)))
        return slots
    return [(CAT, cat_names.index(column))]


def resolve_variables(cat_names, cont_names, na_parent: dict, groups=None) -> list:
    """Variables in the learner's column order, then the groups in the order given.

    `groups` maps a name to its member columns. A FillMissing indicator `<col>_na` stands for `<col>`.
    Members of a group get no row of their own."""
    cat_names, cont_names = list(cat_names), list(cont_names)
    known = [c for c in cat_names if c not in na_parent] + cont_names
    groups = {} if groups is None else groups
    if not isinstance(groups, dict):
        raise TypeError(f"groups must be a dict {{name: [columns]}}, got {type(groups).__name__}")
    owner: dict = {}
    resolved = {}
    for name, cols in groups.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"group names must be non-empty strings, got {name!r}")
        cols = [cols] if isinstance(cols, str) else list(cols)
        if not cols: raise ValueError(f"group {name!r} has no columns")
        twice = sorted({c for c in cols if cols.count(c) > 1}, key=str)
        if twice: raise ValueError(f"group {name!r} names column(s) {', '.join(map(repr, twice))} more than once")
        members = []
        for c in cols:
            if not isinstance(c, str) or (c not in known and c not in na_parent):
                raise ValueError(f"group {name!r} names unknown column {c!r}; the learner's columns are "
                                 f"{', '.join(map(repr, known))}")
            c = na_parent.get(c, c)
            if c in owner and owner[c] != name:
                raise ValueError(f"column {c!r} is in two groups, {owner[c]!r} and {name!r}; a column can be "
                                 "permuted with one group only")
            owner[c] = name
            if c not in members: members.append(c)
        resolved[name] = members
    for name, members in resolved.items():
        # a group may be named after one of its members (that member gets no row of its own); naming it after
        # a column outside the group would give two rows of the same name
        if name in known and name not in members:
            raise ValueError(f"group name {name!r} is the name of column {name!r}, which is not in the group; name the "
                             "group after one of its members or choose another name")
    variables = [Variable(c, 'continuous' if c in cont_names else 'categorical', (c,),
                          ColumnGroup(tuple(_slots(c, cat_names, cont_names, na_parent))))
                 for c in known if c not in owner]
    for name, members in resolved.items():
        slots = tuple(s for m in members for s in _slots(m, cat_names, cont_names, na_parent))
        variables.append(Variable(name, 'group', tuple(members), ColumnGroup(slots)))
    return variables


def tabular_variables(schema, groups=None) -> list:
    "The variables of a learner's schema: `resolve_variables` of its columns and `_na` pairs."
    return resolve_variables(schema.cat_names, schema.cont_names, schema.na_parent, groups)
