"Shapley explanations of single predictions: efficiency, an independent reference, known answers."
import numpy as np
import pandas as pd
import pytest
import torch
from fastai.tabular.all import RegressionBlock, MSELossFlat

import fastai_featimp
from helpers import BIN_CAT, BIN_CONT, train
from helpers import assert_learner_unchanged, learner_snapshot, processed_matrix


@pytest.fixture(scope='module')
def rows(binary_test): return binary_test.iloc[:4]


@pytest.fixture(scope='module')
def background(binary_test): return binary_test.iloc[100:160]


@pytest.mark.parametrize('method', ['exact', 'permutation'])
def test_efficiency_for_every_row(binary_learner, rows, background, method):
    e = binary_learner.explain(rows, background=background, method=method, seed=0, show_progress=False)
    assert list(e.columns) == ['row', 'Variable', 'Value', 'Contribution', 'Std']
    assert len(e) == len(rows) * len(BIN_CAT + BIN_CONT)
    for r in range(len(rows)):
        total = e.attrs['base_values'][r] + e[e['row'] == r]['Contribution'].sum()
        assert total == pytest.approx(e.attrs['outputs'][r], abs=1e-6)
    assert e.attrs['method'] == method and (e['Std'].notna().all() if method == 'permutation' else e['Std'].isna().all())


def test_outputs_are_the_models_probabilities_of_the_positive_class(binary_learner, rows, background, quiet):
    "A binary model explains P(positive class) for every row, so many rows can be summarised together."
    e = binary_learner.explain(rows, background=background, seed=0, show_progress=False)
    with binary_learner.no_bar():
        probs = binary_learner.get_preds(dl=binary_learner.dls.test_dl(rows))[0]
    vocab = list(binary_learner.dls.vocab)
    for r in range(len(rows)):
        assert e.attrs['targets'][r] == vocab[1]
        assert e.attrs['outputs'][r] == pytest.approx(float(probs[r, 1]), abs=1e-5)
    raw = binary_learner.explain(rows, background=background, seed=0, output='raw', target='no', show_progress=False)
    assert set(raw.attrs['targets']) == {'no'}


@pytest.mark.slow
def test_exact_values_equal_shap_exact_explainer(binary_learner, rows, background):
    shap = pytest.importorskip('shap')   # a [dev] dependency, installed by the README's test command
    learn = binary_learner
    matrix = lambda df: processed_matrix(learn, df)
    n_cat = len(learn.dls.cat_names)
    def f(X):
        X = torch.as_tensor(np.asarray(X), dtype=torch.float32)
        with torch.inference_mode():
            return torch.softmax(learn.model(X[:, :n_cat].long(), X[:, n_cat:]), -1)[:, 1].double().numpy()
    learn.model.eval()
    bg = matrix(background)
    ref = shap.ExactExplainer(f, shap.maskers.Independent(bg, max_samples=len(bg)))(matrix(rows)).values
    ours = learn.explain(rows, background=background, method='exact', target='yes', show_progress=False)
    names = list(learn.dls.cat_names) + list(learn.dls.cont_names)
    for r in range(len(rows)):
        got = ours[ours['row'] == r].set_index('Variable')['Contribution'][names].to_numpy()
        np.testing.assert_allclose(got, ref[r], atol=1e-5)


def test_permutation_within_four_standard_errors_of_exact(binary_learner, rows, background):
    kw = dict(background=background, target='yes', show_progress=False)
    exact = binary_learner.explain(rows, method='exact', **kw)
    perm = binary_learner.explain(rows, method='permutation', n_permutations=60, seed=1, **kw)
    diff = (perm['Contribution'] - exact['Contribution']).abs()
    assert (diff <= 4 * perm['Std'] + 1e-6).all()


class LinearOnConts(torch.nn.Module):
    def __init__(self, w): super().__init__(); self.w = torch.tensor(w, dtype=torch.float32)
    def forward(self, x_cat, x_cont): return (x_cont @ self.w)[:, None]


class Symmetric(torch.nn.Module):
    def forward(self, x_cat, x_cont):
        a, b = x_cont[:, 0], x_cont[:, 1]
        return (torch.tanh(a + b) + a * b + 0.3 * x_cont[:, 2])[:, None]


@pytest.fixture(scope='module')
def regression_learner():
    rng = np.random.default_rng(0)
    n = 600
    df = pd.DataFrame(rng.normal(size=(n, 3)), columns=['a', 'b', 'c0']).assign(k=rng.choice(['p', 'q'], n), y=0.0)
    return train(df, 'y', ['k'], ['a', 'b', 'c0'], epochs=1, y_block=RegressionBlock(), loss_func=MSELossFlat())


