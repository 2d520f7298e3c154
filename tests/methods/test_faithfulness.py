"""Which explanation can I believe? Faithfulness (deletion, insertion, comprehensiveness, sufficiency) read against
random orders and the reverse, the comparison of methods, and the model-randomisation sanity check (issue 22)."""
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch
from fastai.tabular.all import RegressionBlock

import fastai_featimp
from fastai_featimp import ParameterError
from fastai_featimp.datasets import CLINICAL_LEAK
from helpers import assert_call_leaves_everything, text_dls, train

Q = dict(show_progress=False)


class LinearTabular(torch.nn.Module):
    "output = w . continuous values + effect[level]: each column's effect on a row is known exactly."
    def __init__(self, w, effects):
        super().__init__()
        self.w, self.effects = torch.nn.Parameter(torch.tensor(w)), torch.nn.Parameter(torch.tensor(effects))
    def forward(self, x_cat, x_cont): return (x_cont @ self.w + self.effects[x_cat[:, 0]])[:, None]


@pytest.fixture(scope='module')
def linear():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({'a': rng.normal(size=600), 'b': rng.normal(size=600), 'c': rng.normal(size=600),
                       'k': rng.choice(list('pqr'), 600)})
    df['y'] = df['a'] + rng.normal(size=600)
    learn = train(df, 'y', ['k'], ['a', 'b', 'c'], epochs=1, y_block=RegressionBlock())
    learn.model = LinearTabular([2.0, -1.0, 0.5], [0.0, 1.5, -0.7, 0.3])   # codes 0 (#na#), p, q, r
    return learn, df


def true_effects(learn, rows, background):
    "Interventional Shapley values of the linear model: w_j (x_j - mean over the background of x_j)."
    x = learn.dls.test_dl(rows).dataset
    b = learn.dls.test_dl(background).dataset
    w = np.array([2.0, -1.0, 0.5]); effects = np.array([0.0, 1.5, -0.7, 0.3])
    cont = (x.conts.to_numpy() - b.conts.to_numpy().mean(0)) * w
    cat = effects[x.cats['k'].to_numpy()] - effects[b.cats['k'].to_numpy()].mean()
    return np.column_stack([cat, cont])   # the learner's order: k, then a, b, c


def test_a_known_additive_table_gives_the_true_curves(linear):
    learn, df = linear
    rows, background = df.iloc[:4], df.iloc[100:160]
    expl = learn.explain(rows, background=background, **Q)
    truth = true_effects(learn, rows, background)
    np.testing.assert_allclose(expl.pivot(index='row', columns='Variable', values='Contribution')[['k', 'a', 'b', 'c']],
                               truth, atol=1e-5)
    ev = learn.evaluate_explanation(expl, rows, background=background, k=(1, 2), n_random=30, seed=0, **Q)
    for r in range(4):
        order = np.argsort(-truth[r], kind='stable')
        curve = expl.attrs['outputs'][r] - np.concatenate([[0], np.cumsum(truth[r][order])])
        np.testing.assert_allclose(ev.attrs['curves'][r]['deletion'], curve, atol=1e-5)
        row = ev[ev['row'] == r].set_index('Metric')
        assert row.loc['comprehensiveness@2', 'Explanation'] == pytest.approx(np.sort(truth[r])[::-1][:2].sum(), abs=1e-5)
        assert row.loc['deletion_aopc', 'Explanation'] >= row.loc['deletion_aopc', 'Random'] - 1e-9
    overall = ev[ev['row'] == 'all'].set_index('Metric')
    assert overall.loc['deletion_aopc', 'Explanation'] > overall.loc['deletion_aopc', 'Random'] > \
        overall.loc['deletion_aopc', 'Reverse']


class BagOfWords(torch.nn.Module):
    "logit(died) = the sum of each token's weight (xxunk weighs 0): a word's effect is exactly its tokens' weights."
    def __init__(self, weights): super().__init__(); self.weights = torch.nn.Parameter(weights)
    def forward(self, x): return torch.stack([torch.zeros(x.shape[0]), self.weights[x].sum(1)], 1)


