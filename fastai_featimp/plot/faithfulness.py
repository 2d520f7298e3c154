"Drawing faithfulness: deletion and insertion curves of an explanation against random orders and the reverse."
from __future__ import annotations

import numpy as np
import pandas as pd

from ..core.params import Flag, checked

__all__ = ['plot_deletion_curves']


def _on_grid(curve: np.ndarray, grid: np.ndarray) -> np.ndarray:
    "A curve over 0..m units, read on a grid of fractions of the units (rows of different lengths then average)."
    x = np.linspace(0, 1, curve.shape[-1])
    return np.interp(grid, x, curve) if curve.ndim == 1 else np.stack([np.interp(grid, x, c) for c in curve])


@checked(insertion=Flag())
def plot_deletion_curves(ev, row='all', ax=None, insertion: bool = False):
    """The output as units are removed in the explanation's order (deletion, solid) and added back in it (insertion,
    dashed, with `insertion=True`), with the band of the random orders (mean ± one standard deviation) and the reverse order, over the
    fraction of units; `row='all'` averages the explained rows. Returns the Axes."""
    import matplotlib.pyplot as plt
    if not isinstance(ev, pd.DataFrame) or 'curves' not in ev.attrs:
        raise TypeError("expected the DataFrame returned by learn.evaluate_explanation (with its attrs)")
    curves = ev.attrs['curves']
    rows = list(curves) if row == 'all' else [row]
    if any(r not in curves for r in rows): raise ValueError(f"row {row!r} is not in this evaluation; it has rows {list(curves)}")
    grid = np.linspace(0, 1, 41)
    mean = lambda key: np.mean([_on_grid(curves[r][key], grid) for r in rows], axis=0)
    if ax is None: _, ax = plt.subplots(figsize=(7, 4.2))
    for kind, style in (('deletion', '-'),) + ((('insertion', '--'),) if insertion else ()):
        rand = np.mean([_on_grid(curves[r][f'random_{kind}'], grid) for r in rows], axis=0)   # (n_random, grid)
        lo, hi = rand.mean(0) - rand.std(0), rand.mean(0) + rand.std(0)
        if ev.attrs.get('output') == 'probability': lo, hi = np.clip(lo, 0, 1), np.clip(hi, 0, 1)   # no P below 0
        ax.fill_between(grid, lo, hi, gid=f'featimp-random-{kind}', color='grey', alpha=0.2, label=f'random orders ({kind}), ±1 sd')
        ax.plot(grid, rand.mean(0), style, color='grey', linewidth=1, label=f'random orders ({kind}), mean')
        ax.plot(grid, mean(f'reverse_{kind}'), style, color='#1f77b4', linewidth=1, label=f'reverse order ({kind})')
        ax.plot(grid, mean(kind), style, color='#d62728', linewidth=2, label=f'explanation order ({kind})')
    units = f"{ev.attrs.get('unit') or 'unit'}s"   # the axis names only what is drawn
    ax.set_xlabel(f"fraction of the {units} removed (deletion) or put back (insertion)" if insertion else
                  f"fraction of the {units} removed, in each order")
    target = ev.attrs.get('targets', [''])[0]
    ax.set_ylabel(f"P({target})" if ev.attrs.get('output') == 'probability' else 'output')
    scores = []   # the AOPC of every kind drawn, over the rows drawn
    for kind in ('deletion',) + (('insertion',) if insertion else ()):
        o = ev[(ev['row'].astype(str) == str(row)) & (ev['Metric'] == f'{kind}_aopc')]
        if len(o): scores.append(f"{kind} AOPC {o.iloc[0]['Explanation']:.3f} vs random {o.iloc[0]['Random']:.3f} "
                                 f"(reverse {o.iloc[0]['Reverse']:.3f})")
    if scores:
        ax.set_title(f"{ev.attrs.get('method', '')}" + ('' if row == 'all' else f' (row {row})') + ': ' +
                     '\n'.join(scores), fontsize='small')
    ax.legend(fontsize='x-small', loc='upper left', bbox_to_anchor=(1.01, 1), borderaxespad=0)
    ax.figure.tight_layout()
    return ax
