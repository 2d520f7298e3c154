"""How the learner's input columns depend on each other: the association matrix, automatic groups of
associated columns, and the strata used by conditional permutation."""
from __future__ import annotations

import numpy as np
import pandas as pd
from fastai.learner import Learner
from fastcore.basics import patch

from .association import association_clusters, association_matrix
from .safety import preserved_global_rng
from .tabular_data import processed_frame_arrays, tabular_schema

__all__ = ['feature_dependence', 'associated_groups', 'conditional_strata', 'association_of', 'check_threshold',
           'CONDITIONAL_SETTINGS']

# How conditional permutation builds strata (documented in the README):
CONDITIONAL_SETTINGS = dict(
    max_partners=2,          # the columns most associated with the permuted one ...
    min_association=0.2,     # ... of those at least this associated (none: the column is permuted freely)
    min_rows_per_stratum=20, # continuous partners get quantile bins, as many as keep ~this many rows a stratum
    max_bins=10,
)


def check_threshold(threshold) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold <= 1:
        raise ValueError(f"threshold must be a number in (0, 1], got {threshold!r}")
    return float(threshold)


def association_of(cat: dict, cont: dict, method: str = 'auto') -> pd.DataFrame:
    if method not in ('auto', 'spearman', 'pearson'):
        raise ValueError(f"method must be 'auto', 'spearman' or 'pearson', got {method!r}")
    return association_matrix(cat, cont, 'spearman' if method == 'auto' else method)


def feature_dependence(
    learn,                  # a fastai tabular Learner
    df=None,                # raw DataFrame (labels optional); None: the learner's training set
    *,
    method:str='auto',      # 'auto': |Spearman| between continuous columns ('pearson' for linear)
):
    """Association in [0, 1] between the learner's input columns, as a square DataFrame.

    |Spearman| for two continuous columns, bias-corrected Cramér's V for two categorical ones, the
    correlation ratio eta for a categorical and a continuous one; computed on the learner's processed
    inputs (missing continuous values filled as FillMissing fills them, missing categories a level of
    their own); `_na` indicators belong to their column and are not listed."""
    schema = tabular_schema(learn)
    with preserved_global_rng():
        cat, cont = processed_frame_arrays(learn, schema, df)
    return association_of(cat, cont, method)


def associated_groups(assoc: pd.DataFrame, threshold: float, exclude=()) -> dict:
    "Groups `{'a + b': ['a', 'b']}` of the columns (not in `exclude`) that cluster at association >= threshold."
    free = [c for c in assoc.index if c not in set(exclude)]
    return {' + '.join(c): c for c in association_clusters(assoc, threshold, free)}


def _quantile_bins(values: np.ndarray, bins: int) -> np.ndarray:
    edges = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1]))
    return np.searchsorted(edges, values, side='right')


def conditional_strata(members, assoc: pd.DataFrame, cat: dict, cont: dict, settings=None) -> tuple:
    """Stratum id per row for permuting `members` conditionally, and a description.

    Partners: up to `max_partners` other columns whose association with any member is at least
    `min_association`, most associated first. A categorical partner contributes its levels, a continuous
    one quantile bins (as many as keep about `min_rows_per_stratum` rows per stratum, 2 to `max_bins`).
    Rows are permuted only within their stratum; a row alone in its stratum keeps its own value."""
    s = {**CONDITIONAL_SETTINGS, **(settings or {})}
    others = [c for c in assoc.index if c not in members]
    strength = assoc.loc[list(members), others].max(axis=0).sort_values(ascending=False, kind='stable')
    partners = [c for c, v in strength.items() if v >= s['min_association']][:s['max_partners']]
    n = len(next(iter({**cat, **cont}.values())))
    if not partners: return None, dict(partners=[], n_strata=1, fixed_rows=0)
    bins = int(np.clip((n / s['min_rows_per_stratum']) ** (1 / len(partners)), 2, s['max_bins']))
    keys = [np.asarray(cat[p]) if p in cat else _quantile_bins(np.asarray(cont[p], float), bins) for p in partners]
    strata = np.unique(np.stack(keys, axis=1), axis=0, return_inverse=True)[1].ravel()
    sizes = np.bincount(strata)
    return strata, dict(partners=partners, n_strata=int(len(sizes)), fixed_rows=int(sizes[sizes == 1].sum()))


@patch
def feature_dependence(self:Learner, df=None, *, method:str='auto'):
    "Association in [0, 1] between the input columns (see `fastai_featimp.dependence.feature_dependence`)."
    return feature_dependence(self, df, method=method)   # @patch leaves the module's free function in place


@patch
def plot_feature_dependence(self:Learner, df=None, *, method:str='auto', assoc=None, figsize=None):
    "Dendrogram of `1 - association` beside the reordered heatmap; returns the Figure."
    from .plotting import plot_dependence
    if assoc is None: assoc = self.feature_dependence(df, method=method)
    return plot_dependence(assoc, figsize=figsize)
