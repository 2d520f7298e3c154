"Drawing Shapley explanations: a waterfall for one row, bars and a beeswarm for many."
from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd

from .banner import check_clause
from .labels import quantity

__all__ = ['plot_waterfall', 'plot_explanation_summary', 'rows_table']

UP, DOWN = '#d62728', '#1f77b4'


def _check(expl):
    if not isinstance(expl, pd.DataFrame) or not {'row', 'Variable', 'Contribution'} <= set(expl.columns):
        raise TypeError("expected the DataFrame returned by learn.explain(rows)")
    if 'Value' not in expl.columns:
        raise TypeError("this is the explanation of texts: draw it with learn.plot_explanation or learn.show_explanation "
                        "(the waterfall and the summary are for tabular rows)")


def _fmt(v) -> str:
    if isinstance(v, (float, np.floating)): return f'{v:.4g}'
    return str(v)


def plot_waterfall(expl, row:int=0, top:int=12, ax=None):
    "Waterfall from the base value to the prediction for `row`: largest contributions first, the rest folded."
    import matplotlib.pyplot as plt
    _check(expl)
    rows = sorted(expl['row'].unique())
    if row not in rows: raise ValueError(f"row {row!r} is not in this explanation; it has rows {rows[:10]}")
    r = expl[expl['row'] == row].copy()
    r = r.reindex(r['Contribution'].abs().sort_values(ascending=False, kind='stable').index)
    shown, rest = r.iloc[:top], r.iloc[top:]
    labels = [f'{v} = {_fmt(x)}' for v, x in zip(shown['Variable'], shown['Value'])]
    values = list(shown['Contribution'])
    flagged = list(shown['Flagged']) if 'Flagged' in shown else [False] * len(shown)
    if len(rest):
        labels.append(f'{len(rest)} other columns'); values.append(float(rest['Contribution'].sum()))
        flagged.append(bool(rest['Flagged'].any()) if 'Flagged' in rest else False)
    labels = [f'{l} (flagged)' if f else l for l, f in zip(labels, flagged)]
    if 'base_values' not in expl.attrs:
        raise ValueError("this explanation has lost its attrs (base values and outputs), as pandas does in to_csv or a "
                         "concat of different results: draw the DataFrame returned by learn.explain")
    base, out = expl.attrs['base_values'][row], expl.attrs['outputs'][row]
    if ax is None: _, ax = plt.subplots(figsize=(8, 0.4 * len(values) + 1.6))
    # bars from the bottom (base) up to the top (prediction), the largest contribution at the top
    start, value_labels = base, []
    for y, (label, v, f) in enumerate(zip(labels[::-1], values[::-1], flagged[::-1])):
        ax.barh(y, v, left=start, color=UP if v >= 0 else DOWN, hatch='///' if f else None,
                edgecolor='black' if f else None, linewidth=1.2 if f else 0, gid='flagged' if f else None)
        value_labels.append((ax.text(max(start, start + v), y, f' {v:+.3g} ', va='center', ha='left', fontsize=8,
                                     gid='featimp-value', zorder=4), min(start, start + v)))   # right of the bar
        start += v
    ax.set_yticks(range(len(labels)), labels[::-1])
    ax.axvline(base, color='grey', linestyle=':', linewidth=1, gid='featimp-base')
    ax.axvline(out, color='black', linewidth=1, gid='featimp-prediction')
    ax.set_xlabel(f"{_quantity(expl, row)}: base {base:.3g} -> prediction {out:.3g}")
    index = expl.attrs.get('row_index')
    label = index[row] if index is not None and row < len(index) else row
    title = f'row {row}' + (f' (index {label})' if str(label) != str(row) else '')
    rel = expl.attrs.get('reliance')
    if rel is not None: title += ': ' + check_clause(expl, row)   # what the check found (explain(..., flagged=))
    # wrapped to the Axes' width: a long title is never cut when the figure is saved as it stands; never inside the
    # change it states ('0.427 -> 0.274' stays on one line)
    chars = int(ax.get_position().width * ax.figure.get_figwidth() * 72 / (0.62 * (10 if rel is None else 8.5)))
    title = title.replace(' -> ', '\u00a0->\u00a0')
    ax.set_title(textwrap.fill(title, max(chars, 30)), fontsize='medium' if rel is None else 'small')
    ax.use_sticky_edges = False   # a bar's left end is sticky: the margin would never open on the side it touches
    ax.margins(x=0.12)            # room for the base line and the value labels
    ax.figure.tight_layout()
    for _ in range(3):            # widening moves the bars under the labels: check the lines again
        _clear_of_lines(ax, value_labels, (base, out))
        if _labels_inside(ax, [t for t, _ in value_labels]): break
    return ax


