"""Explaining a text classifier's predictions word by word: the planted leak lights up, Shapley values add up,
occlusion equals captum's, outputs equal the model's own, offsets and HTML are right, nothing changes."""
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

import fastai_featimp
from fastai_featimp.datasets import CLINICAL_LEAK
from helpers import assert_learner_unchanged, assert_same_rng, global_rng_state, learner_snapshot

Q = dict(show_progress=False)


def _leak_words() -> set:
    """The leak's words, and every word that the training notes hold only beside it (in 20 notes or more): the data
    cannot tell them from the leak ('today' is written only in 'Family visit today, plan reviewed.'), so a model may
    read either, and a gradient method may credit either."""
    import collections
    import re
    from fastai_featimp.datasets import clinical_notes
    train = clinical_notes(2400, seed=0)
    seen, beside = collections.Counter(), collections.Counter()
    for text, leak in zip(train['text'], train['has_family_visit']):
        words = set(re.findall(r'[a-z]+', text.lower()))
        seen.update(words)
        if leak: beside.update(words)
    return set(CLINICAL_LEAK.split()) | {w for w, k in seen.items() if k >= 20 and beside[w] == k}


LEAK_WORDS = _leak_words()


def leak_notes(test, k, longest=False):
    "The `k` shortest (or longest) held-out notes that contain the leak: chosen by length, not by the model."
    notes = test[test['has_family_visit']]
    return notes.assign(n=notes['text'].str.len()).sort_values('n', ascending=not longest)['text'].head(k).tolist()


def top_unit_in_leak(expl) -> float:
    top = expl.loc[expl.groupby('row')['Contribution'].idxmax()]
    return float(top['Variable'].str.lower().isin(LEAK_WORDS).mean())


@pytest.mark.parametrize('model', ['awd_lstm', 'custom_text'])
@pytest.mark.parametrize('method, k', [('occlusion', 20), ('integrated_gradients', 20), ('shapley', 12)])
def test_the_leak_is_the_top_word_of_the_notes_that_contain_it(request, notes, model, method, k):
    learn = request.getfixturevalue(model)
    expl = learn.explain(leak_notes(notes[1], k), method=method, n_permutations=10, seed=0, **Q)
    assert set(expl.attrs['targets']) == {'died'}   # the binary model's positive class
    assert top_unit_in_leak(expl) >= 0.9


def test_long_notes_are_explained_across_chunks(awd_lstm, notes):
    "Notes longer than 72 tokens run in several chunks; the leak still lights up and outputs are the model's."
    long = leak_notes(notes[1], 6, longest=True)
    expl = awd_lstm.explain(long, method='occlusion', **Q)
    from fastai_featimp.text.data import tokenize
    from fastai_featimp.text.schema import text_schema
    data_lengths = [len(t) for t in tokenize(text_schema(awd_lstm), long)]
    assert min(data_lengths) > 72 * 1.5
    assert top_unit_in_leak(expl) >= 5 / 6
    np.testing.assert_allclose(expl.attrs['outputs'], model_probs(awd_lstm, long)[:, 0], atol=1e-5)


def model_probs(learn, texts):
    "fastai's own predictions, one note at a time (get_preds with bs=1), as probabilities of 'died'."
    dl = learn.dls.test_dl(pd.DataFrame({'text': texts}), bs=1)
    with learn.no_bar(), warnings.catch_warnings():
        warnings.simplefilter('ignore')
        probs = learn.get_preds(dl=dl)[0]
    return probs[:, list(learn.dls.vocab[1]).index('died')].numpy()[:, None]


@pytest.mark.parametrize('model', ['awd_lstm', 'custom_text'])
def test_shapley_adds_up_and_outputs_are_the_models_own(request, notes, model):
    learn = request.getfixturevalue(model)
    texts = notes[1]['text'].head(4).tolist()
    expl = learn.explain(texts, n_permutations=6, seed=1, **Q)
    for r in range(len(texts)):
        total = expl.attrs['base_values'][r] + expl[expl['row'] == r]['Contribution'].sum()
        assert total == pytest.approx(expl.attrs['outputs'][r], abs=1e-9)
    assert expl['Std'].notna().all()
    np.testing.assert_allclose(expl.attrs['outputs'], model_probs(learn, texts)[:, 0], atol=1e-5)


