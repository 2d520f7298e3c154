"Drawing partial dependence, ICE and ALE results (`PartialDependence.plot`)."
from __future__ import annotations

import numpy as np

__all__ = ['plot_partial_dependence']

VERTICAL_MAX = 12   # categorical levels drawn as vertical bars up to this many; horizontal bars beyond


def _ylabel(res) -> str:
    what = {'ale': 'ALE of ', 'average': 'partial dependence of ', 'individual': 'ICE of ',
            'both': 'partial dependence of '}[res.kind]
    return what + res.output_label()


def _legend(ax) -> None:
    "The legend outside the axes, on the right: never over the data; the ICE lines' entry drawn so it can be seen."
    legend = ax.legend(fontsize='small', loc='upper left', bbox_to_anchor=(1.01, 1), borderaxespad=0)
    for handle, text in zip(legend.legend_handles, legend.get_texts()):
        if text.get_text().startswith('one row each'): handle.set_alpha(0.6); handle.set_linewidth(1.2)


def plot_partial_dependence(res, ax=None, max_ice_lines:int=200, sort:str='vocabulary'):
    """Continuous: a line (PD or ALE) over thin ICE lines and a rug of the deciles; categorical: bars (ICE as
    dots) in the training vocabulary's order (`sort='value'`: by the average), horizontal beyond 12 levels;
    a pair: filled contours (two continuous columns) or a heatmap. Returns the Axes."""
    import matplotlib.pyplot as plt
    if sort not in ('vocabulary', 'value'): raise ValueError(f"sort must be 'vocabulary' or 'value', got {sort!r}")
    if len(res.features) == 2:
        if ax is None: _, ax = plt.subplots(figsize=(7, 4.5))
        return _plot_pair(res, ax)
    if res.categorical[0]: return _plot_levels(res, ax, max_ice_lines, sort)
    if ax is None: _, ax = plt.subplots(figsize=(7, 4.5))
    name, grid, ice = res.features[0], res.grid_values[0], res.individual
    if ice is not None:
        shown = ice[:max_ice_lines]
        for k, curve in enumerate(shown):   # one legend entry for them all
            ax.plot(grid, curve, color='#1f77b4', alpha=0.15, linewidth=0.6, gid='featimp-ice',
                    label=(f'one row each (ICE, {len(shown)} of {len(ice)})' if len(shown) < len(ice) else
                           f'one row each (ICE, {len(ice)})') if k == 0 else None)
    colour = '#d62728' if ice is not None else '#1f77b4'
    ale = res.kind == 'ale'   # its grid is the bins' edges: a dot at each, so a long segment shows as one bin
    ax.plot(grid, res.average, color=colour, linewidth=2.5, label='ALE (a dot at each bin edge)' if ale else 'average',
            gid='featimp-curve', **(dict(marker='o', markersize=3) if ale else {}))
    band = getattr(res, 'lower', None) is not None
    if band: ax.fill_between(grid, res.lower, res.upper, color=colour, alpha=0.2, label='95% bootstrap band')
    if name in res.deciles:   # where the data are: a tenth of the rows between two ticks, none beyond the last
        low = ax.get_ylim()[0]
        ax.plot(res.deciles[name], np.full(len(res.deciles[name]), low), '|', color='black', markersize=12,
                gid='featimp-deciles', label='deciles of the rows')
    if res.kind == 'ale': ax.axhline(0, color='grey', linewidth=0.8)
    ax.set_xlabel(name)
    ax.set_ylabel(_ylabel(res))
    if ice is not None or name in res.deciles or band or ale: _legend(ax)
    ax.figure.tight_layout()
    return ax


def _plot_levels(res, ax, max_ice_lines, sort):
    import matplotlib.pyplot as plt
    name, levels, ice = res.features[0], [str(g) for g in res.grid_values[0]], res.individual
    order = np.arange(len(levels)) if sort == 'vocabulary' else np.argsort(-np.asarray(res.average), kind='stable')
    horizontal = len(levels) > VERTICAL_MAX
    if ax is None:
        size = (7, max(3.0, 0.22 * len(levels) + 1.2)) if horizontal else (max(5.0, 0.5 * len(levels) + 2.5), 4.5)
        _, ax = plt.subplots(figsize=size)
    pos = np.arange(len(levels))
    values = np.asarray(res.average)[order]
    fontsize = 9 if len(levels) <= 40 else max(5, 9 - (len(levels) - 40) // 15)
    band = getattr(res, 'lower', None)
    err = None if band is None else np.abs(np.vstack([values - np.asarray(res.lower)[order],
                                                      np.asarray(res.upper)[order] - values]))
    (ax.barh if horizontal else ax.bar)(pos, values, color='#1f77b4', alpha=0.8, capsize=3,
                                        label='ALE' if res.kind == 'ale' else 'average',
                                        **({'xerr' if horizontal else 'yerr': err} if err is not None else {}))
    if ice is not None:
        rows = ice[:max_ice_lines][:, order]
        jitter = np.random.default_rng(0).uniform(-0.25, 0.25, rows.shape)   # same picture every time
        xy = ((rows.ravel(), (pos + jitter).ravel()) if horizontal else ((pos + jitter).ravel(), rows.ravel()))
        ax.scatter(*xy, s=4, color='black', alpha=0.3, label='rows (ICE)')
    labels = [levels[i] for i in order]
    if horizontal:
        ax.set_yticks(pos, labels, fontsize=fontsize)
        ax.invert_yaxis()   # the first level at the top, as in a table
        ax.set_ylabel(name); ax.set_xlabel(_ylabel(res))
    else:
        ax.set_xticks(pos, labels, rotation=45 if max(map(len, labels)) > 3 else 0, ha='right', fontsize=fontsize)
        ax.set_xlabel(name); ax.set_ylabel(_ylabel(res))
    if res.kind == 'ale': (ax.axvline if horizontal else ax.axhline)(0, color='grey', linewidth=0.8)
    if ice is not None: _legend(ax)
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
