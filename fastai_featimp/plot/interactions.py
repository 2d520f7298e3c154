"Drawing interactions: the strongest pairs (or columns) by H, and one row's matrix of Shapley interaction values."
from __future__ import annotations

import numpy as np
import pandas as pd

from .labels import text_colour_on

__all__ = ['plot_interactions']


def plot_interactions(result, top:int=10, ax=None, row:int=0):
    """Bars of the `top` pairs (or columns) by H for `interaction_strength`; a heatmap of row `row`'s interaction
    matrix for `explain_interactions` (main effects on the diagonal). Returns the Axes."""
    import matplotlib.pyplot as plt
    if not isinstance(result, pd.DataFrame):
        raise TypeError("expected the DataFrame of learn.interaction_strength or learn.explain_interactions")
    if 'Interaction' in result.columns: return _matrix(result, row, ax)
    if 'H' not in result.columns:
        raise TypeError("expected the DataFrame of learn.interaction_strength or learn.explain_interactions")
    shown = result.sort_values('H', ascending=False, kind='stable').head(top)[::-1]
    labels = (shown['Variable_1'] + ' × ' + shown['Variable_2']) if 'Variable_1' in shown else shown['Variable']
    if ax is None: _, ax = plt.subplots(figsize=(7, 0.35 * len(shown) + 1.4))
    y = np.arange(len(shown))
    ax.barh(y, shown['H'], color='#9467bd')
    ax.set_yticks(y, labels.astype(str))
    ax.set_xlim(0, max(1e-9, float(shown['H'].max())) * 1.1)
    what = 'pairs' if 'Variable_1' in shown else 'columns with all the others'
    ax.set_xlabel(f"Friedman's H ({what}; 0 = no interaction)")
    ax.figure.tight_layout()
    return ax


def _matrix(result, row, ax):
    import matplotlib.pyplot as plt
    rows = sorted(result['row'].unique())
    if row not in rows: raise ValueError(f"row {row!r} is not in this result; it has rows {rows[:10]}")
    part = result[result['row'] == row]
    names = list(dict.fromkeys(part['Variable_1']))
    matrix = part.pivot(index='Variable_1', columns='Variable_2', values='Interaction').loc[names, names].to_numpy()
    if ax is None: _, ax = plt.subplots(figsize=(0.5 * len(names) + 3, 0.5 * len(names) + 2.4))
    scale = float(np.abs(matrix).max()) or 1.0
    im = ax.imshow(matrix, cmap='RdBu_r', vmin=-scale, vmax=scale)
    ax.set_xticks(range(len(names)), names, rotation=90); ax.set_yticks(range(len(names)), names)
    if len(names) <= 12:
        for i in range(len(names)):
            for j in range(len(names)):
                ax.text(j, i, f'{matrix[i, j]:.2g}', ha='center', va='center', fontsize=7,
                        color=text_colour_on(im.cmap(im.norm(matrix[i, j]))))
    targets = result.attrs.get('targets')
    ax.set_title(f"row {row}: interaction values" + (f" ({targets[row]})" if targets else '') + "; main effects on the diagonal",
                 fontsize='small')
    ax.figure.colorbar(im, ax=ax, fraction=0.04)
    ax.figure.tight_layout()
    return ax
