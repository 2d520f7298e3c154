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


def test_one_scale_for_every_note_of_an_explanation(custom_text, notes):
    """The same contribution gets the same colour in a note predicted 0.1 and in one predicted 0.9: one scale for the
    rows of one explanation, their largest contribution rounded up (so a 4.6-point effect is not pale), stated;
    scale= fixes it across explanations, scale='row' scales a note to itself."""
    leak = notes[1][notes[1]['has_family_visit']]['text'].iloc[0]
    calm = notes[1][~notes[1]['has_family_visit'] & (notes[1]['outcome'] == 'alive')]['text'].iloc[0]
    expl = custom_text.explain([leak, calm], method='occlusion', **Q)
    assert max(expl.attrs['outputs']) - min(expl.attrs['outputs']) > 0.3
    largest = expl['Contribution'].abs().max()
    full, how = fastai_featimp.plot.text.colour_scale(expl, 0)
    assert largest <= full <= 2.5 * largest and fastai_featimp.plot.text.colour_scale(expl, 1)[0] == full
    fragment = [explanation_html(expl, r) for r in (0, 1)]
    for r in (0, 1):   # every unit's shade is its |contribution| on the explanation's one scale, in both notes
        part = expl[expl['row'] == r].drop_duplicates(['Start', 'End'])
        shades = [float(a) for a in re.findall(r'class="featimp-unit" style="background-color: rgba\(\d+,\d+,\d+,([\d.]+)\)', fragment[r])]
        np.testing.assert_allclose(shades, np.minimum(1, part['Contribution'].abs() / full), atol=1e-3)
        assert f'-{full * 100:.1f} pts' in fragment[r] and f'+{full * 100:.1f} pts' in fragment[r]   # stated, in pts
        assert (f'full colour at {full * 100:.1f} pts, one scale for the 2 texts of this explanation: their largest '
                f'contribution ({largest * 100:.1f} pts) rounded up' in fragment[r])
    fixed = explanation_html(expl, 0, scale=0.25)
    assert '+25.0 pts' in fixed and 'the scale asked for (scale=)' in fixed
    per_note = explanation_html(expl, 1, scale='row')
    assert "scaled to this text's largest contribution" in html.unescape(per_note)


def test_a_small_effect_is_visible_on_the_default_scale(explained):
    "The default scale is the explanation's own: its largest unit is shaded at least 40% (a 4.6-point effect is seen)."
    alphas = [float(a) for r in range(len(TEXTS)) for a in
              re.findall(r'background-color: rgba\(\d+,\d+,\d+,([\d.]+)\)', explanation_html(explained, r))]
    assert max(alphas) >= 0.4


def test_listed_units_are_words_quoted_with_their_place_when_repeated(custom_text):
    "Punctuation is not listed as a word, numbers are quoted, a repeated word says which one it is."
    note = "Pain in the chest , pain 5 ; pain again ."
    expl = custom_text.explain(note, method='occlusion', **Q)
    plain = explanation_text(expl, 0, top=50)
    listed = '\n'.join(l for l in plain.splitlines() if l.startswith(('towards', 'away')))
    assert re.search(r'"5" [+-]\d', listed)
    assert not re.search(r'(^|, |: )"?[,;.]"? [+-]', listed), listed   # no punctuation listed as a word
    assert '"pain" (1st of 2)' in listed and '"pain" (2nd of 2)' in listed and '"Pain"' in listed
    fragment = html.unescape(explanation_html(expl, 0, top=50))
    assert '"pain" (2nd of 2)' in fragment and '"5"' in fragment
    listed_drawn = [t.get_text() for t in plot_text_explanation(expl, 0, top=50).texts if t.get_gid() == 'featimp-listed'][0]
    assert '"pain" (2nd of 2)' in listed_drawn and not re.search(r'(, |: )[,;.] [+-]', listed_drawn)
    plt.close('all')


def test_sentence_units_are_listed_whole(custom_text):
    expl = custom_text.explain("Family visit today. Pain 5 .", method='occlusion', unit='sentence', **Q)
    plain = explanation_text(expl, 0, top=5)
    assert '"Family visit today."' in plain


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
    table = pd.DataFrame({'row': [0], 'Variable': ['a'], 'Value': [1], 'Contribution': [1.0]})
    with pytest.raises(ValueError, match='lost its attrs'):   # no kind to go by: not guessed from the columns
        custom_text.show_explanation(table)
    table.attrs['kind'] = 'tabular'   # what a table's explanation carries: it is drawn, not shown as HTML
    with pytest.raises(TypeError, match=r'cannot be shown as HTML.*it can be drawn \(plot_explanation\)'):
        custom_text.show_explanation(table)


RUN_INS = "Pt seen with good response, without acute distress this morning. Pain in forearm . Family visit; ok."


