"""The clinician's view of a text explanation: one stated colour scale for every note, the text exactly as written
(grapheme clusters whole), plain-words header, the strongest words listed with their values, a legend; the
matplotlib figure lays words out by their measured widths, without overlaps; it displays itself in Jupyter."""
import html
import re

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

import fastai_featimp
from fastai_featimp.plot.text import explanation_html, explanation_text, plot_text_explanation

Q = dict(show_progress=False)

TEXTS = ["Family visit today, plan reviewed.\nTolerating diet , advance as able .",
         "<b>K+ 3.1</b> & Na 140; \"stable\" — ok… DOESN'T want soooo much!!!! café naïve",
         "Family 👨‍👩‍👧‍👦 came at 14:00. Drapeau 🇫🇷, é\u0301 accent, 1️⃣ first.\r\n\r\nEnd   of  note\t(tab)",
         "Great votes....  <br />  <br />Really  GOOD. Pt's BP 120/80 &amp; HR 72"]


def text_of(fragment: str) -> str:
    "What a reader of the HTML sees of the note: the text box with tags stripped and entities unescaped."
    box = re.search(r'<div class="featimp-text"[^>]*>(.*?)</div>', fragment, flags=re.S).group(1)
    return html.unescape(re.sub(r'<[^>]+>', '', box))


@pytest.fixture(scope='module')
def explained(custom_text):
    return custom_text.explain(TEXTS, method='occlusion', **Q)


@pytest.mark.parametrize('row', range(len(TEXTS)))
def test_the_text_is_shown_exactly_as_written(explained, row):
    assert text_of(explanation_html(explained, row)) == TEXTS[row]


def test_token_units_show_each_word_once_with_its_case_marker(custom_text):
    """unit='token': fastai's case marker (xxmaj, xxup) shares its word's characters; the view shades the word as
    written with both contributions summed, lists it by its own name, and to_shap keeps the sum exact."""
    from fastai_featimp.plot.text import units_by_span
    expl = custom_text.explain([TEXTS[0]], method='occlusion', unit='token', **Q)
    marked = expl[expl['Marker'] & (expl['End'] > expl['Start'])]
    assert len(marked), expl   # "Family", "Tolerating" carry xxmaj
    units = units_by_span(expl)
    assert not units.duplicated(['Start', 'End']).any() and not units['Variable'].isin(['xxmaj', 'xxup']).any()
    family = units[units['Start'] == 0].iloc[0]
    assert family['Variable'].lower() == 'family'
    assert family['Contribution'] == pytest.approx(expl[expl['Start'] == 0]['Contribution'].sum())
    assert units['Contribution'].sum() == pytest.approx(expl['Contribution'].sum())
    assert text_of(explanation_html(expl, 0)) == TEXTS[0]
    assert 'xxmaj' not in explanation_text(expl, 0)
    sh = fastai_featimp.to_shap(expl)
    assert ''.join(sh.data[0]) == TEXTS[0] and sh.values[0].sum() == pytest.approx(expl['Contribution'].sum())


def test_grapheme_clusters_are_never_split(explained):
    units = list(explained[explained['row'] == 2]['Variable'])
    assert '👨‍👩‍👧‍👦' in units and '🇫🇷' in units and '1️⃣' in units
    assert not any(u in ('\u200d', '👩', '🇫') for u in units)


def test_one_scale_for_every_note(custom_text, notes):
    "The same contribution gets the same colour in a note predicted 0.1 and in one predicted 0.9."
    leak = notes[1][notes[1]['has_family_visit']]['text'].iloc[0]
    calm = notes[1][~notes[1]['has_family_visit'] & (notes[1]['outcome'] == 'alive')]['text'].iloc[0]
    expl = custom_text.explain([leak, calm], method='occlusion', **Q)
    assert max(expl.attrs['outputs']) - min(expl.attrs['outputs']) > 0.3
    colours = {}
    for r in (0, 1):
        for tip, colour in re.findall(r'background-color: (rgba\([^)]*\))[^"]*" title="([^"]*)"', explanation_html(expl, r)):
            colours.setdefault(colour, set()).add(r)
    fragment = [explanation_html(expl, r) for r in (0, 1)]
    alpha = lambda c: float(c) / fastai_featimp.plot.text.DEFAULT_PROBABILITY_SCALE
    for r in (0, 1):   # every unit's shade is its |contribution| on the fixed 25-point scale, in both notes
        part = expl[expl['row'] == r].drop_duplicates(['Start', 'End'])
        shades = [float(a) for a in re.findall(r'class="featimp-unit" style="background-color: rgba\(\d+,\d+,\d+,([\d.]+)\)', fragment[r])]
        np.testing.assert_allclose(shades, np.minimum(1, part['Contribution'].abs().map(alpha)), atol=1e-3)
    for f in fragment:   # the scale is stated, with its end values, in the output's units
        assert '-25.0 pts' in f and '+25.0 pts' in f and 'the same scale for every text' in f
    per_note = explanation_html(expl, 1, scale='row')
    assert "scaled to this text's largest contribution" in html.unescape(per_note)


