"""Should this prediction be trusted? Each prediction with and without the flagged inputs, the banner that tells a
reader to discount it, and the audit of a whole set (issue 21), on data whose answer is known."""
import html
import re

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch

import fastai_featimp
from fastai_featimp import ParameterError
from fastai_featimp.datasets import CLINICAL_LEAK
from helpers import assert_call_leaves_everything, make_binary_df, train

Q = dict(show_progress=False)


class CountingModel(torch.nn.Module):
    "Wraps a model and counts the texts it is run on."
    def __init__(self, model): super().__init__(); self.model, self.texts = model, 0
    def forward(self, x): self.texts += x.shape[0]; return self.model(x)


@pytest.fixture(scope='module')
def audit(custom_text, notes):
    test = notes[1].head(300)
    return test, custom_text.reliance(test, [CLINICAL_LEAK], **Q)


def test_notes_called_died_because_of_the_leak_rely_on_it(audit):
    test, rel = audit
    leak = test['has_family_visit'].to_numpy()
    died = (rel['Predicted'] == 'died').to_numpy()
    assert rel.loc[leak & died, 'Relies'].mean() >= 0.9
    assert rel.loc[leak, 'Change'].abs().mean() > 0.15
    assert (rel.loc[~leak, 'Change'] == 0).all() and (rel.loc[~leak, 'Without'] == rel.loc[~leak, 'Prediction']).all()
    assert list(rel.index) == list(test.index) and rel.attrs['flagged'] == ['family visit']
    s = rel.attrs['summary']
    assert s['n_with_flagged'] == leak.sum() and s['share_relies'] == pytest.approx(rel['Relies'].mean())


def test_notes_without_the_phrase_cost_no_forward_pass(custom_text, notes):
    test = notes[1].head(60)
    learn = custom_text
    saved, learn.model = learn.model, CountingModel(learn.model)
    try:
        learn.reliance(test, [CLINICAL_LEAK], **Q)
        n = learn.model.texts - 1   # the one-text pass that reads the model's output size
    finally:
        learn.model = saved
    assert n == len(test) + int(test['has_family_visit'].sum())


def test_the_summary_metric_without_is_the_model_on_the_notes_masked_by_hand(custom_text, audit):
    test, rel = audit
    from fastai_featimp.text.data import numericalize, tokenize
    from fastai_featimp.text.schema import text_schema
    schema = text_schema(custom_text)
    correct = []
    for text, label in zip(test['text'], test['outcome']):
        tokens = tokenize(schema, [text])[0]
        words, pending = [], []   # (word, its token positions with the case markers before it)
        for p, t in enumerate(tokens):
            if t in ('xxmaj', 'xxup'): pending.append(p)
            else: words.append((t.lower(), pending + [p])); pending = []
        for (a, pa), (b, pb) in zip(words, words[1:]):
            if (a, b) == ('family', 'visit'):
                for p in pa + pb: tokens[p] = 'xxunk'
        ids = numericalize(schema, tokens)[None]
        custom_text.model.eval()
        with torch.no_grad(): pred = custom_text.model(ids).argmax(1).item()
        correct.append(custom_text.dls.vocab[1][pred] == label)
    s = rel.attrs['summary']
    assert s['metric'] == 'accuracy' and s['score_without'] == pytest.approx(np.mean(correct), abs=1e-6)
    assert s['score_without'] < s['score']   # removing the leak at prediction time costs accuracy


def test_a_phrase_the_model_ignores_changes_nothing(custom_text, notes):
    rel = custom_text.reliance(notes[1].head(200), ['repositioned'], **Q)
    held = rel[rel['Found'].map(len) > 0]
    assert len(held) > 10 and held['Change'].abs().mean() < 0.03 and not held['Flipped'].any()


def test_matching_is_on_the_learners_words(custom_text):
    texts = ['Patient stable. Family Visit this afternoon.', 'FAMILY VISIT at bedside.', 'Our familyvisits log.',
             'family. Visit later']
    rel = custom_text.reliance(texts, ['family visit'], **Q)
    found = list(rel['Found'])
    assert [texts[0][f['start']:f['end']] for f in found[0]] == ['Family Visit']
    assert [texts[1][f['start']:f['end']] for f in found[1]] == ['FAMILY VISIT']
    assert found[2] == [] and found[3] == []   # not inside another word, not across a sentence's punctuation
    assert rel.loc[2, 'Change'] == 0


@pytest.fixture(scope='module')
def leaky():
    df = make_binary_df(2000, 5).drop(columns='row_id')
    df['leak'] = np.where(df['y'] == 'yes', 'L1', 'L0')
    return train(df, 'y', ['level', 'noise_cat', 'leak'], ['signal', 'weak', 'noise'], epochs=3), make_binary_df(300, 6).drop(
        columns='row_id').assign(leak=lambda d: np.where(d['y'] == 'yes', 'L1', 'L0'))


def test_a_planted_tabular_leak_is_relied_on_and_noise_is_not(leaky):
    learn, test = leaky
    rel = learn.reliance(test, ['leak'], n_background=50, seed=0, **Q)
    assert rel['Relies'].mean() > 0.6 and rel['Change'].abs().mean() > 0.15   # most rows rest on the leak
    assert rel.attrs['summary']['score_without'] < rel.attrs['summary']['score']
    assert rel['Found'].iloc[0] == {'leak': test['leak'].iloc[0]}
    noise = learn.reliance(test, ['noise'], n_background=50, seed=0, **Q)
    assert noise['Change'].abs().mean() < 0.03 and noise['Relies'].mean() < 0.05


