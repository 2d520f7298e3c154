"""Drawing text explanations for a reader who is not a data scientist: the text exactly as written, each unit shaded
by its contribution on one stated scale (the same for every text, in the output's own units), a header in plain
words, the strongest units listed with their values, and a legend for the colours and the underline. As HTML
(everything from the text escaped), as plain text (a terminal), or as a matplotlib figure laid out with measured
text widths."""
from __future__ import annotations

import html
import re

import numpy as np
import pandas as pd

from .labels import quantity

__all__ = ['explanation_html', 'explanation_page', 'explanation_text', 'plot_text_explanation', 'show_text_explanation',
           'is_text_explanation', 'colour_scale', 'units_by_span', 'DEFAULT_PROBABILITY_SCALE']

TOWARDS, AWAY = (214, 39, 40), (31, 119, 180)   # red: pushes towards the target; blue: away from it
DEFAULT_PROBABILITY_SCALE = 0.25   # full colour at 25 percentage points: the same for every text, so texts compare
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


def units_by_span(part: pd.DataFrame) -> pd.DataFrame:
    """A text's units in the order of the text, one per span of characters: units sharing a span (with unit='token',
    fastai's case markers and the word they mark) become one, the word as written, with their contributions summed
    (so the contributions still add up to the prediction minus the base value)."""
    part = part.sort_values('Start', kind='stable')
    if not part.duplicated(['Start', 'End']).any(): return part
    spans = part.groupby(['Start', 'End'], sort=False)
    merged = part.drop_duplicates(['Start', 'End'], keep='last').copy()   # the word: its markers come before it
    key = pd.MultiIndex.from_frame(merged[['Start', 'End']])
    merged['Contribution'] = spans['Contribution'].sum().reindex(key).to_numpy()
    if 'Std' in merged.columns:   # the spread of a sum; unknown when any part's is
        merged['Std'] = spans['Std'].apply(lambda s: float(np.sqrt((s ** 2).sum())) if s.notna().all() else np.nan).reindex(key).to_numpy()
    return merged


def _probability(expl) -> bool: return expl.attrs.get('output') == 'probability'


def colour_scale(expl, row: int, scale=None) -> tuple:
    """`(scale, description)`: the |contribution| drawn in full colour. None: 25 percentage points for probabilities
    (the same for every text), else the largest |contribution| over every row of this explanation; 'row': this
    row's largest (stated as such); a number: that."""
    if isinstance(scale, str):
        if scale != 'row': raise ValueError(f"scale must be None, 'row' or a positive number, got {scale!r}")
        value = float(units_by_span(expl[expl['row'] == row])['Contribution'].abs().max()) or 1.0   # as shaded
        return value, "scaled to this text's largest contribution"
    if scale is not None:
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale > 0:
            raise ValueError(f"scale must be None, 'row' or a positive number, got {scale!r}")
        return float(scale), 'the scale asked for'
    if _probability(expl): return DEFAULT_PROBABILITY_SCALE, 'the same scale for every text'
    largest = max(float(units_by_span(part)['Contribution'].abs().max()) for _, part in expl.groupby('row'))
    return largest or 1.0, 'the same scale for every text of this explanation'


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


def _rgba(c: float, scale: float, alpha_max: float = 1.0) -> str:
    r, g, b = TOWARDS if c >= 0 else AWAY
    return f"rgba({r},{g},{b},{_alpha(c, scale) * alpha_max:.3f})"


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


def _top(part: pd.DataFrame, k: int) -> tuple:
    "The `k` units pushing most towards the target and the `k` pushing most away (each unit once)."
    units = part[part['End'] > part['Start']]
    shown = units['Contribution'].abs() >= 5e-4 * max(float(units['Contribution'].abs().max()), 1e-12) + 5e-4
    towards = units[shown & (units['Contribution'] > 0)].nlargest(k, 'Contribution')
    away = units[shown & (units['Contribution'] < 0)].nsmallest(k, 'Contribution')
    return towards, away


