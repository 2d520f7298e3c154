"""Open doors to the libraries users already live in: explanations as `shap.Explanation` (shap's plots draw them),
and captum's attribution methods on fastai tabular and text learners through `captum_inputs`."""
import subprocess
import sys
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch

import fastai_featimp
from helpers import train

shap = pytest.importorskip('shap')
captum = pytest.importorskip('captum.attr')
Q = dict(show_progress=False)


@pytest.fixture(scope='module')
def six_columns():
    "A model on 6 columns (3 categorical, 3 continuous, one with missing values): exact Shapley values are cheap."
    rng = np.random.default_rng(0)
    n = 2000
    df = pd.DataFrame({'a': rng.normal(size=n), 'b': rng.normal(size=n), 'c': rng.normal(size=n),
                       'k': rng.choice(list('pqr'), n), 'm': rng.choice(list('uv'), n), 'z': rng.choice(list('xyz'), n)})
    df.loc[rng.random(n) < 0.1, 'c'] = np.nan
    logit = 2 * df['a'] - df['b'] + df['k'].map({'p': -1, 'q': 0, 'r': 1}) + df['c'].fillna(0)
    df['y'] = np.where(logit + 0.3 * rng.normal(size=n) > 0, 'yes', 'no')
    return train(df, 'y', ['k', 'm', 'z'], ['a', 'b', 'c'], epochs=3), df


def test_to_shap_round_trips_a_tabular_explanation(six_columns):
    learn, df = six_columns
    expl = learn.explain(df.iloc[:5], n_background=30, seed=0, **Q)
    sv = fastai_featimp.to_shap(expl)
    assert sv.values.shape == (5, 6) and list(sv.feature_names) == list(dict.fromkeys(expl['Variable']))
    wide = expl.pivot(index='row', columns='Variable', values='Contribution')[sv.feature_names]
    np.testing.assert_allclose(sv.values, wide.to_numpy())
    np.testing.assert_allclose(sv.base_values, expl.attrs['base_values'])
    np.testing.assert_allclose(sv.values.sum(1) + sv.base_values, expl.attrs['outputs'], atol=1e-6)
    assert sv.data[0, list(sv.feature_names).index('k')] == df['k'].iloc[0] and sv.output_names == 'yes'
    for plot in (lambda: shap.plots.waterfall(sv[0], show=False), lambda: shap.plots.beeswarm(sv, show=False),
                 lambda: shap.plots.bar(sv, show=False), lambda: shap.plots.heatmap(sv, show=False)):
        plot(); plt.close('all')
    sampled = fastai_featimp.to_shap(learn.explain(df.iloc[:2], method='permutation', n_permutations=6, seed=0, **Q))
    assert sampled.error_std is not None and sampled.error_std.shape == (2, 6)


def test_to_shap_round_trips_a_text_explanation(custom_text, notes):
    texts = notes[1]['text'].head(3).tolist()
    expl = custom_text.explain(texts, n_permutations=4, seed=0, **Q)
    sv = fastai_featimp.to_shap(expl)
    for r in range(3):
        part = expl[expl['row'] == r]
        np.testing.assert_allclose(sv[r].values, part['Contribution'])
        assert ''.join(sv[r].data) == texts[r]                       # the pieces spell the note
        assert [p.strip() for p in sv[r].data][:3] == list(part['Variable'])[:3]
        assert sv[r].base_values == pytest.approx(expl.attrs['base_values'][r])
    html = shap.plots.text(sv, display=False)
    assert 'Family' in html or 'family' in html.lower()
    shap.plots.text(sv[0], display=False)
    shap.plots.bar(sv[0], show=False); plt.close('all')


@pytest.mark.slow
def test_without_shap_the_error_names_the_extra():
    code = ("import sys; sys.modules['shap'] = None\n"
            "import pandas as pd, fastai_featimp\n"
            "e = pd.DataFrame({'row': [0], 'Variable': ['a'], 'Value': [1], 'Contribution': [0.1], 'Std': [float('nan')]})\n"
            "e.attrs.update(base_values=[0.5], outputs=[0.6], targets=['yes'])\n"
            "try: fastai_featimp.to_shap(e)\n"
            "except ImportError as err: print('ERR', err)\n")
    res = subprocess.run([sys.executable, '-W', 'ignore', '-c', code], capture_output=True, text=True, timeout=300)
    assert 'ERR to_shap needs the shap package' in res.stdout and 'fastai_featimp[shap]' in res.stdout, res.stderr[-800:]