def drawn_pieces(ax, dpi):
    "The note's pieces as drawn at `dpi`: (text, extent in pixels), in order."
    fig = ax.figure
    fig.set_dpi(dpi)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    return [(t.get_text(), t.get_window_extent(renderer)) for t in ax.texts if t.get_gid() == 'featimp-word']


def assert_spacing_as_written(pieces, text, dpi, fontsize=10):
    """Pieces the text separates by white space are apart by at least ~half a space, pieces it writes together
    ("forearm" and ".") touch: no run-ins ("withgood"), no space before punctuation, at this dpi."""
    space = 3.2 * fontsize / 10 * dpi / 72   # a space of DejaVu Sans, in pixels
    at, checked = 0, 0
    for (a, box_a), (b, box_b) in zip(pieces, pieces[1:]):
        start_a = text.index(a, at); start_b = text.index(b, start_a + len(a)); at = start_b
        between = text[start_a + len(a):start_b]
        if '\n' in between or abs(box_a.y0 - box_b.y0) > 1: continue   # a new line
        gap = box_b.x0 - box_a.x1
        if between == '': assert abs(gap) <= 1.0, (a, b, gap, dpi)             # written together: drawn together
        else: assert gap >= 0.45 * space * len(between), (a, b, gap, dpi)    # a space stays a space
        checked += 1
    assert checked >= 5


@pytest.mark.parametrize('dpi', [72, 100, 120, 200, 300])
def test_words_keep_their_spacing_at_any_dpi(custom_text, dpi):
    expl = custom_text.explain([RUN_INS, TEXTS[0]], method='occlusion', **Q)
    for row, text in enumerate([RUN_INS, TEXTS[0]]):
        ax = plot_text_explanation(expl, row=row, width=5)
        assert_spacing_as_written(drawn_pieces(ax, dpi), text, dpi)
        assert_words_laid_out(ax, text)   # and inside the Axes, without overlaps, at this dpi
        plt.close(ax.figure)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))   # in a caller's Axes, too
    plot_text_explanation(expl, row=0, ax=right, fontsize=8)
    assert_spacing_as_written(drawn_pieces(right, dpi), RUN_INS, dpi, fontsize=8)
    plt.close(fig)


def test_a_flagged_row_states_the_check_either_way(custom_text, notes):
    """Every row explained with flagged= says what the check found: the banner when it rests on the flagged phrase,
    'checked: without family visit, 0.44 -> 0.43; this prediction does not rest on it' when it does not, and that the
    phrase does not occur when it does not; in HTML, text and the figure's header."""
    leaks = notes[1][notes[1]['has_family_visit']]['text'].head(2).tolist()
    calm = notes[1][~notes[1]['has_family_visit']]['text'].iloc[0]
    for threshold in (1e-9, 1.0):   # everything relies / (almost) nothing does
        expl = custom_text.explain(leaks + [calm], method='occlusion', flagged=['family visit'], threshold=threshold, **Q)
        for row, rel in enumerate(expl.attrs['reliance']):
            fragment = html.unescape(explanation_html(expl, row))
            plain = explanation_text(expl, row)
            title = plot_text_explanation(expl, row).get_title(loc='left').replace('\n', ' ')
            plt.close('all')
            if rel['Relies']:
                assert 'class="featimp-banner"' in fragment and 'Discount this prediction.' in fragment
                assert plain.startswith('DISCOUNT THIS PREDICTION') and title.startswith('DISCOUNT THIS PREDICTION')
                continue
            said = (f"without family visit, {rel['Prediction']:.2f} -> {rel['Without']:.2f}; this prediction does not "
                    "rest on it" if rel['names'] else 'family visit does not occur here')
            for view in (fragment, plain, title): assert said in view and 'DISCOUNT' not in view.upper().replace('Discount', ''), view[:300]
            assert 'class="featimp-checked"' in fragment and 'featimp-banner' not in fragment
    assert not expl.attrs['reliance'][2]['names']   # the calm note was checked too


def test_outlines_keep_the_spaces_between_words(custom_text):
    "A flagged phrase's outline is drawn inside its boxes (HTML) / on the word's own extent (figure): spaces stay."
    expl = custom_text.explain("Family visit today, calm.", method='occlusion', flagged=['family visit'], **Q)
    fragment = explanation_html(expl, 0)
    assert 'outline:' not in fragment and 'box-shadow: inset 0 0 0 2px #333' in fragment
    ax = plot_text_explanation(expl, 0)
    boxes = [(t.get_text(), t.get_bbox_patch()) for t in ax.texts if t.get_gid() == 'featimp-word']
    ax.figure.canvas.draw()
    family, visit = [b.get_window_extent() for w, b in boxes if w in ('Family', 'visit')]
    assert visit.x0 - family.x1 >= 0.45 * 3.2 * ax.figure.dpi / 72   # outlines apart by about a space
    assert {w for w, b in boxes if b.get_edgecolor()[3] > 0} == {'Family', 'visit'}
    plt.close('all')
