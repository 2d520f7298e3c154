"Drawing partial dependence, ICE and ALE results (`PartialDependence.plot`)."
from __future__ import annotations

import numpy as np

__all__ = ['plot_partial_dependence']


def _ylabel(res) -> str:
    what = {'ale': 'ALE of ', 'average': 'partial dependence of ', 'individual': 'ICE of ',
            'both': 'partial dependence of '}[res.kind]
    quantity = f'P({res.target})' if res.output == 'probability' else f'raw output ({res.target})'
    return what + quantity


def plot_partial_dependence(res, ax=None, max_ice_lines:int=200):
    """Continuous: a line (PD or ALE) over thin ICE lines and a rug of the deciles; categorical: bars (ICE as
    dots); a pair: filled contours (two continuous columns) or a heatmap. Returns the Axes."""
    import matplotlib.pyplot as plt
    if ax is None: _, ax = plt.subplots(figsize=(7, 4.5))
    if len(res.features) == 2: return _plot_pair(res, ax)
    name, grid = res.features[0], res.grid_values[0]
    ice = res.individual
    if res.categorical[0]:
        x = np.arange(len(grid))
        ax.bar(x, res.average, color='#1f77b4', alpha=0.8, label='average')
        if ice is not None:
            rows = ice[:max_ice_lines]
            jitter = np.random.default_rng(0).uniform(-0.25, 0.25, rows.shape)   # same picture every time
            ax.scatter((x + jitter).ravel(), rows.ravel(), s=4, color='black', alpha=0.3, label='rows (ICE)')
        ax.set_xticks(x, [str(g) for g in grid], rotation=45, ha='right')
    else:
        if ice is not None:
            for curve in ice[:max_ice_lines]: ax.plot(grid, curve, color='#1f77b4', alpha=0.15, linewidth=0.6)
        ax.plot(grid, res.average, color='#d62728' if ice is not None else '#1f77b4', linewidth=2.5,
                label='ALE' if res.kind == 'ale' else 'average')
        if name in res.deciles:
            low = ax.get_ylim()[0]
            ax.plot(res.deciles[name], np.full(9, low), '|', color='black', markersize=12, label='deciles')
    if res.kind == 'ale': ax.axhline(0, color='grey', linewidth=0.8)
    ax.set_xlabel(name)
    ax.set_ylabel(_ylabel(res))
    if ice is not None or name in res.deciles: ax.legend(fontsize='small')
    ax.figure.tight_layout()
    return ax


def _plot_pair(res, ax):
    (f1, f2), (g1, g2) = res.features, res.grid_values
    z = res.average
    if not any(res.categorical):
        X, Y = np.meshgrid(g1, g2, indexing='ij')
        cs = ax.contourf(X, Y, z, levels=12, cmap='viridis')
        ax.set_xlabel(f1); ax.set_ylabel(f2)
    else:
        cs = ax.imshow(z.T, origin='lower', aspect='auto', cmap='viridis')
        ax.set_xticks(range(len(g1)), [_tick(v) for v in g1], rotation=45, ha='right')
        ax.set_yticks(range(len(g2)), [_tick(v) for v in g2])
        ax.set_xlabel(f1); ax.set_ylabel(f2)
    ax.figure.colorbar(cs, ax=ax, label=_ylabel(res))
    ax.figure.tight_layout()
    return ax


def _tick(v) -> str:
    return f'{v:.3g}' if isinstance(v, (float, np.floating)) else str(v)