def test_captum_feature_ablation_is_the_text_occlusion(custom_text, notes):
    text = notes[1]['text'].iloc[0]
    ci = fastai_featimp.captum_inputs(custom_text, text)
    attr = captum.FeatureAblation(ci.forward_func).attribute(ci.inputs, baselines=ci.baselines,
                                                             feature_mask=ci.feature_mask, target=ci.target)
    ours = custom_text.explain(text, method='occlusion', **Q)
    frame = ci.to_frame(attr)
    np.testing.assert_allclose(frame['Contribution'], ours['Contribution'], atol=1e-6)
    assert list(frame['Variable']) == list(ours['Variable']) and list(frame['Start']) == list(ours['Start'])
    assert 1 not in ci.baselines[0].tolist()   # xxpad never


@pytest.mark.slow
def test_captum_integrated_gradients_on_the_awd_lstm_embeddings(awd_lstm, notes):
    text = notes[1][notes[1]['has_family_visit']]['text'].iloc[0]
    ci = fastai_featimp.captum_inputs(awd_lstm, text)
    emb = ci.embedding()
    attr, delta = captum.IntegratedGradients(emb.forward_func).attribute(
        emb.inputs, baselines=emb.baselines, target=emb.target, n_steps=64, return_convergence_delta=True)
    frame = emb.to_frame(attr)
    gap = frame.attrs['outputs'][0] - frame.attrs['base_values'][0]
    assert abs(frame['Contribution'].sum() - gap) <= abs(float(delta)) + 1e-5   # completeness, within captum's own error
    assert abs(float(delta)) < 0.05 * abs(gap) + 1e-3
    layer = captum.LayerIntegratedGradients(ci.forward_func, ci.layer).attribute(
        ci.inputs, baselines=ci.baselines, target=ci.target, n_steps=64)
    np.testing.assert_allclose(ci.to_frame(layer, reduce='sum')['Contribution'], frame['Contribution'], atol=1e-4)
    top = frame.loc[frame['Contribution'].idxmax(), 'Variable']
    assert top.lower() in ('family', 'visit')   # the planted leak lights up


def test_captum_shapley_sampling_approaches_the_exact_shapley_values(six_columns):
    learn, df = six_columns
    rows, background = df.iloc[:3], df.iloc[100:101]
    ci = fastai_featimp.captum_inputs(learn, rows, background=background)
    assert len(ci.feature_mask) == 2 and ci.feature_mask[1].max() == 5   # c and c_na share one group
    groups = torch.cat([m.reshape(-1) for m in ci.feature_mask]).unique().tolist()
    assert groups == list(range(len(ci.variables)))   # numbered 0..n-1, as captum wants (no "missing integers")
    exact = learn.explain(rows, background=background, method='exact', **Q)
    errors = []
    for n_samples in (20, 1000):
        torch.manual_seed(0)
        with warnings.catch_warnings():
            warnings.simplefilter('error', UserWarning)   # captum warns of a mask with gaps
            attr = captum.ShapleyValueSampling(ci.forward_func).attribute(ci.inputs, baselines=ci.baselines,
                                                                          feature_mask=ci.feature_mask,
                                                                          target=ci.target, n_samples=n_samples)
        errors.append(np.abs(ci.to_frame(attr)['Contribution'] - exact['Contribution']).max())
    assert errors[1] < errors[0] and errors[1] < 0.012, errors   # more samples, closer to the exact values
    ablation = ci.to_frame(captum.FeatureAblation(ci.forward_func).attribute(
        ci.inputs, baselines=ci.baselines, feature_mask=ci.feature_mask, target=ci.target))
    assert ablation.attrs['outputs'] == pytest.approx(exact.attrs['outputs'], abs=1e-6)
    emb = ci.embedding()
    ig = captum.IntegratedGradients(emb.forward_func).attribute(emb.inputs, baselines=emb.baselines, target=emb.target,
                                                                n_steps=100)
    frame = emb.to_frame(ig)
    gaps = np.array(frame.attrs['outputs']) - np.array(frame.attrs['base_values'])
    np.testing.assert_allclose(frame.groupby('row')['Contribution'].sum(), gaps, atol=0.01)   # completeness
