"Summaries of per-repeat importances: mean, spread, a t-interval of the mean and a one-sided t-test."
from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = ['summarize_repeats', 'summarize_bootstrap', 'bootstrap_band', 'order_by_similarity', 'oriented']


def summarize_repeats(values: np.ndarray, confidence: float = 0.95) -> dict:
    """Columns `Importance, Std, CI_low, CI_high, p_value` for `values` of shape `(n_variables, n_repeats)`.

    `Std` is the sample standard deviation (ddof=1); the interval is the t-interval of the mean; `p_value`
    tests `mean > 0` one-sided. With one repeat the spread is unknown and these are NaN.
    """
    values = np.asarray(values, dtype=float)
    n = values.shape[1]
    mean = values.mean(axis=1)
    if n < 2:
        nan = np.full_like(mean, np.nan)
        return dict(Importance=mean, Std=nan, CI_low=nan, CI_high=nan, p_value=nan)
    std = values.std(axis=1, ddof=1)
    sem = std / np.sqrt(n)
    half = stats.t.ppf(0.5 + confidence / 2, df=n - 1) * sem
    with np.errstate(divide='ignore', invalid='ignore'):
        t = mean / sem
    p = stats.t.sf(t, df=n - 1)
    # No spread at all (e.g. a column the model ignores): the test is degenerate, the answer is not.
    p = np.where(sem == 0, np.where(mean > 0, 0.0, 1.0), p)
    return dict(Importance=mean, Std=std, CI_low=mean - half, CI_high=mean + half, p_value=p)


def summarize_bootstrap(full: np.ndarray, replicates: np.ndarray, confidence: float = 0.95) -> dict:
    """Columns `Importance, Std, CI_low, CI_high, p_value` from the full-sample values `full` (n_variables,) and
    bootstrap `replicates` (n_variables, B): the standard deviation and percentile interval of the replicates,
    and the one-sided bootstrap p-value of `importance > 0`, (1 + #replicates <= 0) / (B + 1). Without
    replicates the spread is unknown and these are NaN."""
    full = np.asarray(full, dtype=float)
    replicates = np.asarray(replicates, dtype=float).reshape(len(full), -1)
    if replicates.shape[1] < 2:
        nan = np.full_like(full, np.nan)
        return dict(Importance=full, Std=nan, CI_low=nan, CI_high=nan, p_value=nan)
    tail = (1 - confidence) / 2
    lo, hi = np.quantile(replicates, [tail, 1 - tail], axis=1)
    p = (1 + (replicates <= 0).sum(1)) / (replicates.shape[1] + 1)
    return dict(Importance=full, Std=replicates.std(1, ddof=1), CI_low=lo, CI_high=hi, p_value=p)


def bootstrap_band(statistic, n: int, n_bootstrap: int, rng, confidence: float = 0.95) -> tuple:
    """`(lower, upper)`: the percentile interval of `statistic(rows)` over `n_bootstrap` resamples of the `n` rows
    (rows drawn with replacement), or `(None, None)` when `n_bootstrap` is 0."""
    if not n_bootstrap: return None, None
    reps = np.stack([np.asarray(statistic(rng.integers(0, n, n)), dtype=float) for _ in range(n_bootstrap)])
    tail = (1 - confidence) / 2
    return np.quantile(reps, tail, axis=0), np.quantile(reps, 1 - tail, axis=0)


def order_by_similarity(distance: np.ndarray) -> np.ndarray:
    """An order of items from their distance matrix: the first coordinate of classical multidimensional scaling
    (as Apley & Zhu and R's iml order the levels of a categorical column for ALE); ties kept in given order."""
    d = np.asarray(distance, dtype=float)
    k = len(d)
    if k < 3: return np.arange(k)
    centre = np.eye(k) - np.ones((k, k)) / k
    values, vectors = np.linalg.eigh(-0.5 * centre @ (d ** 2) @ centre)
    coordinate = vectors[:, -1] * np.sqrt(max(values[-1], 0.0))
    if coordinate[-1] < coordinate[0]: coordinate = -coordinate   # a deterministic direction: keep the first first
    return np.argsort(coordinate, kind='stable')


def oriented(change, greater_is_better):
    """A change of a score as a drop in quality: positive when it got worse, for losses and scores alike
    (`greater_is_better`: a bool, or one per score along the last axis of `change`)."""
    return np.where(np.asarray(greater_is_better, dtype=bool), -1.0, 1.0) * np.asarray(change, dtype=float)
