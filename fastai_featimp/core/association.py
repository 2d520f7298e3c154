"""Association between mixed categorical/continuous columns, each in [0, 1]: |Spearman| for two
continuous columns, bias-corrected Cramér's V for two categorical ones, the correlation ratio (eta) for
a categorical and a continuous one. Works on arrays of codes and values, free of fastai."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ['cramers_v', 'correlation_ratio', 'association_matrix', 'association_of', 'association_clusters',
           'associated_groups', 'conditional_strata', 'level_distances', 'CONDITIONAL_SETTINGS']

# How conditional permutation builds strata (documented in the README):
CONDITIONAL_SETTINGS = dict(
    max_partners=2,          # the columns most associated with the permuted one ...
    min_association=0.2,     # ... of those at least this associated (none: the column is permuted freely)
    min_rows_per_stratum=20, # continuous partners get quantile bins, as many as keep ~this many rows a stratum
    max_bins=10,
)


def _codes(x) -> np.ndarray:
    "Dense integer codes 0..k-1 of any labels (NaN is a level of its own, as fastai's #na#)."
    return pd.factorize(pd.Series(np.asarray(x)), use_na_sentinel=False)[0]


def cramers_v(x, y) -> float:
    "Bias-corrected Cramér's V (Bergsma 2013) of two categorical arrays."
    a, b = _codes(x), _codes(y)
    n = len(a)
    r, k = a.max() + 1, b.max() + 1
    if n < 2 or r < 2 or k < 2: return 0.0
    table = np.bincount(a * k + b, minlength=r * k).reshape(r, k)
    chi2 = stats.chi2_contingency(table, correction=False)[0]
    phi2 = max(0.0, chi2 / n - (k - 1) * (r - 1) / (n - 1))
    r_c, k_c = r - (r - 1) ** 2 / (n - 1), k - (k - 1) ** 2 / (n - 1)
    denom = min(k_c - 1, r_c - 1)
    return float(np.sqrt(phi2 / denom)) if denom > 0 else 0.0


def correlation_ratio(categories, values) -> float:
    "Correlation ratio eta = sqrt(between-category sum of squares / total sum of squares)."
    codes, v = _codes(categories), np.asarray(values, dtype=float)
    total = ((v - v.mean()) ** 2).sum()
    if total == 0: return 0.0
    counts = np.bincount(codes)
    means = np.bincount(codes, weights=v) / np.maximum(counts, 1)
    between = (counts * (means - v.mean()) ** 2).sum()
    return float(np.sqrt(min(1.0, between / total)))


def association_matrix(cat: dict, cont: dict, cont_method: str = 'spearman') -> pd.DataFrame:
    """Symmetric matrix over `cat` (name -> codes) and `cont` (name -> values), 1 on the diagonal.

    `cont_method`: 'spearman' (default, any monotone relation) or 'pearson' (linear)."""
    if cont_method not in ('spearman', 'pearson'):
        raise ValueError(f"method must be 'auto', 'spearman' or 'pearson', got {cont_method!r}")
    names = list(cat) + list(cont)
    m = np.eye(len(names))
    ranked = {n: stats.rankdata(v) if cont_method == 'spearman' else np.asarray(v, float) for n, v in cont.items()}
    for i, a in enumerate(names):
        for j in range(i + 1, len(names)):
            b = names[j]
            if a in cat and b in cat: v = cramers_v(cat[a], cat[b])
            elif a in cat: v = correlation_ratio(cat[a], cont[b])
            elif b in cat: v = correlation_ratio(cat[b], cont[a])
            else:
                x, y = ranked[a], ranked[b]
                v = 0.0 if np.ptp(x) == 0 or np.ptp(y) == 0 else float(abs(np.corrcoef(x, y)[0, 1]))
            m[i, j] = m[j, i] = v
    return pd.DataFrame(m, index=names, columns=names)


def association_clusters(assoc: pd.DataFrame, threshold: float, columns=None) -> list:
    """Clusters (of 2 or more columns) whose average-linkage clustering on `1 - association` joins at an
    association of at least `threshold`; `columns` restricts the clustering to those columns."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform
    names = list(assoc.index if columns is None else columns)
    if len(names) < 2: return []
    dist = 1 - assoc.loc[names, names].to_numpy()
    np.fill_diagonal(dist, 0)
    labels = fcluster(linkage(squareform(np.clip(dist, 0, 1), checks=False), method='average'),
                      t=1 - threshold + 1e-12, criterion='distance')
    clusters = [[n for n, l in zip(names, labels) if l == c] for c in dict.fromkeys(labels)]
    return [c for c in clusters if len(c) > 1]


def association_of(cat: dict, cont: dict, method: str = 'auto') -> pd.DataFrame:
    "`association_matrix` with the user-facing `method` ('auto' is |Spearman|)."
    if method not in ('auto', 'spearman', 'pearson'):
        raise ValueError(f"method must be 'auto', 'spearman' or 'pearson', got {method!r}")
    return association_matrix(cat, cont, 'spearman' if method == 'auto' else method)


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


def level_distances(codes: np.ndarray, levels, cat: dict, cont: dict) -> np.ndarray:
    """How unlike the rows of each pair of `levels` (codes of one categorical column) are on the other columns:
    summed over them, the Kolmogorov-Smirnov distance of a continuous column's values and the total variation
    distance of a categorical column's frequencies (Apley & Zhu's ordering of levels for ALE)."""
    rows = [codes == lv for lv in levels]
    k = len(levels)
    d = np.zeros((k, k))
    for values in cont.values():
        v = np.asarray(values, float)
        for a in range(k):
            for b in range(a + 1, k):
                d[a, b] += stats.ks_2samp(v[rows[a]], v[rows[b]]).statistic
    for values in cat.values():
        c = _codes(values)
        freq = np.stack([np.bincount(c[r], minlength=c.max() + 1) / max(r.sum(), 1) for r in rows])
        for a in range(k):
            for b in range(a + 1, k):
                d[a, b] += 0.5 * np.abs(freq[a] - freq[b]).sum()
    return d + d.T
