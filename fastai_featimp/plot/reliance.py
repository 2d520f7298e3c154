"Drawing reliance on flagged inputs: every row's prediction against its prediction without them."
from __future__ import annotations

import numpy as np
import pandas as pd

from ..core.params import Number, checked

__all__ = ['plot_reliance']


@checked(decision=Number(none=True))
def plot_reliance(rel, ax=None, decision: float | None = None):
    """`Prediction` against `Without` for every row of `learn.reliance`: on the diagonal a row does not rest on the
    flagged inputs; rows that rely on them are drawn in red, flipped ones as crosses; the decision threshold (0.5 for
    a binary model's probability, or `decision`) is drawn on both axes. Returns the Axes."""
    import matplotlib.pyplot as plt
    if not isinstance(rel, pd.DataFrame) or not {'Prediction', 'Without', 'Relies', 'Flipped'} <= set(rel.columns):
        raise TypeError("expected the DataFrame returned by learn.reliance(data, flagged)")
    if not len(rel):
        raise ValueError("this reliance table has no rows, so there is nothing to draw: learn.reliance was given no "
                         "rows (or they were filtered away); pass the rows to check")
    if ax is None: _, ax = plt.subplots(figsize=(5.5, 5.5))
    x, y = rel['Without'].to_numpy(float), rel['Prediction'].to_numpy(float)
    relies, flipped = rel['Relies'].to_numpy(bool), rel['Flipped'].to_numpy(bool)
    kinds = [(~relies, 'o', '#7f7f7f', 'does not rely'), (relies & ~flipped, 'o', '#d62728', 'relies on them'),
             (flipped, 'x', '#d62728', 'class flips without them')]
    for rows, marker, colour, label in kinds:
        if rows.any(): ax.scatter(x[rows], y[rows], marker=marker, color=colour, s=18, label=f"{label} ({int(rows.sum())})")
    lo, hi = min(x.min(), y.min()), max(x.max(), y.max())
    probability = rel.attrs.get('output') == 'probability'
    if probability: lo, hi = min(lo, 0.0), max(hi, 1.0)
    ax.plot([lo, hi], [lo, hi], color='black', linewidth=0.8, linestyle=':', label='no change')
    threshold = rel.attrs.get('threshold')
    if threshold:   # the band inside which a row does not rely on the flagged inputs
        ax.fill_between([lo, hi], [lo - threshold, hi - threshold], [lo + threshold, hi + threshold], color='grey',
                        alpha=0.12, label=f'|change| < {threshold:g}')
    if decision is None and probability and rel['Predicted'].nunique(dropna=True) <= 2: decision = 0.5
    if decision is not None:
        ax.axhline(decision, color='#1f77b4', linewidth=0.8); ax.axvline(decision, color='#1f77b4', linewidth=0.8)
    flagged = ', '.join(map(str, rel.attrs.get('flagged', []))) or 'the flagged inputs'
    target = rel.attrs.get('target', '')
    ax.set_xlabel(f"prediction without {flagged}"); ax.set_ylabel(f"prediction ({target})" if target else 'prediction')
    summary = rel.attrs.get('summary', {})
    if summary:
        ax.set_title(f"{summary['share_relies']:.0%} of {summary['n_rows']} rows rely on {flagged}; "
                     f"{summary['share_flipped']:.0%} flip", fontsize='small')
    ax.legend(fontsize='small', loc='lower right')   # below the diagonal: rows the flagged inputs pull down, fewest
    ax.set_xlim(lo, hi); ax.set_ylim(lo, hi); ax.set_aspect('equal', adjustable='box')
    ax.figure.tight_layout()
    return ax
