"""Drawing text explanations for a reader who is not a data scientist: the text exactly as written, each unit shaded
by its contribution on one stated scale (one per explanation, the same for all its texts, in the output's own
units; `scale=` fixes one across explanations), a header in plain
words, the strongest units listed with their values, and a legend for the colours and the underline. As HTML
(everything from the text escaped), as plain text (a terminal), or as a matplotlib figure laid out with measured
text widths."""
from __future__ import annotations

import html
import re

import numpy as np
import pandas as pd

from .banner import banner_html, banner_sentence
from .labels import quantity
from ..core.results import units_by_span

__all__ = ['explanation_html', 'explanation_page', 'explanation_text', 'plot_text_explanation', 'show_text_explanation',
           'is_text_explanation', 'colour_scale', 'DEFAULT_PROBABILITY_SCALE']

TOWARDS, AWAY = (214, 39, 40), (31, 119, 180)   # red: pushes towards the target; blue: away from it
DEFAULT_PROBABILITY_SCALE = None   # full colour at the explanation's own largest contribution, rounded up (scale=)
METHOD_WORDS = {
    'shapley': "each word's share of the prediction (Shapley values)",
    'occlusion': "how much the prediction falls when the word alone is masked (occlusion)",
    'integrated_gradients': "each word's contribution on the way from every word masked to the text (integrated gradients)",
}


def is_text_explanation(expl) -> bool:
    return isinstance(expl, pd.DataFrame) and 'Start' in expl.columns


def _check(expl, row):
    if not isinstance(expl, pd.DataFrame) or not {'row', 'Start', 'End', 'Contribution'} <= set(expl.columns):
        if isinstance(expl, pd.DataFrame) and 'Value' in expl.columns:
            raise TypeError("this is the explanation of a tabular row: draw it with learn.plot_explanation (a "
                            "waterfall); show_explanation shows the explanation of a text")
        raise TypeError("expected the DataFrame returned by learn.explain(texts) for a text learner; for a tabular row "
                        "use learn.plot_explanation")
    if 'texts' not in expl.attrs:
        raise ValueError("this explanation has lost its attrs (the texts, base values and outputs), as pandas does in "
                         "to_csv or a concat of different results: draw the DataFrame returned by learn.explain")
    rows = sorted(expl['row'].unique())
    if row not in rows: raise ValueError(f"row {row!r} is not in this explanation; it has rows {rows[:10]}")
    return expl.attrs['texts'][row], units_by_span(expl[expl['row'] == row])


def _probability(expl) -> bool: return expl.attrs.get('output') == 'probability'


def colour_scale(expl, row: int, scale=None) -> tuple:
    """`(scale, description)`: the |contribution| drawn in full colour. None: the largest |contribution| over every
    row of this explanation rounded up to 1, 2, 2.5 or 5 times a power of ten (one scale for its texts, so they compare,
    and one on which a 4.6-point effect is visible); 'row': this row's largest; a number: that (the same number
    across explanations makes them compare). The description says which."""
    if isinstance(scale, str):
        if scale != 'row': raise ValueError(f"scale must be None, 'row' or a positive number, got {scale!r}")
        value = float(units_by_span(expl[expl['row'] == row])['Contribution'].abs().max()) or 1.0   # as shaded
        return value, "scaled to this text's largest contribution"
    if scale is not None:
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale > 0:
            raise ValueError(f"scale must be None, 'row' or a positive number, got {scale!r}")
        return float(scale), 'the scale asked for (scale=)'
    largest = max(float(units_by_span(part)['Contribution'].abs().max()) for _, part in expl.groupby('row'))
    n = expl['row'].nunique()
    whose = ": this text's largest contribution" if n == 1 else \
        f", one scale for the {n} texts of this explanation: their largest contribution"
    full = _nice(largest)
    return full, (f"full colour at {_amount(expl, full, False)}{whose} ({_amount(expl, largest, False)}) rounded up; "
                  "scale= fixes one scale across explanations")


def _nice(value: float) -> float:
    "The smallest of 1, 2, 2.5, 5 times a power of ten at or above `value` (1 for nothing to shade)."
    if not value > 0 or not np.isfinite(value): return 1.0
    power = 10.0 ** np.floor(np.log10(value))
    return float(next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= value * (1 - 1e-9)))