def _labels_inside(ax, texts) -> bool:
    """Widen the x range until every value label lies inside the Axes (never over the column names or past the
    frame); True when nothing had to move."""
    for attempt in range(5):
        renderer = ax.figure.canvas.get_renderer()
        frame, extents = ax.get_window_extent(renderer), [t.get_window_extent(renderer) for t in texts]
        left = max([frame.x0 - e.x0 for e in extents] + [0.0])
        right = max([e.x1 - frame.x1 for e in extents] + [0.0])
        if left <= 0.5 and right <= 0.5: return attempt == 0
        lo, hi = ax.get_xlim()
        per_pixel = (hi - lo) / frame.width
        ax.set_xlim(lo - (left + 4) * per_pixel * (left > 0.5), hi + (right + 4) * per_pixel * (right > 0.5))
    return False


def _clear_of_lines(ax, value_labels, xs):
    """A value label that would cross the base or the prediction line moves to the bar's other end (and sits on white,
    above the lines, where neither side is clear)."""
    renderer = ax.figure.canvas.get_renderer()
    lines = [ax.transData.transform((x, 0))[0] for x in xs]
    crosses = lambda t: any(t.get_window_extent(renderer).x0 - 1 <= x <= t.get_window_extent(renderer).x1 + 1 for x in lines)
    for t, left_end in value_labels:
        if not crosses(t): continue
        t.set_x(left_end); t.set_ha('right')
        if crosses(t): t.set_bbox(dict(facecolor='white', edgecolor='none', pad=0.5, alpha=0.9))


def plot_explanation_summary(expl, top:int=20, figsize=None):
    "Mean |contribution| per column as bars, beside a beeswarm of every row's contribution coloured by value."
    import matplotlib.pyplot as plt
    _check(expl)
    targets = sorted({str(t) for t in expl.attrs.get('targets', [])})
    if len(targets) > 1:
        raise ValueError(f"these rows explain different outputs ({', '.join(targets)}): a summary of contributions "
                         "towards different classes mixes directions; explain them with one target, e.g. "
                         f"learn.explain(rows, target={targets[0]!r})")
    order = (expl.groupby('Variable')['Contribution'].apply(lambda c: c.abs().mean())
             .sort_values(ascending=False).head(top))
    names = list(order.index)[::-1]   # largest at the top
    fig, (ax_bar, ax_dots) = plt.subplots(1, 2, figsize=figsize or (12, 0.35 * len(names) + 1.8), sharey=True,
                                          gridspec_kw=dict(width_ratios=[1, 1.6]))
    y = np.arange(len(names))
    ax_bar.barh(y, order[names].to_numpy(), color='#7f7f7f')
    ax_bar.set_yticks(y, names)
    ax_bar.set_xlabel('mean |contribution|')
    rng = np.random.default_rng(0)   # jitter only: the same picture every time
    sc = None
    for k, name in enumerate(names):
        part = expl[expl['Variable'] == name]
        jitter = rng.uniform(-0.3, 0.3, len(part))
        colour = _value_colour(part['Value'])
        if colour is None:   # categories have no low-to-high order: grey, not a made-up scale
            ax_dots.scatter(part['Contribution'], k + jitter, color='#7f7f7f', s=8)
        else:
            sc = ax_dots.scatter(part['Contribution'], k + jitter, c=colour, cmap='coolwarm', vmin=0, vmax=1, s=8)
    ax_dots.axvline(0, color='black', linewidth=0.8)
    ax_dots.set_xlabel('contribution per row' + (f" to {_quantity(expl)}" if expl.attrs.get('targets') else ''))
    if sc is not None: fig.colorbar(sc, ax=ax_dots, fraction=0.04, label='value (low -> high; categories grey)')
    fig.tight_layout()
    return fig


def _value_colour(values: pd.Series):
    "A numeric column's values as 0..1 ranks; None for a categorical column (drawn grey)."
    num = pd.to_numeric(values, errors='coerce')
    if not len(values) or num.isna().mean() > 0.5 and values.notna().any(): return None
    if num.notna().sum() == 0: return None
    ranks = num.rank(method='average').to_numpy()
    span = np.nanmax(ranks) - np.nanmin(ranks)
    return np.nan_to_num((ranks - np.nanmin(ranks)) / span, nan=0.5) if span > 0 else np.full(len(ranks), 0.5)


def _quantity(expl, row: int = 0) -> str: return quantity(expl.attrs.get('output'), expl.attrs['targets'][row])


def rows_table(expl, top: int | None = None) -> str:
    """A table's explanation as plain text, row by row: the output and base value, what the check of flagged columns
    found, and the columns by |contribution| (the `top` ones; None: all)."""
    _check(expl)
    lines = []
    for r in sorted(expl['row'].unique()):
        part = expl[expl['row'] == r]
        part = part.reindex(part['Contribution'].abs().sort_values(ascending=False).index)
        lines.append(f"row {r}: {expl.attrs['targets'][r]} output {expl.attrs['outputs'][r]:.4f} "
                     f"(base {expl.attrs['base_values'][r]:.4f})")
        if 'reliance' in expl.attrs: lines.append('  ' + check_clause(expl, r))   # explain(flagged=): either way
        shown = [c for c in ['Variable', 'Value', 'Contribution', 'Std'] if c in part.columns]
        lines.append((part if top is None else part.head(top))[shown].to_string(
            index=False, float_format=lambda v: f'{v:.4f}'))
    return '\n'.join(lines)
