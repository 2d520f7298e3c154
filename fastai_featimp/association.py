"""Association between mixed categorical/continuous columns, each in [0, 1]: |Spearman| for two
continuous columns, bias-corrected Cramér's V for two categorical ones, the correlation ratio (eta) for
a categorical and a continuous one. Works on arrays of codes and values, free of fastai."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ['cramers_v', 'correlation_ratio', 'association_matrix', 'association_clusters']


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