def _amount(expl, value: float, signed: bool = True) -> str:
    "A contribution in the output's units: percentage points of a probability, else the number."
    if _probability(expl):
        points = round(value * 100, 1) + 0.0   # + 0.0: no '-0.0'
        return f"{points:+.1f} pts" if signed else f"{abs(points):.1f} pts"
    return f"{value:+.3g}" if signed else f"{value:.3g}"


def _pieces(text: str, part: pd.DataFrame) -> list:
    """`(piece of text, unit row or None)` in order, covering the whole text exactly once: each unit's characters,
    and the text between units (spaces, line breaks, anything no unit covers) as it stands."""
    pieces, at = [], 0
    for _, u in part.iterrows():
        start, end = int(u['Start']), int(u['End'])
        if start < at or end <= start: continue   # a unit that covers no character of its own (xxbos)
        if start > at: pieces.append((text[at:start], None))
        pieces.append((text[start:end], u))
        at = end
    if at < len(text): pieces.append((text[at:], None))
    return pieces


def _alpha(c: float, scale: float) -> float: return min(1.0, abs(c) / scale)


def _rgba(c: float, scale: float) -> str:
    r, g, b = TOWARDS if c >= 0 else AWAY
    return f"rgba({r},{g},{b},{_alpha(c, scale):.3f})"


def _header(expl, row: int) -> dict:
    "The plain-words parts of a header: what is predicted, the prediction, the all-masked value, the method."
    target = expl.attrs['targets'][row]
    unit = expl.attrs.get('unit', 'word')
    what = (f"Probability of {target}, P({target})" if _probability(expl) else
            f"Logit of {target}" if expl.attrs.get('output') == 'raw' else f"Predicted {target}")
    method = METHOD_WORDS.get(expl.attrs.get('method'), str(expl.attrs.get('method', '')))
    if unit != 'word': method = method.replace('word', unit)
    return dict(what=what, output=expl.attrs['outputs'][row], base=expl.attrs['base_values'][row], unit=unit,
                method=method)


def _top(part: pd.DataFrame, k: int, unit: str = 'word') -> tuple:
    """The `k` units pushing most towards the target and the `k` pushing most away (each unit once), as listed under
    the text: words only (a comma is no word; units the user asked for, sentences or phrases, all stay), each named
    by `_label`."""
    units = part[part['End'] > part['Start']].copy()
    units['Label'] = _labels(units)
    if unit in ('word', 'token'): units = units[units['Variable'].astype(str).str.contains(r'\w', regex=True)]
    shown = units['Contribution'].abs() >= 5e-4 * max(float(units['Contribution'].abs().max()), 1e-12) + 5e-4
    towards = units[shown & (units['Contribution'] > 0)].nlargest(k, 'Contribution')
    away = units[shown & (units['Contribution'] < 0)].nsmallest(k, 'Contribution')
    return towards, away


def _labels(units: pd.DataFrame) -> list:
    """Each unit quoted, with its place among its namesakes when it repeats ('"pain" (2nd of 3)'), so a listed
    number is not read as arithmetic and two listed "pain"s can be told apart."""
    names = units['Variable'].astype(str)
    count, seen, labels = names.value_counts(), {}, []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        labels.append(f'"{name}"' + (f" ({_ordinal(seen[name])} of {count[name]})" if count[name] > 1 else ''))
    return labels


def _ordinal(k: int) -> str:
    return f"{k}{'th' if 10 <= k % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(k % 10, 'th')}"


def _listing(expl, units: pd.DataFrame) -> str:
    return ', '.join(f"{u['Label']} {_amount(expl, float(u['Contribution']))}" for _, u in units.iterrows()) or 'none'


def _check_line(expl, row: int):
    "The banner's words, or what was checked (see `plot.banner`); None without `flagged=`."
    return banner_sentence(expl, row, _header(expl, row)['what'])