def test_header_list_and_legend_in_plain_words(explained):
    f = explanation_html(explained, 0)
    assert 'Probability of died' in f and 'with every word masked' in f
    assert "how much the prediction falls when the word alone is masked (occlusion)" in f
    assert '<b>Towards died:</b>' in f and '<b>Away from it:</b>' in f
    assert 'Dotted underline</span>: a word the model never saw' in f
    top = explained[explained['row'] == 0].nlargest(1, 'Contribution').iloc[0]
    assert f"{top['Contribution'] * 100:+.1f} pts" in f   # the numbers survive a printout
    plain_text = explanation_text(explained, 0)
    assert TEXTS[0] in plain_text and 'towards died:' in plain_text


def assert_words_laid_out(ax, text):
    "The note's words as drawn on `ax`: no two overlap, all inside the Axes' width, every character once, in order."
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    pieces = [t for t in ax.texts if t.get_gid() == 'featimp-word']   # the note's words, as drawn
    words = [t.get_window_extent(renderer) for t in pieces]
    for i, a in enumerate(words):
        for b in words[i + 1:]:
            overlap_x = min(a.x1, b.x1) - max(a.x0, b.x0)
            overlap_y = min(a.y1, b.y1) - max(a.y0, b.y0)
            assert overlap_x <= 0.5 or overlap_y <= 0.5, (a, b)
    box = ax.get_window_extent(renderer)
    assert max(b.x1 for b in words) <= box.x1 + 1   # wrapped inside the Axes
    assert ''.join(t.get_text() for t in pieces) == ''.join(text.split())   # every character but white space


def test_the_figure_lays_words_out_without_overlaps(explained):
    for row in range(len(TEXTS)):
        ax = plot_text_explanation(explained, row=row, width=5)
        assert_words_laid_out(ax, TEXTS[row])
        plt.close(ax.figure)


def test_an_axes_of_the_caller_is_laid_out_in_its_own_width(custom_text, explained):
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5))   # each Axes a little under 6 inches wide
    ax = custom_text.plot_explanation(explained, row=0, ax=right, top=1)
    assert ax is right
    assert_words_laid_out(ax, TEXTS[0])
    listed = [t.get_text() for t in ax.texts if t.get_text().startswith('Towards')][0]
    assert listed.count(' pts') == 2   # top=1 reaches the text view: one unit each way
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 0.5))
    with pytest.warns(UserWarning, match='lines will overlap'): plot_text_explanation(explained, row=0, ax=ax)
    plt.close(fig)


def test_show_explanation_displays_itself_in_jupyter(custom_text, explained, monkeypatch, capsys):
    shown = []
    class Kernel: kernel = object()
    import IPython
    import IPython.display
    monkeypatch.setattr(IPython, 'get_ipython', lambda: Kernel())
    monkeypatch.setattr(IPython.display, 'display', lambda obj: shown.append(obj))
    assert custom_text.show_explanation(explained, row=1) is None   # nothing for Jupyter to show a second time
    assert len(shown) == 1 and text_of(shown[0].data) == TEXTS[1]
    monkeypatch.setattr(IPython, 'get_ipython', lambda: None)      # a script or a terminal: plain text
    custom_text.show_explanation(explained, row=0)
    assert TEXTS[0] in capsys.readouterr().out
    with pytest.raises(TypeError, match='waterfall'):
        custom_text.show_explanation(pd.DataFrame({'row': [0], 'Variable': ['a'], 'Value': [1], 'Contribution': [1.0]}))
