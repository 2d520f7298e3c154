"""What the check of a row's flagged inputs found (`explain(..., flagged=)`), in words, for every kind's pictures: a
banner when the prediction rests on them ('Discount this prediction. ...'), a line saying what was checked when it
does not, and the same as a clause for a title or a console line."""
from __future__ import annotations

import html

__all__ = ['reliance_of', 'banner_sentence', 'banner_html', 'check_clause', 'names_and']


def reliance_of(expl, row: int):
    "The row's reliance on flagged inputs (from `explain(..., flagged=)`), or None."
    rel = expl.attrs.get('reliance')
    return None if rel is None else rel[row]


def names_and(names) -> str:
    "'a', 'a and b', 'a, b and c': a list of names that does not read as one name with commas."
    names = list(dict.fromkeys(map(str, names)))
    return ' and '.join(names) if len(names) < 3 else ', '.join(names[:-1]) + ' and ' + names[-1]


def banner_sentence(expl, row: int, what: str):
    """`(relies, sentence)` for a row explained with `flagged=` (`what`: the predicted quantity in words): the banner's
    words when the prediction rests on the flagged inputs, else what was checked and found; None without `flagged=`."""
    rel = reliance_of(expl, row)
    if rel is None: return None
    names = ', '.join(dict.fromkeys(map(str, rel['names'])))
    before, after = rel['Prediction'], rel['Without']
    if rel['Relies']:
        return True, (f"Discount this prediction. It rests on flagged input(s) known to be shortcuts: "
                      f"{names or 'the flagged inputs'}. {what} is {before:.2f} with them and {after:.2f} without them"
                      + (' (the predicted class changes)' if rel['Flipped'] else '') + '.')
    if not names:
        flagged = ', '.join(map(str, expl.attrs.get('flagged', []))) or 'the flagged inputs'
        return False, f"Checked: {flagged} does not occur here; this prediction does not rest on it."
    return False, f"Checked: without {names}, {before:.2f} -> {after:.2f}; this prediction does not rest on it."


def check_clause(expl, row: int) -> str:
    "The check as a clause, for a figure's title or a console line: 'discount this prediction: without ...'."
    r = reliance_of(expl, row)
    change = f"without the flagged {names_and(r['names'])}, {r['Prediction']:.3g} -> {r['Without']:.3g}"
    if r['Relies']:
        return (f"discount this prediction: {change}" + (' (the predicted class changes)' if r['Flipped'] else '') +
                '; it rests on them')
    return f"checked: {change}; this prediction does not rest on them"


def banner_html(expl, row: int, what: str) -> str:
    "The banner (or the checked line) as an HTML fragment; '' without `flagged=`."
    check = banner_sentence(expl, row, what)
    if check is None: return ''
    if check[0]:
        first, rest = check[1].split('. ', 1)
        return ('<div class="featimp-banner" style="border: 2px solid #b00020; background: #fdecea; padding: 6px 10px; '
                f'margin-bottom: 6px"><b>{html.escape(first)}.</b> {html.escape(rest)}</div>')
    return ('<div class="featimp-checked" style="border: 1px solid #999; background: #f4f4f4; padding: 4px 10px; '
            f'margin-bottom: 6px">{html.escape(check[1])}</div>')