def explanation_html(expl, row: int = 0, *, scale=None, top: int = 5) -> str:
    """The text of `row` with each unit shaded by its contribution, as an HTML fragment: a header in plain words, a
    banner when the prediction rests on flagged inputs, the text exactly as written, the `top` units towards and
    away from the target with their values, and a legend (colour scale with its end values, the underline)."""
    text, part = _check(expl, row)
    full, how = colour_scale(expl, row, scale)
    h = _header(expl, row)
    esc = html.escape
    spans = []
    for piece, u in _pieces(text, part):
        if u is None: spans.append(esc(piece)); continue
        c, sd = float(u['Contribution']), u.get('Std')
        oov, flagged = bool(u.get('OOV', False)), bool(u.get('Flagged', False))
        tip = _amount(expl, c) + (f" ± {_amount(expl, sd, False)}" if sd is not None and np.isfinite(sd) else '') + \
            (' (a word the model never saw)' if oov else '') + (' (flagged)' if flagged else '')
        style = (f"background-color: {_rgba(c, full)}; border-radius: 3px"
                 + ("; text-decoration: underline dotted" if oov else '')
                 + ("; box-shadow: inset 0 0 0 2px #333" if flagged else '')   # inside the box: the spaces stay
                 + ("; color: white" if _alpha(c, full) > 0.65 else ''))
        spans.append(f'<span class="featimp-unit" style="{style}" title="{esc(tip, quote=True)}">{esc(piece)}</span>')
    parts = ['<div class="featimp-explanation" style="font-family: sans-serif; line-height: 1.7; max-width: 60em">']
    parts.append(banner_html(expl, row, h['what']))
    parts.append(f'<div class="featimp-header" style="margin-bottom: 4px"><b>{esc(h["what"])}: {h["output"]:.2f}</b> '
                 f'(with every {esc(h["unit"])} masked: {h["base"]:.2f}). Shaded: {esc(h["method"])}.</div>')
    parts.append(f'<div class="featimp-text" style="white-space: pre-wrap; border-left: 3px solid #ddd; '
                 f'padding-left: 8px">{"".join(spans)}</div>')
    towards, away = _top(part, top, h['unit'])
    def listed(units):
        return ', '.join(f'<span style="background-color: {_rgba(float(u["Contribution"]), full)}; padding: 0 2px">'
                         f'{esc(u["Label"])}</span> {esc(_amount(expl, float(u["Contribution"])))}'
                         for _, u in units.iterrows()) or 'none'
    parts.append(f'<div class="featimp-top" style="margin-top: 6px"><b>Towards {esc(str(expl.attrs["targets"][row]))}:</b> '
                 f'{listed(towards)}<br><b>Away from it:</b> {listed(away)}</div>')
    unit_words = 'percentage points of the predicted probability' if _probability(expl) else 'units of the output'
    gradient = (f"linear-gradient(to right, rgb{AWAY}, rgba(255,255,255,1), rgb{TOWARDS})")
    parts.append('<div class="featimp-legend" style="margin-top: 6px; font-size: 85%; color: #444">'
                 f'<span>{esc(_amount(expl, -full))}</span> '
                 f'<span style="display: inline-block; width: 10em; height: 0.8em; vertical-align: middle; '
                 f'background: {gradient}; border: 1px solid #999"></span> <span>{esc(_amount(expl, full))}</span> '
                 f'({esc(how)}; pts = {unit_words}). Red pushes towards {esc(str(expl.attrs["targets"][row]))}, blue '
                 'away; full colour at the ends of the bar or beyond. '
                 '<span style="text-decoration: underline dotted">Dotted underline</span>: a word the model never saw in '
                 'training (it reads it as unknown).'
                 + (' <span style="box-shadow: inset 0 0 0 2px #333; padding: 0 2px">Outlined</span>: a flagged input.' if 'Flagged' in part else '')
                 + '</div></div>')
    return ''.join(parts)


def explanation_page(expl, *, scale=None, top: int = 5, title: str = 'Explanations') -> str:
    "A whole HTML page with every explained text of `expl` (for a file or a browser)."
    rows = sorted(expl['row'].unique())
    body = '<hr>'.join(f'<section><h3 class="featimp-row" style="font-family: sans-serif; margin: 0.4em 0">'
                       f'{html.escape(_row_label(expl, r))}</h3>{explanation_html(expl, r, scale=scale, top=top)}</section>'
                       for r in rows)
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>'
            f'<body style="margin: 2em">{body}</body></html>\n')