@pytest.fixture(scope='module')
def bag(notes):
    from fastai.text.all import Learner
    dls = text_dls(notes[0].head(400))
    vocab = dls.vocab[0]
    weights = torch.tensor(np.random.default_rng(1).normal(size=len(vocab)), dtype=torch.float32)
    weights[0] = 0.0   # xxunk
    return Learner(dls, BagOfWords(weights)), weights


def test_a_known_bag_of_words_gives_the_true_curves(bag, notes):
    learn, weights = bag
    texts = notes[1]['text'].head(3).tolist()
    expl = learn.explain(texts, output='raw', n_permutations=4, seed=0, **Q)
    from fastai_featimp.text.data import numericalize, tokenize
    from fastai_featimp.text.schema import text_schema
    schema = text_schema(learn)
    ev = learn.evaluate_explanation(expl, k=(1, 3), n_random=20, seed=0, **Q)
    for r, text in enumerate(texts):
        part = expl[expl['row'] == r]
        ids = numericalize(schema, tokenize(schema, [text])[0])
        truth = np.array([float(weights[ids[[int(p) for p in range(len(ids)) if p in pos]]].sum()) for pos in
                          [set(_positions(schema, text, u)) for u in range(len(part))]])
        np.testing.assert_allclose(part['Contribution'], truth, atol=1e-4)   # Shapley of an additive model: exact
        order = np.argsort(-truth, kind='stable')
        curve = expl.attrs['outputs'][r] - np.concatenate([[0], np.cumsum(truth[order])])
        np.testing.assert_allclose(ev.attrs['curves'][r]['deletion'], curve, atol=1e-4)
        row = ev[ev['row'] == r].set_index('Metric')
        assert row.loc['comprehensiveness@3', 'Explanation'] == pytest.approx(np.sort(truth)[::-1][:3].sum(), abs=1e-4)
        assert row.loc['deletion_aopc', 'Explanation'] > row.loc['deletion_aopc', 'Random']


def _positions(schema, text, j):
    from fastai_featimp.text.data import tokenize
    from fastai_featimp.text.units import align, word_units
    tokens = tokenize(schema, [text])[0]
    return align(text, tokens, word_units(tokens), schema.tokenizer.rules)[j].positions


@pytest.mark.parametrize('model', ['custom_text', pytest.param('awd_lstm', marks=pytest.mark.slow)])
def test_on_the_leak_notes_shapley_and_occlusion_beat_chance(request, notes, model):
    learn = request.getfixturevalue(model)
    texts = notes[1][notes[1]['has_family_visit']]['text'].head(4).tolist()
    for method in ('shapley', 'occlusion'):
        expl = learn.explain(texts, method=method, n_permutations=10, seed=0, **Q)
        ev = learn.evaluate_explanation(expl, n_random=10, seed=0, **Q)
        d = ev[(ev['row'] == 'all') & (ev['Metric'] == 'deletion_aopc')].iloc[0]
        assert d['Explanation'] > d['Random'] + 2 * d['RandomStd'], (method, d.to_dict())
        assert d['Reverse'] < d['Random'], (method, d.to_dict())
    ax = fastai_featimp.plot_deletion_curves(ev)
    assert len(ax.collections) >= 1 and 'deletion AOPC' in ax.get_title()
    plt.close(ax.figure)


def test_the_sanity_check_randomises_a_copy(custom_text, notes):
    texts = notes[1][notes[1]['has_family_visit']]['text'].head(4).tolist()
    weights = {k: v.clone() for k, v in custom_text.model.state_dict().items()}
    for method in ('shapley', 'occlusion'):
        sc = custom_text.sanity_check(texts, method=method, seed=0, n_permutations=6)
        assert sc['RankCorrelation'].iloc[0] == 1.0 and abs(sc['RankCorrelation'].iloc[-1]) < 0.3, sc
        assert sc.attrs['passed'] and 'passes' in sc.attrs['verdict'] and sc.attrs['blocks'][0] == 'head'
    for k, v in custom_text.model.state_dict().items(): assert torch.equal(v, weights[k]), k   # bit-identical
    again = custom_text.sanity_check(texts, method='occlusion', seed=0)
    pd.testing.assert_frame_equal(again, custom_text.sanity_check(texts, method='occlusion', seed=0))
    independent = custom_text.sanity_check(texts, method='occlusion', layers='independent', seed=0)
    assert independent.attrs['passed'] is None and list(independent['Randomised'])[1:] == sc.attrs['blocks']


