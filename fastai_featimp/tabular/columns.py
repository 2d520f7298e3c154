"""A labelled table as the engine's `Columns`, for permutation importance: its reported variables (columns, groups,
automatic groups of associated columns) and, for the conditional strategy, the strata of the most associated columns
each variable is permuted within."""
from __future__ import annotations

from ..core.association import associated_groups, association_of, conditional_strata
from ..engine.protocol import Columns
from .data import feature_arrays, load_tabular

__all__ = ['table_columns']


def table_columns(s, data, *, param, max_rows=None, rng=None, split='valid', fallback_warning=None, hint='',
                  groups=None, auto_groups=False, threshold=0.7, strategy='marginal') -> Columns:
    "`Adapter.columns` for tables (`groups` are already the setup's variables; `auto_groups` adds associated columns)."
    learn, schema, variables = s.learn, s.schema, s.variables
    loaded = load_tabular(learn, schema, data, labelled=True, split=split, fallback_warning=fallback_warning,
                          max_rows=max_rows, rng=rng, min_rows=2, param=param, hint=hint,
                          cap_name='train_rows' if split == 'train' else 'max_rows')
    attrs, strata = {'strategy': strategy}, None
    if auto_groups or strategy == 'conditional':   # both read the association on the scored rows
        cat, cont = feature_arrays(schema, *loaded.inputs)
        assoc = association_of(cat, cont)
        if auto_groups: attrs['threshold'] = threshold
    if auto_groups:
        grouped = [m for v in variables if v.kind == 'group' for m in v.members]
        found = associated_groups(assoc, threshold, exclude=grouped)
        variables = s.kind.variables(schema, {**(groups or {}), **found})
    if strategy == 'conditional':
        strata, info = zip(*[conditional_strata(v.members, assoc, cat, cont) for v in variables])
        attrs['conditional'] = {v.name: i for v, i in zip(variables, info)}
    return Columns(loaded.inputs, loaded.target, list(variables), strata, loaded.source, attrs)