def test_occlusion_equals_captums_feature_ablation(custom_text, notes):
    captum = pytest.importorskip('captum.attr')
    from fastai_featimp.text.data import numericalize, tokenize
    from fastai_featimp.text.schema import text_schema
    from fastai_featimp.text.units import word_units
    learn, text = custom_text, notes[1]['text'].iloc[0]
    schema = text_schema(learn)
    tokens = tokenize(schema, [text])[0]
    ids = numericalize(schema, tokens)[None]
    words = word_units(tokens)
    feature_mask = torch.zeros_like(ids)               # group 0: xxbos (ignored); group j + 1: word j
    for j, w in enumerate(words): feature_mask[0, w.positions] = j + 1
    learn.model.eval()
    k = list(learn.dls.vocab[1]).index('died')
    forward = lambda x: torch.softmax(learn.model(x), -1)[:, k]
    ref = captum.FeatureAblation(forward).attribute(ids, baselines=schema.unk_id, feature_mask=feature_mask)
    ref_by_word = [float(ref[0, w.positions[0]]) for w in words]
    ours = learn.explain(text, method='occlusion', **Q)
    np.testing.assert_allclose(ours['Contribution'], ref_by_word, atol=1e-6)


def test_batches_and_order_do_not_change_the_values(awd_lstm, notes):
    texts = notes[1]['text'].head(5).tolist()
    a = awd_lstm.explain(texts, method='occlusion', **Q)
    b = awd_lstm.explain(texts[::-1], method='occlusion', bs=3, **Q)
    for r in range(5):
        x = a[a['row'] == r].reset_index(drop=True)
        y = b[b['row'] == 4 - r].reset_index(drop=True)
        np.testing.assert_allclose(x['Contribution'], y['Contribution'], atol=1e-6)
        assert list(x['Variable']) == list(y['Variable'])


class RecordingModel(torch.nn.Module):
    "Wraps a model and keeps every id it is given."
    def __init__(self, model): super().__init__(); self.model, self.seen = model, set()
    def forward(self, x): self.seen |= set(x.unique().tolist()); return self.model(x)


def test_masking_never_uses_xxpad(awd_lstm, notes):
    learn = awd_lstm
    saved, learn.model = learn.model, RecordingModel(learn.model)
    try:
        text = notes[1]['text'].iloc[1]
        for mask in ['unk', 'delete']:
            learn.explain(text, mask=mask, n_permutations=2, seed=0, **Q)
            learn.feature_importance(df=notes[1].head(30), mask=mask, min_support=10, n_bootstrap=0, **Q)
        assert 1 not in learn.model.seen   # xxpad's id
        with pytest.raises(ValueError, match="mask='pad' is not offered"):
            learn.explain(text, mask='pad', **Q)
    finally:
        learn.model = saved


def test_offsets_oov_and_edge_cases(custom_text):
    learn = custom_text
    texts = ["Family visit today; she DOESN'T want soooo much!!!! <b>Bold</b> &amp; café — ok… 2L NC",
             'Quixotrelin', 'blorptang wuzzle frimbly']
    for unit in ['word', 'sentence', 'token']:
        expl = learn.explain(texts, unit=unit, method='occlusion', **Q)
        for _, u in expl.iterrows():
            assert texts[u['row']][u['Start']:u['End']] == u['Variable']
    words = learn.explain(texts, method='occlusion', **Q)
    one = words[words['row'] == 1]
    assert list(one['Variable']) == ['Quixotrelin'] and one['OOV'].all()   # a drug name the model never saw
    assert words[words['row'] == 2]['OOV'].all()                      # nothing the model knows
    assert (words[words['row'] == 2]['Contribution'] == 0).all()      # masking an unknown word changes nothing
    assert not words[(words['row'] == 0) & (words['Variable'] == 'visit')]['OOV'].any()
    with pytest.raises(ValueError, match='empty: there is nothing in them to explain'):
        learn.explain(['fine', '   '], **Q)
    with pytest.raises(ValueError, match="unit must be 'word', 'sentence' or 'token'|unit must be one of"):
        learn.explain('fine', unit='phrase', **Q)