def _row_label(expl, row: int) -> str:
    "'Row 0', with the index of the row in the caller's data where it differs ('Row 0 (index 17)')."
    index = expl.attrs.get('row_index')
    label = index[row] if index is not None and row < len(index) else row
    return f"Row {row}" + (f" (index {label})" if str(label) != str(row) else '')


def explanation_table(expl, top: int | None = 5) -> str:
    """Every explained text as a table a reader can scan (the command line's `explain`): a line per text (its
    prediction and, with `flagged=`, what the check found), then its `top` units each way by contribution (None:
    every unit, in the text's order), each with its characters' offsets in the text."""
    blocks = []
    for row in sorted(expl['row'].unique()):
        _, part = _check(expl, row)
        h = _header(expl, row)
        lines = [f"{_row_label(expl, row)}: {h['what']} {h['output']:.4f} (with every {h['unit']} masked: {h['base']:.4f})"]
        check = _check_line(expl, row)
        if check is not None: lines.append('  ' + check[1])
        units = part[part['End'] > part['Start']].copy()
        units['Unit'] = _labels(units)
        if top is not None:
            towards, away = _top(part, top, h['unit'])
            units = units.loc[list(towards.index) + list(away.index)]
        table = units.assign(Chars=[f"{a}-{b}" for a, b in zip(units['Start'], units['End'])],
                             Contribution=[_amount(expl, c) for c in units['Contribution']])
        shown = ['Unit', 'Chars', 'Contribution'] + [c for c in ('OOV', 'Flagged') if c in table.columns]
        lines.append(table[shown].to_string(index=False) if len(table) else '  (no unit moves the prediction)')
        if top is not None: lines.append(f"  ({top} strongest each way of {len(part)} units; --all lists every unit)")
        blocks.append('\n'.join(lines))
    return '\n\n'.join(blocks)


def explanation_text(expl, row: int = 0, *, scale=None, top: int = 5) -> str:
    "The same explanation as plain text, for a terminal: header, banner, the text, the strongest units."
    text, part = _check(expl, row)
    h = _header(expl, row)
    lines = []
    check = _check_line(expl, row)
    if check is not None:
        lines.append(check[1].replace('Discount this prediction.', 'DISCOUNT THIS PREDICTION.', 1))
    lines.append(f"{h['what']}: {h['output']:.2f} (with every {h['unit']} masked: {h['base']:.2f}); {h['method']}.")
    lines.append(text)
    towards, away = _top(part, top, h['unit'])
    lines.append(f"towards {expl.attrs['targets'][row]}: {_listing(expl, towards)}")
    lines.append(f"away from it: {_listing(expl, away)}")
    return '\n'.join(lines)


def show_text_explanation(expl, row: int = 0, **kwargs) -> None:
    "Display the explanation: HTML in Jupyter (whether or not it is the cell's last line), plain text elsewhere."
    fragment = explanation_html(expl, row, **kwargs)   # checks the input on every door
    try:
        from IPython import get_ipython
        shell = get_ipython()
    except ImportError: shell = None
    if shell is not None and getattr(shell, 'kernel', None) is not None:
        from IPython.display import HTML, display
        display(HTML(fragment))
    else:
        print(explanation_text(expl, row, **{k: v for k, v in kwargs.items() if k in ('scale', 'top')}))


