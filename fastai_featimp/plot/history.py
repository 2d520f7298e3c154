"Drawing importance while training: per epoch, and training rows against held-out rows."
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ['plot_importance_history', 'plot_train_vs_valid']


def _check(history):
    needed = {'epoch', 'split', 'Variable', 'Importance'}
    if not isinstance(history, pd.DataFrame) or not needed <= set(history.columns):
        raise TypeError("expected the history of an ImportanceCallback (cb.history)")
    if history.empty: raise ValueError("the history is empty: fit the learner with the callback first")


def plot_importance_history(history, top:int=8, ax=None):
    """Importance per epoch, one colour per column (the `top` by final held-out importance): held-out solid, training
    rows dashed, the 95% interval as a band where there are repeats. Returns the Axes."""
    import matplotlib.pyplot as plt
    _check(history)
    stage = history['stage'] if 'stage' in history else pd.Series('epoch', index=history.index)
    final, history = history[stage == 'final'], history[stage != 'final']
    last = history[(history['epoch'] == history['epoch'].max()) & (history['split'] == 'valid')]
    names = list(last.sort_values('Importance', ascending=False)['Variable'].head(top))
    if ax is None: _, ax = plt.subplots(figsize=(8, 4.5))
    colours = [c for c in plt.rcParams['axes.prop_cycle'].by_key()['color'] if not _greyish(c)]   # grey: the key's
    for k, name in enumerate(names):
        colour = colours[k % len(colours)]
        for split, style in (('valid', '-'), ('train', '--')):
            done = final[(final['Variable'] == name) & (final['split'] == split)]
            if len(done):   # the model as it stands after the fit (weights put back by another callback)
                ax.plot(done['epoch'], done['Importance'], '*' if split == 'valid' else 'x', color=colour, markersize=9)
            part = history[(history['Variable'] == name) & (history['split'] == split)].sort_values('epoch')
            if part.empty: continue
            ax.plot(part['epoch'], part['Importance'], style, color=colour, marker='o', markersize=3,
                    label=name if split == 'valid' else None)
            if 'Std' in part and part['Std'].notna().any():   # the t-interval of the mean over repeats
                n = max(int(history.attrs.get('n_repeats', 2)), 2)
                half = stats.t.ppf(0.975, n - 1) * part['Std'].to_numpy(float) / np.sqrt(n)
                ax.fill_between(part['epoch'], part['Importance'] - half, part['Importance'] + half, color=colour, alpha=0.15)
    ax.axhline(0, color='black', linewidth=0.8)
    ax.set_xlabel('epoch'); ax.set_ylabel(f"importance ({history.attrs.get('metric') or 'score'})")
    ax.set_xticks(sorted(history['epoch'].unique()))
    ax.plot([], [], '-', color='black', label='held-out rows'); ax.plot([], [], '--', color='black', label='training rows')
    if len(final): ax.plot([], [], '*', color='black', label='final model (weights put back)')
    ax.legend(fontsize='small', loc='upper left', bbox_to_anchor=(1.01, 1), borderaxespad=0)
    ax.figure.tight_layout()
    return ax


def _greyish(colour) -> bool:
    from matplotlib.colors import to_rgb
    r, g, b = to_rgb(colour)
    return max(r, g, b) - min(r, g, b) < 0.08


def plot_train_vs_valid(history, epoch:int=-1, ax=None, label_above:float=None):
    """Each column's importance on training rows against held-out rows at `epoch` (-1: the last evaluated), with the
    diagonal; columns far above it (memorised) are labelled. Returns the Axes."""
    import matplotlib.pyplot as plt
    _check(history)
    epochs = sorted(history['epoch'].unique())
    e = epochs[epoch] if epoch < 0 else epoch
    if e not in epochs: raise ValueError(f"epoch {epoch} was not evaluated; the history has epochs {epochs}")
    rows = history[history['epoch'] == e]
    if 'stage' in rows and (rows['stage'] == 'final').any(): rows = rows[rows['stage'] == 'final']   # the final model
    wide = rows.pivot(index='Variable', columns='split', values='Importance')
    if ax is None: _, ax = plt.subplots(figsize=(5.5, 5.5))
    x, y = wide['valid'].to_numpy(float), wide['train'].to_numpy(float)
    ax.scatter(x, y, color='#1f77b4')
    lo, hi = min(x.min(), y.min(), 0), max(x.max(), y.max()) * 1.05 + 1e-12
    ax.plot([lo, hi], [lo, hi], color='grey', linewidth=0.8, linestyle=':')
    threshold = label_above if label_above is not None else 0.1 * max(hi, 1e-12)
    for name, a, b in zip(wide.index, x, y):
        if b - a > threshold or b == y.max() or a == x.max(): ax.annotate(str(name), (a, b), fontsize=8, xytext=(3, 3),
                                                                         textcoords='offset points')
    ax.set_xlabel('importance on held-out rows'); ax.set_ylabel('importance on training rows')
    ax.set_title(f'epoch {e}: above the diagonal = relied on more where it was trained', fontsize='small')
    ax.figure.tight_layout()
    return ax
