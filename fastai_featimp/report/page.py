"""The report's HTML: sections of facts, tables and figures on one self-contained page (figures are data URIs, the
style is inline, nothing is fetched and no script runs), readable on screen and on paper."""
from __future__ import annotations

import base64
import html
import io
import math
from dataclasses import dataclass, field
from numbers import Integral, Real

import numpy as np
import pandas as pd

__all__ = ['Section', 'figure', 'table', 'facts', 'paragraph', 'code', 'number', 'page']

# An SVG over this size (a scatter of thousands of points) goes in as a PNG instead: the page stays small.
SVG_LIMIT = 300_000

STYLE = """
body { font: 15px/1.45 -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; color: #1d1d1f; max-width: 1040px;
       margin: 0 auto; padding: 1.5em 2em 4em; }
h1 { font-size: 1.7em; margin-bottom: .2em; } h2 { font-size: 1.3em; margin: 1.8em 0 .3em; border-bottom: 1px solid #ddd; }
h3 { font-size: 1.05em; margin: 1.2em 0 .3em; }
.subtitle { color: #555; margin-top: 0; } .how { color: #444; font-style: italic; margin: .2em 0 .8em; }
.call { font: 12px/1.4 Menlo, Consolas, monospace; color: #555; background: #f6f6f6; padding: .35em .6em;
        border-radius: 4px; overflow-wrap: anywhere; margin: .3em 0; }
table { border-collapse: collapse; margin: .5em 0 1em; font-size: 13px; }
th, td { padding: .25em .7em; border-bottom: 1px solid #e4e4e4; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.facts th { background: none; font-weight: 600; width: 15em; }
img.figure { max-width: 100%; height: auto; display: block; margin: .4em 0 1em; }
.figures { display: flex; flex-wrap: wrap; gap: 1em; } .figures img.figure { max-width: 49%; }
.example { border: 1px solid #e4e4e4; border-radius: 6px; padding: .6em 1em; margin: .8em 0; }
.note { background: #fff8e1; border-left: 4px solid #f0b400; padding: .5em .8em; margin: .6em 0; }
.verdict { font-weight: 600; } nav ol { columns: 2; } nav a { color: #1a5fb4; }
@media print { body { max-width: none; padding: 0; font-size: 12px; } section, .example, img.figure, table
               { break-inside: avoid; } h2 { break-after: avoid; } nav { display: none; } }
"""


@dataclass
class Section:
    "One part of the report: a title, one sentence on how to read it, and its HTML pieces."
    key: str                                   # the section's id (an anchor; tests find sections by it)
    title: str
    how: str                                   # how to read it, in one sentence
    parts: list = field(default_factory=list)  # HTML fragments, in order

    def add(self, *fragments: str) -> 'Section':
        self.parts += [f for f in fragments if f]
        return self

    def html(self) -> str:
        return (f'<section id="{self.key}"><h2>{html.escape(self.title)}</h2>'
                f'<p class="how">{html.escape(self.how)}</p>{"".join(self.parts)}</section>')


def number(v) -> str:
    "A number as the page prints it: 4 significant digits, integers whole."
    if v is None: return ''
    if isinstance(v, Integral): return f'{int(v):,}'
    v = float(v)
    if math.isnan(v): return '-'
    return f'{v:.4g}'


def _cell(v) -> str:
    "A table cell; numbers keep their exact value in `data-value` (what the page rounds, checkable)."
    if isinstance(v, (list, tuple)): return f'<td>{html.escape(", ".join(map(str, v)))}</td>'
    if v is None or isinstance(v, (bool, np.bool_, str)) or not isinstance(v, Real):
        return f'<td>{html.escape("" if v is None else str(v))}</td>'
    shown = number(int(v)) if isinstance(v, Integral) else number(float(v))
    return f'<td class="num" data-value="{float(v)!r}">{shown}</td>'


def table(frame: pd.DataFrame, key: str, columns=None) -> str:
    "A DataFrame's `columns` as an HTML table (class `key`)."
    frame = frame[columns] if columns is not None else frame
    head = ''.join(f'<th>{html.escape(str(c))}</th>' for c in frame.columns)
    body = ''.join('<tr>' + ''.join(_cell(v) for v in row) + '</tr>' for row in frame.itertuples(index=False))
    return f'<table class="{key}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def facts(pairs: list, key: str = 'facts') -> str:
    "Label / value rows (values are HTML-escaped; numbers formatted and kept exactly in `data-value`)."
    rows = ''.join(f'<tr data-key="{html.escape(k)}"><th>{html.escape(label)}</th>{_cell(v)}</tr>'
                   for k, label, v in pairs)
    return f'<table class="facts {key}">{rows}</table>'


def paragraph(text: str, cls: str = '') -> str:
    return f'<p{f" class={chr(34)}{cls}{chr(34)}" if cls else ""}>{html.escape(text)}</p>'


def code(text: str) -> str: return f'<div class="call">{html.escape(text)}</div>'


def figure(fig_or_ax, alt: str) -> str:
    "A matplotlib figure as an <img> with a data URI (SVG, or PNG when the SVG would be large); the figure is closed."
    import matplotlib
    import matplotlib.pyplot as plt
    fig = getattr(fig_or_ax, 'figure', fig_or_ax)
    try:
        buf = io.BytesIO()
        # text stays text (small, sharp on paper); a fixed salt makes the same figure the same bytes
        with matplotlib.rc_context({'svg.fonttype': 'none', 'svg.hashsalt': 'fastai_featimp'}):
            fig.savefig(buf, format='svg', bbox_inches='tight', metadata={'Date': None})
        data, mime = buf.getvalue(), 'image/svg+xml'
        if len(data) > SVG_LIMIT:
            buf = io.BytesIO()
            fig.savefig(buf, format='png', dpi=110, bbox_inches='tight', metadata={'Software': None})
            data, mime = buf.getvalue(), 'image/png'
    finally: plt.close(fig)
    return (f'<img class="figure" alt="{html.escape(alt)}" '
            f'src="data:{mime};base64,{base64.b64encode(data).decode("ascii")}">')


def page(title: str, subtitle: str, sections: list) -> str:
    "The whole document: title, contents, the sections."
    nav = ''.join(f'<li><a href="#{s.key}">{html.escape(s.title)}</a></li>' for s in sections)
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>'
            f'<h1>{html.escape(title)}</h1><p class="subtitle">{html.escape(subtitle)}</p>'
            f'<nav><ol>{nav}</ol></nav>{"".join(s.html() for s in sections)}</body></html>\n')
