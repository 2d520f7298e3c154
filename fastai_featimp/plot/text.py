"""Drawing text explanations: the original text with each unit shaded by its contribution, as HTML (everything
from the text escaped) or as a static matplotlib figure."""
from __future__ import annotations

import html

import numpy as np
import pandas as pd

from .labels import quantity

__all__ = ['explanation_html', 'plot_text_explanation']

TOWARDS, AWAY = (214, 39, 40), (31, 119, 180)   # red: pushes towards the target; blue: away from it


def _check(expl, row):
    if not isinstance(expl, pd.DataFrame) or not {'row', 'Start', 'End', 'Contribution'} <= set(expl.columns):
        raise TypeError("expected the DataFrame returned by learn.explain(texts) for a text learner")
    if 'texts' not in expl.attrs:
        raise ValueError("this explanation has lost its attrs (the texts, base values and outputs), as pandas does in "
                         "to_csv or a concat of different results: draw the DataFrame returned by learn.explain")
    rows = sorted(expl['row'].unique())
    if row not in rows: raise ValueError(f"row {row!r} is not in this explanation; it has rows {rows[:10]}")
    part = expl[expl['row'] == row].sort_values('Start', kind='stable')
    return expl.attrs['texts'][row], part


def _pieces(text: str, part: pd.DataFrame) -> list:
    "`(piece of text, contribution or None, std, oov)` in order, covering the whole text once."
    pieces, at = [], 0
    for _, u in part.iterrows():
        start, end = int(u['Start']), int(u['End'])
        if start < at: continue   # an overlapping unit (two token units of one word): shade the first only
        if start > at: pieces.append((text[at:start], None, None, False))
        pieces.append((text[start:end], float(u['Contribution']), u.get('Std'), bool(u.get('OOV', False))))
        at = end
    if at < len(text): pieces.append((text[at:], None, None, False))
    return pieces


def _quantity(expl, row) -> str: return quantity(expl.attrs.get('output'), expl.attrs['targets'][row])


def explanation_html(expl, row: int = 0) -> str:
    "The text of `row` with each unit shaded by its contribution (value in a tooltip), under a header; escaped."
    text, part = _check(expl, row)
    scale = float(part['Contribution'].abs().max()) or 1.0
    spans = []
    for piece, c, sd, oov in _pieces(text, part):
        if c is None: spans.append(html.escape(piece)); continue
        r, g, b = TOWARDS if c >= 0 else AWAY
        tip = f"{c:+.4f}" + (f" ± {sd:.4f}" if sd is not None and np.isfinite(sd) else '') + (' (unknown to the model)' if oov else '')
        spans.append(f'<span style="background-color: rgba({r},{g},{b},{min(1.0, abs(c) / scale):.3f});'
                     f'{" text-decoration: underline dotted;" if oov else ""} border-radius: 3px; padding: 0 1px" '
                     f'title="{html.escape(tip, quote=True)}">{html.escape(piece)}</span>')
    base, out = expl.attrs['base_values'][row], expl.attrs['outputs'][row]
    what = html.escape(_quantity(expl, row))
    header = (f'<div style="margin-bottom: 4px"><b>{what} = {out:.3f}</b> (with every {html.escape(str(expl.attrs.get("unit", "unit")))} '
              f'masked: {base:.3f}; {html.escape(str(expl.attrs.get("method", "")))}). '
              f'<span style="background-color: rgba({",".join(map(str, TOWARDS))},0.6)">&nbsp;towards&nbsp;</span> '
              f'<span style="background-color: rgba({",".join(map(str, AWAY))},0.6)">&nbsp;away&nbsp;</span></div>')
    return (f'<div style="font-family: sans-serif; line-height: 1.7">{header}'
            f'<div style="white-space: pre-wrap">{"".join(spans)}</div></div>')


def plot_text_explanation(expl, row: int = 0, ax=None, width: float = 9.0, fontsize: int = 10):
    "The same as `explanation_html`, drawn with matplotlib: the text wrapped into lines, units in shaded boxes."
    import matplotlib.pyplot as plt
    text, part = _check(expl, row)
    scale = float(part['Contribution'].abs().max()) or 1.0
    words = []
    for piece, c, _, _ in _pieces(text, part):   # split into words for wrapping; a unit's words share its shade
        for w in piece.split():
            words.append((w, c))
    per_line = max(1, int(width * 72 / (fontsize * 0.62)))   # characters per line, roughly
    lines, line, length = [], [], 0
    for w, c in words:
        if line and length + len(w) + 1 > per_line: lines.append(line); line, length = [], 0
        line.append((w, c)); length += len(w) + 1
    if line: lines.append(line)
    if ax is None: _, ax = plt.subplots(figsize=(width, 0.32 * len(lines) + 0.9))
    ax.set_axis_off()
    ax.set_xlim(0, per_line); ax.set_ylim(len(lines) + 0.5, -0.8)
    for y, line in enumerate(lines):
        x = 0
        for w, c in line:
            box = None
            if c is not None:
                r, g, b = TOWARDS if c >= 0 else AWAY
                box = dict(facecolor=(r / 255, g / 255, b / 255, min(1.0, abs(c) / scale)), edgecolor='none', pad=1.5)
            ax.text(x, y, w, fontsize=fontsize, va='center', ha='left', bbox=box, family='monospace')
            x += len(w) + 1
    base, out = expl.attrs['base_values'][row], expl.attrs['outputs'][row]
    ax.set_title(f"{_quantity(expl, row)} = {out:.3f} (all masked: {base:.3f}); red: towards, blue: away",
                 fontsize='small', loc='left')
    return ax
