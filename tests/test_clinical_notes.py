"The synthetic ICU notes: reproducible, and the text really carries the planted evidence and nothing else."
import re

import numpy as np
import pandas as pd
import pytest

from fastai_featimp.datasets import clinical


def words_only(texts):
    "Lower case, every run of non-word characters one space, padded: ' family visit ' is then a whole-word search."
    return ' ' + texts.str.lower().str.replace(r'[^a-z0-9]+', ' ', regex=True) + ' '


def contains(texts, phrase):
    "Case-insensitive, whole words only (so 'intubated' does not match inside 'extubated'), ignoring punctuation."
    return words_only(texts).str.contains(f' {phrase} ', regex=False).to_numpy()


def empirical_llr(present, died): return np.log(present[died].mean() / present[~died].mean())


def sentences(texts):
    "Every sentence ends in '.', and no template has '. ' inside it (decimals are '4.1')."
    return [s for t in texts for s in re.split(r'(?<=\.) ', t)]


@pytest.fixture(scope='module')
def big(): return clinical.clinical_notes(20000, seed=1)


@pytest.fixture(scope='module')
def found(big):
    "Presence of each planted phrase and each of the leak's words, searched once in the text."
    words = words_only(big['text'])   # once, not per phrase
    return {p: words.str.contains(f' {p} ', regex=False).to_numpy()
            for p in clinical.CLINICAL_PHRASES + ('family', 'visit')}


def test_reproducible_shape_and_columns():
    a, b = clinical.clinical_notes(200, seed=3), clinical.clinical_notes(200, seed=3)
    pd.testing.assert_frame_equal(a, b)
    assert not a['text'].equals(clinical.clinical_notes(200, seed=4)['text'])
    has = [f'has_{p.replace(" ", "_")}' for p in clinical.CLINICAL_PHRASES]
    assert list(a.columns) == ['text', 'outcome'] + has and 'has_family_visit' in has
    assert len(a) == 200 and len(clinical.clinical_notes(1)) == 1
    assert set(a['outcome']) == {'died', 'alive'}
    assert all(a[c].dtype == bool for c in has)
    share = (clinical.clinical_notes(5000, seed=0)['outcome'] == 'died').mean()
    assert abs(share - 0.3) < 0.03


def test_evidence_table():
    ev = clinical.clinical_evidence()
    assert list(ev.columns) == ['phrase', 'p_died', 'p_alive', 'llr', 'direction']
    assert ev['phrase'].iloc[0] == clinical.CLINICAL_LEAK == 'family visit'
    assert set(ev['phrase']) == set(clinical.CLINICAL_PHRASES)
    np.testing.assert_allclose(ev['llr'], np.log(ev['p_died'] / ev['p_alive']))
    size = ev['llr'].abs().to_numpy()
    assert (np.diff(size) <= -0.2).all()                       # sorted by |llr|, distinct enough to rank
    assert size[0] > 3 and ((size[1:] > 0.65) & (size[1:] < 1.9)).all()
    assert (ev['direction'] == np.where(ev['llr'] > 0, 'died', 'alive')).all()
    counts = ev['direction'].iloc[1:].value_counts()   # besides the leak
    assert 3 <= counts['died'] <= 4 and 3 <= counts['alive'] <= 4
    assert dict(zip(ev['phrase'], ev['llr'])) == clinical.clinical_notes(5).attrs['evidence']


def test_text_matches_the_draws(big, found):
    # the search ignores punctuation, so for the leak this also says that 'family' is followed by 'visit'
    # (even as 'family. Visit') exactly where the leak was drawn
    for phrase in clinical.CLINICAL_PHRASES:
        assert (found[phrase] == big[f'has_{phrase.replace(" ", "_")}'].to_numpy()).all(), phrase


def test_the_search_itself():
    texts = pd.Series(['Patient extubated.', 'FAMILY. Visit', 'Family visitors', 'no rising  lactate'])
    assert list(contains(texts, 'intubated')) == [False] * 4
    assert list(contains(texts, 'family visit')) == [False, True, False, False]
    assert list(contains(texts, 'rising lactate')) == [False, False, False, True]


def test_empirical_evidence_matches_the_table(big, found):
    died = (big['outcome'] == 'died').to_numpy()
    truth = clinical.clinical_evidence().set_index('phrase')['llr']
    measured = {p: empirical_llr(found[p], died) for p in truth.index}
    for p, llr in measured.items():
        assert abs(llr - truth[p]) < 0.25, (p, llr, truth[p])
    assert max(measured, key=lambda p: abs(measured[p])) == clinical.CLINICAL_LEAK
    # the leak's parts alone are no evidence: measure them where the leak is absent
    rest = ~big['has_family_visit'].to_numpy()
    for word in ['family', 'visit']:
        present = found[word][rest]
        assert 0.15 < present.mean() < 0.6
        assert abs(empirical_llr(present, died[rest])) < 0.2, word


def test_case_lengths_and_rare_words(big):
    texts = big['text'].iloc[:3000]
    sents = sentences(texts)
    upper = np.mean([s.isupper() for s in sents])
    lower = np.mean([s.islower() for s in sents])
    assert 0.05 < upper < 0.11 and 0.05 < lower < 0.11
    assert texts.str.contains('FAMILY VISIT').any() and texts.str.contains('family visit').any()
    words = big['text'].str.split().str.len()
    assert 0.15 <= (words > 90).mean() <= 0.30
    assert ((words >= 25) & (words <= 70)).mean() > 0.6
    rare = big['text'].str.contains('|'.join(clinical.CLINICAL_RARE_DRUGS), case=False)
    assert 0.03 < rare.mean() < 0.07


@pytest.mark.parametrize('kwargs, name', [
    (dict(n=0), 'n'), (dict(n=-5), 'n'), (dict(n=2.5), 'n'), (dict(n='10'), 'n'), (dict(n=True), 'n'),
    (dict(seed=-1), 'seed'), (dict(seed=1.5), 'seed'), (dict(seed='0'), 'seed'), (dict(seed=True), 'seed'),
])
def test_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=rf'^{name} '):
        clinical.clinical_notes(**kwargs)


def test_numpy_integers_and_no_seed():
    assert len(clinical.clinical_notes(np.int64(7), seed=np.int32(2))) == 7
    assert len(clinical.clinical_notes(3, seed=None)) == 3