def plot_text_explanation(expl, row: int = 0, ax=None, width: float = 9.0, fontsize: float = 10, scale=None,
                          top: int = 5):
    """The same view drawn with matplotlib: the text wrapped into lines, units on shaded boxes, the header above and
    the strongest units and the colour scale below. Each piece of a line is placed at draw time right after the one
    before it, as the renderer of that drawing measures it (an annotation anchored to its neighbour), so words never
    run together or apart at any dpi, in any Axes; line breaks are chosen with the font's own (dpi-free) widths and
    room to spare. Given `ax`, the text is wrapped to that Axes' width (and needs its height). Returns the Axes."""
    import matplotlib.pyplot as plt
    from matplotlib.font_manager import FontProperties
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.textpath import TextToPath
    text, part = _check(expl, row)
    full, how = colour_scale(expl, row, scale)
    h = _header(expl, row)
    fig = ax.figure if ax is not None else plt.figure(figsize=(width, 2))
    if ax is not None: width = ax.get_position().width * fig.get_figwidth()   # lay out in the Axes' own points
    prop, small = FontProperties(size=fontsize), FontProperties(size=fontsize * 0.85)
    paths, renderers = TextToPath(), [RendererAgg(1, 1, dpi) for dpi in (72, 100, 150, 200)]
    def points(s, p=prop):   # the widest of the font's own width and as drawn at common dpi (hinting widens glyphs)
        return max([paths.get_text_width_height_descent(s, p, ismath=False)[0]] +
                   [r.get_text_width_height_descent(s, p, ismath=False)[0] * 72 / r.dpi for r in renderers])
    space, line_h = paths.get_text_width_height_descent(' ', prop, ismath=False)[0], fontsize * 1.7
    limit = width * 72 - 8
    wrap_at = limit / 1.02   # line breaks only: the pieces of a line are placed as drawn
    placed, n_lines = _lay_out(_pieces(text, part), points, space, wrap_at)
    title = f"{h['what']}: {h['output']:.2f} (with every {h['unit']} masked: {h['base']:.2f}). Shaded: {h['method']}."
    check = _check_line(expl, row)
    if check is not None:
        title = (check[1].replace('Discount this prediction.', 'DISCOUNT THIS PREDICTION.', 1) if check[0] else check[1]) + '\n' + title
    header = _wrapped(title, lambda t: points(t, small), wrap_at)
    head_h = (header.count('\n') + 1.8) * fontsize * 0.85 * 1.35
    towards, away = _top(part, top, h['unit'])
    listed = _wrapped(f"Towards {expl.attrs['targets'][row]}: {_listing(expl, towards)}\nAway from it: {_listing(expl, away)}",
                      lambda t: points(t, small), wrap_at)
    n_listed = listed.count('\n') + 1
    body_h = (n_lines + 3.8) * line_h + n_listed * fontsize * 0.85 * 1.5
    if ax is None:
        fig.set_size_inches(width, (head_h + body_h) / 72)
        ax = fig.add_axes([0, 0, 1, body_h / (head_h + body_h)])   # the header above, as the title: 1 unit = 1 point
    else:
        height = ax.get_position().height * fig.get_figheight() * 72
        if height < 0.95 * body_h:
            import warnings
            warnings.warn(f"the Axes is {height:.0f} pt high and this text needs {body_h:.0f} pt (plus {head_h:.0f} pt "
                          "of header above): its lines will overlap; make the figure taller, or leave ax=None for a "
                          "figure of the right size", stacklevel=3)
    ax.set_axis_off()
    ax.set_xlim(-4, width * 72 - 4); ax.set_ylim(body_h - line_h, -line_h)
    # the header starts where the text does (data x 0), never on the figure's edge
    ax.set_title(header, loc='left', fontproperties=small, linespacing=1.35, pad=4, x=4 / (width * 72), gid='featimp-header')
    before = None
    for n, gap, first, s, u in placed:
        style = dict(fontproperties=prop, va='center', ha='left', color='black', gid='featimp-word', annotation_clip=False)
        if u is not None:
            c = float(u['Contribution'])
            r, g, b = TOWARDS if c >= 0 else AWAY
            flagged = bool(u.get('Flagged', False))
            # the box is the word's own drawn extent (no padding): neighbours' boxes and outlines keep the space
            style['bbox'] = dict(boxstyle='square,pad=0', facecolor=(r / 255, g / 255, b / 255, _alpha(c, full)),
                                 edgecolor='#333' if flagged else 'none', linewidth=1.2 if flagged else 0)
            style['color'] = 'white' if _alpha(c, full) > 0.65 else 'black'
        if first: piece = ax.annotate(s, xy=(gap, n * line_h), xycoords='data', **style)
        else: piece = ax.annotate(s, xy=(1, 0.5), xycoords=before, xytext=(gap, 0), textcoords='offset points', **style)
        if u is not None and bool(u.get('OOV', False)):   # a dotted underline, the word's width wherever it is drawn
            ax.annotate('', xy=(1, -0.08), xycoords=piece, xytext=(0, -0.08), textcoords=piece, annotation_clip=False,
                        arrowprops=dict(arrowstyle='-', linestyle=':', color='#555', linewidth=1, shrinkA=0, shrinkB=0),
                        gid='featimp-oov')
        before = piece
    y_list = n_lines * line_h + 0.3 * line_h
    ax.text(0, y_list, listed, fontproperties=small, va='top', linespacing=1.5, gid='featimp-listed')
    y_bar = y_list + n_listed * fontsize * 0.85 * 1.5 + 0.6 * line_h
    left = 0.1 * limit   # room for the left end's label
    bar = ax.inset_axes([left, y_bar, 0.25 * limit, 0.5 * line_h], transform=ax.transData)
    bar.imshow(np.linspace(-1, 1, 256)[None, :], aspect='auto', cmap=_cmap(), vmin=-1, vmax=1)
    bar.set_xticks([0, 127.5, 255], [_amount(expl, -full), '0', _amount(expl, full)], fontsize=fontsize * 0.75)
    bar.set_yticks([])
    legend = how + '; dotted underline: a word the model never saw' + ('; outlined: a flagged input' if 'Flagged' in part else '')
    ends = points(_amount(expl, full), FontProperties(size=fontsize * 0.75)) / 2 + 8   # past the bar's end label
    ax.text(left + 0.25 * limit + ends, y_bar + 0.25 * line_h,
            _wrapped(legend, lambda t: points(t, FontProperties(size=fontsize * 0.75)), wrap_at - 0.35 * limit - ends),
            fontsize=fontsize * 0.75, va='center', gid='featimp-legend')
    return ax