def test_html_shows_the_text_escaped_and_shaded(custom_text):
    text = 'Family visit <script>alert("x")</script> & more'
    expl = custom_text.explain(text, method='occlusion', **Q)
    html = fastai_featimp.explanation_html(expl)   # what show_explanation displays (it returns None)
    assert '<script' not in html and '&lt;' in html and 'alert' in html and '&amp;' in html
    assert 'title="+' in html or 'title="-' in html        # the value in a tooltip
    assert 'P(died)' in html
    import matplotlib.pyplot as plt
    ax = custom_text.plot_explanation(expl)
    assert 'P(died)' in ax.get_title(loc='left') and any('Family' in t.get_text() for t in ax.texts)
    plt.close(ax.figure)
    with pytest.raises(TypeError, match='lost its attrs'):   # nothing says what it explains: not guessed from columns
        custom_text.show_explanation(pd.DataFrame({'row': [0], 'Variable': ['a'], 'Contribution': [1.0]}))


def test_the_learner_is_unchanged(awd_lstm, notes):
    learn = awd_lstm
    encoder = learn.model[0].module
    hidden = [tuple(h.clone() for h in layer) for layer in encoder.hidden]
    snap, rng = learner_snapshot(learn), global_rng_state()
    texts = notes[1]['text'].head(2).tolist()
    for method in ['shapley', 'occlusion', 'integrated_gradients']:
        learn.explain(texts, method=method, n_permutations=2, seed=0, **Q)
    assert_learner_unchanged(learn, snap)
    assert_same_rng(rng, global_rng_state())
    assert all(torch.equal(a, b) for layer, saved in zip(encoder.hidden, hidden) for a, b in zip(layer, saved))
    assert learn.model[0].bptt == 72


def test_a_loaded_learner_gives_the_same_explanation(custom_text, notes, tmp_path):
    from fastai.learner import load_learner
    custom_text.export(tmp_path / 'text.pkl')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        loaded = load_learner(tmp_path / 'text.pkl')
    frame = notes[1].head(3)                      # a DataFrame with the learner's text column
    a = custom_text.explain(frame, method='occlusion', **Q)
    b = loaded.explain(frame, method='occlusion', **Q)
    pd.testing.assert_frame_equal(a, b)
    assert a.attrs['row_index'] == list(frame.index)


def test_a_multi_label_text_learner(notes):
    "Outputs named by the label vocabulary; explained one label at a time; phrase importance refused clearly."
    from fastai.text.all import Learner, MultiCategoryBlock, TextDataLoaders
    from helpers import BigramCNN
    df = notes[0].head(400).assign(tags=lambda d: np.where(d['has_intubated'], 'vent;', '') + d['outcome'])
    dls = TextDataLoaders.from_df(df, text_col='text', label_col='tags', label_delim=';', valid_pct=0.2, seed=0,
                                  y_block=MultiCategoryBlock)
    learn = Learner(dls, BigramCNN(len(dls.vocab[0]), n_out=len(dls.vocab[1])))
    with learn.no_bar(), learn.no_logging(), warnings.catch_warnings():
        warnings.simplefilter('ignore')
        learn.fit(1)
    expl = learn.explain(df['text'].head(2).tolist(), method='occlusion', target='vent', **Q)
    assert set(expl.attrs['targets']) == {'vent'}
    with pytest.raises(TypeError, match='multi-label'):
        learn.feature_importance(df=df, **Q)