def test_without_is_the_mean_over_the_background_rows(leaky):
    learn, test = leaky
    rows, background = test.head(4), test.iloc[100:120]
    rel = learn.reliance(rows, ['leak', 'signal'], background=background, **Q)
    k = list(learn.dls.vocab).index('yes')
    for i in range(4):
        mixed = background.copy()
        for c in [c for c in rows.columns if c not in ('leak', 'signal')]: mixed[c] = rows[c].iloc[i]
        dl = learn.dls.test_dl(mixed)
        with learn.no_bar(): probs = learn.get_preds(dl=dl)[0][:, k]
        assert rel['Without'].iloc[i] == pytest.approx(float(probs.mean()), abs=1e-5)
    fig_ax = learn.plot_reliance(rel)
    assert fig_ax.get_xlabel().startswith('prediction without leak, signal')
    plt.close(fig_ax.figure)


@pytest.mark.parametrize('flagged, kw, match', [
    ([], {}, 'flagged is empty'),
    (['zorp blick'], {}, "'zorp blick' in flagged holds word.* never saw"),
    (['family visit'], dict(threshold=0), r'threshold must be a number in \(0, 1\]'),
    (['family visit'], dict(threshold=1.5), r'threshold must be a number in \(0, 1\]'),
    (['family visit'], dict(background=pd.DataFrame({'a': [1]})), 'background'),
    (['family visit'], dict(metric=['accuracy', 'f1']), 'one metric with and without.*holds 2'),
])
def test_bad_text_input_changes_nothing(custom_text, notes, flagged, kw, match):
    data = notes[1].head(20)
    assert_call_leaves_everything(custom_text, lambda: custom_text.reliance(data, flagged, **kw, **Q), data,
                                  raises=(ValueError, TypeError), match=match)


def test_bad_tabular_input_changes_nothing(leaky):
    learn, test = leaky
    data = test.head(20)
    assert_call_leaves_everything(learn, lambda: learn.reliance(data, ['nope'], **Q), data,
                                  raises=ParameterError, match=r"unknown column\(s\) \['nope'\] in flagged")


def test_the_summary_takes_a_custom_metric_or_a_list_of_one(leaky):
    learn, test = leaky
    error_rate = lambda preds, targs: float((preds.argmax(1) != targs.view(-1)).float().mean())
    rel = learn.reliance(test, ['leak'], n_background=50, seed=0, metric=error_rate, greater_is_better=False, **Q)
    base = learn.reliance(test, ['leak'], n_background=50, seed=0, metric=['accuracy'], **Q).attrs['summary']
    s = rel.attrs['summary']
    assert s['greater_is_better'] is False
    assert s['score'] == pytest.approx(1 - base['score']) and s['score_without'] == pytest.approx(1 - base['score_without'])


def test_the_banner_appears_exactly_where_the_prediction_relies(custom_text, notes):
    test = notes[1].head(24)
    expl = custom_text.explain(test['text'].tolist(), method='occlusion', flagged=[CLINICAL_LEAK], **Q)
    rel = custom_text.reliance(test, [CLINICAL_LEAK], **Q)
    assert [r['Relies'] for r in expl.attrs['reliance']] == list(rel['Relies'])
    for i, r in enumerate(expl.attrs['reliance']):
        fragment = fastai_featimp.explanation_html(expl, i)
        banner = 'featimp-banner' in fragment
        assert banner == bool(rel['Relies'].iloc[i])
        if banner:
            words = html.unescape(re.search(r'<div class="featimp-banner"[^>]*>(.*?)</div>', fragment).group(1))
            assert f"{rel['Prediction'].iloc[i]:.2f} with them and {rel['Without'].iloc[i]:.2f} without" in words
            assert 'Discount this prediction' in words and 'family visit' in words
        flagged = expl[(expl['row'] == i) & expl['Flagged']]
        assert set(flagged['Variable'].str.lower()) <= {'family', 'visit'}
        assert (len(flagged) > 0) == bool(test['has_family_visit'].iloc[i])
    assert expl.attrs['reliance'][0]['Prediction'] == pytest.approx(expl.attrs['outputs'][0], abs=1e-6)
    assert 0 < rel['Relies'].sum() < len(rel)   # both kinds of row were checked


def test_a_tabular_waterfall_marks_the_flagged_bars_and_states_both_predictions(leaky):
    learn, test = leaky
    expl = learn.explain(test.head(2), n_background=30, seed=0, flagged=['leak'], **Q)
    assert expl.loc[expl['Variable'] == 'leak', 'Flagged'].all() and not expl.loc[expl['Variable'] != 'leak', 'Flagged'].any()
    ax = learn.plot_explanation(expl, row=0)
    marked = [p for p in ax.patches if p.get_gid() == 'flagged']
    assert len(marked) == 1 and 'without the flagged leak' in ax.get_title()
    r = expl.attrs['reliance'][0]
    assert f"{r['Prediction']:.3g}" in ax.get_title() and f"{r['Without']:.3g}" in ax.get_title()
    plt.close(ax.figure)