def _reliance(expl, row: int):
    "The row's reliance on flagged inputs (from `explain(..., flagged=)`), or None."
    rel = expl.attrs.get('reliance')
    return None if rel is None else rel[row]


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
                 + ("; outline: 2px solid #333; outline-offset: 1px" if flagged else '')
                 + ("; color: white" if _alpha(c, full) > 0.65 else ''))
        spans.append(f'<span class="featimp-unit" style="{style}" title="{esc(tip, quote=True)}">{esc(piece)}</span>')
    parts = ['<div class="featimp-explanation" style="font-family: sans-serif; line-height: 1.7; max-width: 60em">']
    rel = _reliance(expl, row)
    if rel is not None and rel['Relies']:
        found = ', '.join(f"{esc(str(p))!s}" for p in rel['names']) or 'the flagged inputs'
        parts.append('<div class="featimp-banner" style="border: 2px solid #b00020; background: #fdecea; padding: 6px 10px; '
                     'margin-bottom: 6px"><b>Discount this prediction.</b> It rests on flagged input(s) known to be '
                     f'shortcuts: {found}. {esc(h["what"])} is {rel["Prediction"]:.2f} with them and '
                     f'{rel["Without"]:.2f} without them' + (' (the predicted class changes)' if rel['Flipped'] else '') + '.</div>')
    parts.append(f'<div class="featimp-header" style="margin-bottom: 4px"><b>{esc(h["what"])}: {h["output"]:.2f}</b> '
                 f'(with every {esc(h["unit"])} masked: {h["base"]:.2f}). Shaded: {esc(h["method"])}.</div>')
    parts.append(f'<div class="featimp-text" style="white-space: pre-wrap; border-left: 3px solid #ddd; '
                 f'padding-left: 8px">{"".join(spans)}</div>')
    towards, away = _top(part, top)
    def listed(units):
        return ', '.join(f'<span style="background-color: {_rgba(float(u["Contribution"]), full)}; padding: 0 2px">'
                         f'{esc(str(u["Variable"]))}</span> {esc(_amount(expl, float(u["Contribution"])))}'
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
                 + (' <span style="outline: 2px solid #333">Outlined</span>: a flagged input.' if 'Flagged' in part else '')
                 + '</div></div>')
    return ''.join(parts)


def explanation_page(expl, *, scale=None, top: int = 5, title: str = 'Explanations') -> str:
    "A whole HTML page with every explained text of `expl` (for a file or a browser)."
    rows = sorted(expl['row'].unique())
    body = '<hr>'.join(f'<section>{explanation_html(expl, r, scale=scale, top=top)}</section>' for r in rows)
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>'
            f'<body style="margin: 2em">{body}</body></html>\n')