def test_linear_model_known_answer(regression_learner):
    learn = regression_learner
    saved, w = learn.model, [1.5, -2.0, 0.0]
    rng = np.random.default_rng(1)
    rows = pd.DataFrame(rng.normal(size=(3, 3)), columns=['a', 'b', 'c0']).assign(k=['p', 'q', 'p'])
    bg = pd.DataFrame(rng.normal(size=(40, 3)), columns=['a', 'b', 'c0']).assign(k=rng.choice(['p', 'q'], 40))
    learn.model = LinearOnConts(w)
    try:
        e = learn.explain(rows, background=bg, output='raw', show_progress=False)
    finally:
        learn.model = saved
    norm = learn.dls.train_ds.procs.normalize
    z = lambda df, c: (df[c] - norm.means[c]) / norm.stds[c]
    for r in range(3):
        got = e[e['row'] == r].set_index('Variable')['Contribution']
        for c, wj in zip(['a', 'b'], w):
            assert got[c] == pytest.approx(wj * (z(rows, c).iloc[r] - z(bg, c).mean()), abs=1e-5)
        assert got['c0'] == 0.0 and got['k'] == 0.0   # ignored by the model: exactly zero


def test_symmetric_columns_get_equal_values(regression_learner):
    learn = regression_learner
    rng = np.random.default_rng(2)
    norm = learn.dls.train_ds.procs.normalize
    raw = lambda c, z: np.asarray(z) * norm.stds[c] + norm.means[c]   # equal *normalised* values for a and b
    z_rows, z_bg = np.array([0.7, -1.2]), rng.normal(size=50)
    rows = pd.DataFrame({'a': raw('a', z_rows), 'b': raw('b', z_rows), 'c0': [0.1, 2.0], 'k': ['p', 'q']})
    bg = pd.DataFrame({'a': raw('a', z_bg), 'b': raw('b', z_bg), 'c0': rng.normal(size=50),
                       'k': rng.choice(['p', 'q'], 50)})
    saved, learn.model = learn.model, Symmetric()
    try:
        for method in ['exact', 'permutation']:
            e = learn.explain(rows, background=bg, output='raw', method=method, seed=0, show_progress=False)
            for r in range(2):
                got = e[e['row'] == r].set_index('Variable')['Contribution']
                assert got['a'] == pytest.approx(got['b'], abs=1e-6 if method == 'exact' else 0.05)
                assert got['k'] == 0.0
    finally:
        learn.model = saved


def test_values_are_decoded_as_the_user_wrote_them(binary_learner, rows, background):
    e = binary_learner.explain(rows, background=background, show_progress=False,
                               groups={'noise pair': ['noise', 'noise_cat']})
    first = e[e['row'] == 1].set_index('Variable')['Value']
    assert first['level'] == rows.iloc[1]['level'] and isinstance(first['level'], str)
    assert first['signal'] == rows.iloc[1]['signal']
    assert first['noise pair'] == f"noise={rows.iloc[1]['noise']}, noise_cat={rows.iloc[1]['noise_cat']}"


def test_default_background_is_a_seeded_training_sample(binary_learner, rows):
    a = binary_learner.explain(rows, n_background=30, seed=3, show_progress=False)
    b = binary_learner.explain(rows, n_background=30, seed=3, show_progress=False)
    c = binary_learner.explain(rows, n_background=30, seed=4, show_progress=False)
    pd.testing.assert_frame_equal(a, b)
    assert a.attrs['n_background'] == 30 and not np.allclose(a['Contribution'], c['Contribution'])


def test_bad_input_and_learner_unchanged(binary_learner, rows, background):
    snap = learner_snapshot(binary_learner)
    call = lambda **kw: binary_learner.explain(**{'rows': rows, 'background': background, 'show_progress': False, **kw})
    with pytest.raises(ValueError, match="lacks feature column.*'signal'"):
        call(rows=rows.drop(columns='signal'))
    with pytest.raises(ValueError, match="unknown target 'maybe'"):
        call(target='maybe')
    with pytest.raises(ValueError, match='background has no rows'):
        call(background=background.iloc[:0])
    with pytest.raises(ValueError, match="method must be"):
        call(method='kernel')
    one = call(background=background.iloc[:1])   # one background row is allowed
    assert one.attrs['n_background'] == 1
    assert_learner_unchanged(binary_learner, snap)


def test_waterfall_and_summary_plots(binary_learner, binary_test):
    import matplotlib.pyplot as plt
    e = binary_learner.explain(binary_test.iloc[:20], n_background=20, seed=0, show_progress=False)
    ax = binary_learner.plot_explanation(e, row=2, top=3)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == 4 and labels[0] == f'{len(BIN_CAT + BIN_CONT) - 3} other columns'   # folded, at the bottom
    r = e[e['row'] == 2]
    biggest = r.loc[r['Contribution'].abs().idxmax()]
    assert labels[-1].startswith(f"{biggest['Variable']} = ")   # largest contribution at the top
    assert sum(p.get_width() for p in ax.patches) == pytest.approx(e.attrs['outputs'][2] - e.attrs['base_values'][2])
    plt.close(ax.figure)
    fig = binary_learner.plot_explanation_summary(e)
    assert len(fig.axes) == 3 and len(fig.axes[1].collections) == len(BIN_CAT + BIN_CONT)
    plt.close(fig)
    with pytest.raises(ValueError, match='row 99 is not in this explanation'):
        fastai_featimp.plot_waterfall(e, row=99)