def test_compare_explanations_is_reproducible_and_skips_what_cannot_run(custom_text, bag, notes):
    texts = notes[1][notes[1]['has_family_visit']]['text'].head(4).tolist()
    a = custom_text.compare_explanations(texts, seed=0, n_random=10, n_permutations=6)
    b = custom_text.compare_explanations(texts, seed=0, n_random=10, n_permutations=6)
    pd.testing.assert_frame_equal(a.drop(columns='Seconds'), b.drop(columns='Seconds'))
    assert list(a['Method']) == ['shapley', 'occlusion', 'integrated_gradients'] and (a['Status'] == 'ok').all()
    assert a.attrs['agreement'].shape == (3, 3) and 'recommended' in a.attrs and a.attrs['reason']
    assert set(a['Rank']) <= {1.0, 2.0, 3.0} and a['Agreement'].between(-1, 1).all()
    learn, _ = bag   # indexes its weights directly: no embedding layer for integrated gradients
    c = learn.compare_explanations(texts[:2], seed=0, n_random=5, n_permutations=4)
    skipped = c.set_index('Method').loc['integrated_gradients']
    assert skipped['Status'].startswith('skipped: integrated gradients needs an embedding layer')


def test_tabular_methods_compare(linear):
    learn, df = linear
    table = learn.compare_explanations(df.iloc[:5], seed=0, n_random=10, n_background=40)
    assert list(table['Method']) == ['exact', 'permutation'] and (table['Status'] == 'ok').all()
    # background= reaches the evaluation too; without a seed both methods still share one, kept in attrs
    table = learn.compare_explanations(df.iloc[:3], n_random=5, background=df.iloc[100:140])
    assert (table['Status'] == 'ok').all() and isinstance(table.attrs['seed'], int)
    with pytest.raises(ParameterError, match='target'):   # no method can run: the reason, not a table of skips
        learn.compare_explanations(df.iloc[:2], n_random=5, n_background=20, target='no such class')
    sc = learn.sanity_check(df.iloc[:3], n_background=20, show_progress=False)
    pd.testing.assert_frame_equal(sc, learn.sanity_check(df.iloc[:3], n_background=20, seed=sc.attrs['seed']))


def test_bad_input(custom_text, bag, notes, linear):
    texts = notes[1]['text'].head(2).tolist()
    expl = custom_text.explain(texts, method='occlusion', **Q)
    learn, _ = bag
    assert_call_leaves_everything(learn, lambda: learn.evaluate_explanation(expl, **Q), raises=ParameterError,
                                  match='made with another learner')
    with pytest.raises(ParameterError, match=r'k=500 is more units than row'):
        custom_text.evaluate_explanation(expl, k=500, **Q)
    with pytest.raises(ParameterError, match='n_random must be an integer >= 1, got 0'):
        custom_text.evaluate_explanation(expl, n_random=0, **Q)
    with pytest.raises(ParameterError, match='k must be unit counts'):
        custom_text.evaluate_explanation(expl, k=[-1], **Q)
    tab, df = linear
    e = tab.explain(df.iloc[:2], n_background=20, seed=0, **Q)
    tab.evaluate_explanation(e, n_random=2, **Q)   # the rows it explained are kept with it
    lost = e.copy()
    lost.attrs = {k: v for k, v in e.attrs.items() if k != 'data'}   # an explanation made before it kept them
    with pytest.raises(ParameterError, match='pass data='):
        tab.evaluate_explanation(lost, **Q)
    with pytest.raises(ParameterError, match='not the rows this explanation was made from'):
        tab.evaluate_explanation(e, df.iloc[2:4], **Q)
    with pytest.raises(ParameterError, match='another learner, or on other rows'):   # without the rows kept: the outputs tell
        tab.evaluate_explanation(lost, df.iloc[2:4], **Q)