def explanation_text(expl, row: int = 0, *, scale=None, top: int = 5) -> str:
    "The same explanation as plain text, for a terminal: header, banner, the text, the strongest units."
    text, part = _check(expl, row)
    h = _header(expl, row)
    lines = []
    rel = _reliance(expl, row)
    if rel is not None and rel['Relies']:
        lines.append(f"DISCOUNT THIS PREDICTION: it rests on flagged input(s) {', '.join(map(str, rel['names']))}: "
                     f"{rel['Prediction']:.2f} with them, {rel['Without']:.2f} without them.")
    lines.append(f"{h['what']}: {h['output']:.2f} (with every {h['unit']} masked: {h['base']:.2f}); {h['method']}.")
    lines.append(text)
    towards, away = _top(part, top)
    fmt = lambda units: ', '.join(f"{u['Variable']!r} {_amount(expl, float(u['Contribution']))}" for _, u in units.iterrows()) or 'none'
    lines.append(f"towards {expl.attrs['targets'][row]}: {fmt(towards)}")
    lines.append(f"away from it: {fmt(away)}")
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
    """The same view drawn with matplotlib: the text wrapped into lines with each piece placed by its measured width
    (no overlaps, no run-ins), units on shaded boxes, the header above and the strongest units and the colour
    scale below. Given `ax`, the text is wrapped to that Axes' width (and needs its height). Returns the Axes."""
    import matplotlib.pyplot as plt
    from matplotlib.font_manager import FontProperties
    from matplotlib.patches import Rectangle
    text, part = _check(expl, row)
    full, how = colour_scale(expl, row, scale)
    h = _header(expl, row)
    fig = ax.figure if ax is not None else plt.figure(figsize=(width, 2))
    if ax is not None: width = ax.get_position().width * fig.get_figwidth()   # lay out in the Axes' own points
    renderer = fig.canvas.get_renderer()
    prop = FontProperties(size=fontsize)
    points = lambda s: renderer.get_text_width_height_descent(s, prop, ismath=False)[0] * 72 / fig.dpi
    space, line_h = points('a a') - points('aa'), fontsize * 1.7
    limit = width * 72 - 8
    # lay out: runs of characters between white space (a word, or a word with its punctuation, of one or several
    # units), each piece at its measured width; wrap between runs only, break at line breaks
    tokens = []   # ('run', [(piece, unit)]), ('space', count) or ('newline',)
    for piece, u in _pieces(text, part):   # a unit of several words (a sentence) wraps like the text around it
        for k, line in enumerate(re.split(r'\r\n|\r|\n', piece)):
            if k: tokens.append(('newline',))
            for word in re.split(r'(\s+)', line):
                if word.isspace(): tokens.append(('space', sum(4 if c == '\t' else 1 for c in word)))
                elif word:
                    if tokens and tokens[-1][0] == 'run': tokens[-1][1].append((word, u))
                    else: tokens.append(('run', [(word, u)]))
    placed, x, y = [], 0.0, 0.0
    for token in tokens:
        if token[0] == 'newline': x, y = 0.0, y + line_h
        elif token[0] == 'space': x += space * token[1]
        else:
            widths = [points(w) for w, _ in token[1]]
            if x > 0 and x + sum(widths) > limit: x, y = 0.0, y + line_h
            for (w, u), advance in zip(token[1], widths):
                placed.append((x, y, advance, w, u))
                x += advance
    n_lines = int(round(y / line_h)) + 1
    title = f"{h['what']}: {h['output']:.2f} (with every {h['unit']} masked: {h['base']:.2f}). Shaded: {h['method']}."
    rel = _reliance(expl, row)
    if rel is not None and rel['Relies']:
        title = (f"DISCOUNT THIS PREDICTION: it rests on flagged input(s) {', '.join(map(str, rel['names']))} "
                 f"({rel['Prediction']:.2f} with them, {rel['Without']:.2f} without).\n" + title)
    small = FontProperties(size=fontsize * 0.85)
    header = _wrapped(title, lambda t: renderer.get_text_width_height_descent(t, small, ismath=False)[0] * 72 / fig.dpi, limit)
    head_h = (header.count('\n') + 1.8) * fontsize * 0.85 * 1.35
    body_h = (n_lines + 7.5) * line_h
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
    ax.set_title(header, loc='left', fontproperties=small, linespacing=1.35, pad=4)
    for x, y, w, s, u in placed:
        colour = None
        if u is not None:
            c = float(u['Contribution'])
            r, g, b = TOWARDS if c >= 0 else AWAY
            ax.add_patch(Rectangle((x, y - line_h * 0.42), w, line_h * 0.84, facecolor=(r / 255, g / 255, b / 255, _alpha(c, full)),
                                   edgecolor='#333' if bool(u.get('Flagged', False)) else 'none', linewidth=1.2))
            colour = 'white' if _alpha(c, full) > 0.65 else 'black'
            if bool(u.get('OOV', False)):
                ax.plot([x, x + w], [y + line_h * 0.36] * 2, linestyle=':', color='#555', linewidth=1)
        ax.text(x, y, s, fontproperties=prop, va='center', ha='left', color=colour or 'black', gid='featimp-word')
    towards, away = _top(part, top)
    fmt = lambda units: ', '.join(f"{u['Variable']} {_amount(expl, float(u['Contribution']))}" for _, u in units.iterrows()) or 'none'
    listed = _wrapped(f"Towards {expl.attrs['targets'][row]}: {fmt(towards)}\nAway from it: {fmt(away)}",
                      lambda t: renderer.get_text_width_height_descent(t, small, ismath=False)[0] * 72 / fig.dpi, limit)
    y_list = n_lines * line_h + 0.3 * line_h
    ax.text(0, y_list, listed, fontproperties=small, va='top', linespacing=1.5)
    y_bar = y_list + (listed.count('\n') + 1) * fontsize * 0.85 * 1.5 + 0.6 * line_h
    left = 0.1 * limit   # room for the left end's label
    bar = ax.inset_axes([left, y_bar, 0.25 * limit, 0.5 * line_h], transform=ax.transData)
    bar.imshow(np.linspace(-1, 1, 256)[None, :], aspect='auto', cmap=_cmap(), vmin=-1, vmax=1)
    bar.set_xticks([0, 127.5, 255], [_amount(expl, -full), '0', _amount(expl, full)], fontsize=fontsize * 0.75)
    bar.set_yticks([])
    ax.text(left + 0.27 * limit, y_bar + 0.25 * line_h, _wrapped(f"{how}; dotted underline: a word the model never saw",
            lambda t: renderer.get_text_width_height_descent(t, small, ismath=False)[0] * 72 / fig.dpi * 0.9, 0.6 * limit),
            fontsize=fontsize * 0.75, va='center')
    return ax


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
