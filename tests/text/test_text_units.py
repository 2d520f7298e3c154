"Units of a tokenised text and their offsets: `text[Start:End]` is always the unit as the user wrote it."
import pytest
from fastai.text.core import TokenizeWithRules, WordTokenizer, defaults

from fastai_featimp.text.units import align, sentence_units, token_units, word_units

TEXTS = [
    "Family visit today. Patient DOESN'T want soooo much!!!! Very very very good",
    "Pt's café naïve İstanbul ÅNGSTRÖM — ok… q6h 2L NC\nZorvexatil 10 mg daily.",
    "<b>Bold</b> &amp; &quot;quoted&quot; it&#39;s <script>alert(1)</script>",
    "   leading spaces and trailing   ", "x", "word word word word end", "ICU!!! NO", "don't won't can't",
]


@pytest.fixture(scope='module')
def tokenize():
    twr = TokenizeWithRules(WordTokenizer(), rules=defaults.text_proc_rules)
    return lambda text: list(next(iter(twr([text]))))


@pytest.mark.parametrize('text', TEXTS)
@pytest.mark.parametrize('kind', ['word', 'sentence', 'token'])
def test_offsets_point_at_the_unit_in_the_original_text(tokenize, text, kind):
    tokens = tokenize(text)
    units = {'word': word_units, 'sentence': sentence_units, 'token': token_units}[kind](tokens)
    align(text, tokens, units, defaults.text_proc_rules)
    assert units and all(0 <= u.start <= u.end <= len(text) for u in units)
    assert 'xxbos' not in [tokens[p] for u in units for p in u.positions]
    starts = [u.start for u in units]
    assert starts == sorted(starts)
    if kind == 'word':   # every word shows what stands in the text, and the words cover all non-space text
        covered = set(i for u in units for i in range(u.start, u.end))
        assert all(text[i].isspace() or i in covered for i in range(len(text))), [text[i] for i in range(len(text)) if i not in covered]


def test_words_keep_their_markers(tokenize):
    text = "Family visit. ICU stay soooo long"
    tokens = tokenize(text)
    units = align(text, tokens, word_units(tokens), defaults.text_proc_rules)
    spans = {text[u.start:u.end]: [tokens[p] for p in u.positions] for u in units}
    assert spans['Family'] == ['xxmaj', 'family'] and spans['ICU'] == ['xxup', 'icu']
    # a word fastai split around its repeated letters is one unit, as written
    assert spans['soooo'] == ['s', 'xxrep', '4', 'o'] and [u.key for u in units][:2] == ['family', 'visit']
    sentences = sentence_units(tokens)
    assert [s.key for s in sentences] == ['family visit .', 'icu stay s oooo long']