def _lay_out(pieces: list, points, space: float, wrap_at: float) -> tuple:
    """`(placed, n_lines)`: the text's pieces on lines of at most `wrap_at` points (`points(s)`: a string's width,
    `space`: a space's). Runs of characters between white space (a word, or a word with its punctuation, of one or
    several units) wrap between runs only; line breaks break. Each placed piece: (line, white space before it in
    points, first on its line, piece, unit)."""
    tokens = []   # ('run', [(piece, unit)]), ('space', count) or ('newline',)
    for piece, u in pieces:   # a unit of several words (a sentence) wraps like the text around it
        for k, line in enumerate(re.split(r'\r\n|\r|\n', piece)):
            if k: tokens.append(('newline',))
            for word in re.split(r'(\s+)', line):
                if word.isspace(): tokens.append(('space', sum(4 if c == '\t' else 1 for c in word)))
                elif word:
                    if tokens and tokens[-1][0] == 'run': tokens[-1][1].append((word, u))
                    else: tokens.append(('run', [(word, u)]))
    placed, x, n_line, gap = [], 0.0, 0, 0.0
    for token in tokens:
        if token[0] == 'newline': x, n_line, gap = 0.0, n_line + 1, 0.0
        elif token[0] == 'space': x, gap = x + space * token[1], gap + space * token[1]
        else:
            run = sum(points(w) for w, _ in token[1])
            if x > gap and x + run > wrap_at: x, n_line, gap = 0.0, n_line + 1, 0.0   # a space that wraps is not drawn
            first = not placed or placed[-1][0] != n_line
            for j, (w, u) in enumerate(token[1]):
                placed.append((n_line, (x if first else gap) if j == 0 else 0.0, first and j == 0, w, u))
            x, gap = x + run, 0.0
    return placed, n_line + 1


def _wrapped(text: str, measure, limit: float) -> str:
    "`text` broken into lines of at most `limit` points wide (as `measure` measures them), at spaces."
    lines = []
    for paragraph in text.split('\n'):
        line = ''
        for word in paragraph.split(' '):
            candidate = f"{line} {word}" if line else word
            if line and measure(candidate) > limit: lines.append(line); line = word
            else: line = candidate
        lines.append(line)
    return '\n'.join(lines)


def _cmap():
    from matplotlib.colors import LinearSegmentedColormap
    return LinearSegmentedColormap.from_list('featimp', [tuple(c / 255 for c in AWAY), (1, 1, 1), tuple(c / 255 for c in TOWARDS)])
