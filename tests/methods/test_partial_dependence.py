"Partial dependence, ICE and ALE: consistency, an independent reference, known answers, original units."
import numpy as np
import pandas as pd
import pytest
import torch
from fastai.tabular.all import CategoryBlock, MSELossFlat, RegressionBlock, load_learner
from sklearn.inspection import partial_dependence as sk_partial_dependence

from helpers import (ProcessedMatrixClassifier, assert_learner_unchanged, learner_snapshot, make_binary_df,
                     multi_df, processed_matrix, train)

Q = dict(show_progress=False)


def test_pd_is_the_mean_of_ice_and_centering(binary_learner, binary_test):
    r = binary_learner.partial_dependence('signal', binary_test, kind='both', **Q)
    assert r.individual.shape == (len(binary_test), len(r.grid_values[0]))
    np.testing.assert_allclose(r.average, r.individual.mean(0), atol=1e-12)
    c = binary_learner.partial_dependence('signal', binary_test, kind='individual', centered=True, **Q)
    assert np.all(c.individual[:, 0] == 0) and c.average[0] == 0
    np.testing.assert_allclose(c.individual, r.individual - r.individual[:, :1], atol=1e-12)
    assert r.target == 'yes' and np.all(np.diff(r.average) > 0)   # P(yes) rises with the signal


def test_grid_in_original_units_between_percentiles(binary_learner, binary_test):
    r = binary_learner.partial_dependence('weak', binary_test, grid_resolution=7, percentiles=(0.1, 0.9), **Q)
    grid = r.grid_values[0]
    lo, hi = binary_test['weak'].quantile([0.1, 0.9])
    assert len(grid) == 7 and grid[0] == pytest.approx(lo) and grid[-1] == pytest.approx(hi)
    assert np.all(np.diff(grid) > 0)


@pytest.mark.parametrize('feature', ['signal', 'level'])
def test_agrees_with_sklearn_brute_partial_dependence(binary_learner, binary_test, feature):
    learn = binary_learner
    r = learn.partial_dependence(feature, binary_test, **Q)
    X = processed_matrix(learn, binary_test)
    names = list(learn.dls.cat_names) + list(learn.dls.cont_names)
    j = names.index(feature)
    if feature == 'signal':
        norm = learn.dls.train_ds.procs.normalize
        grid = (np.asarray(r.grid_values[0]) - norm.means[feature]) / norm.stds[feature]
    else:
        levels = list(learn.dls.train_ds.procs.categorify.classes[feature])
        grid = np.array([levels.index(v) for v in r.grid_values[0]], dtype=float)
    learn.model.eval()
    est = ProcessedMatrixClassifier(learn.model, len(learn.dls.cat_names)).fit(X, None)
    ref = sk_partial_dependence(est, X, [j], custom_values={j: grid}, method='brute', kind='average',
                                response_method='predict_proba')
    np.testing.assert_allclose(r.average, ref['average'][0], atol=1e-5)


class Additive(torch.nn.Module):
    "f = 1.5 a - 2 b + sin(2 a): additive in the normalised inputs; ignores c0 and k."
    def forward(self, x_cat, x_cont):
        a, b = x_cont[:, 0], x_cont[:, 1]
        return (1.5 * a - 2.0 * b + torch.sin(2 * a))[:, None]


class Linear(torch.nn.Module):
    def forward(self, x_cat, x_cont): return (1.5 * x_cont[:, 0] - 2.0 * x_cont[:, 1])[:, None]


@pytest.fixture(scope='module')
def regression():
    rng = np.random.default_rng(0)
    n = 800
    df = pd.DataFrame({'a': rng.normal(10, 3, n), 'b': rng.normal(-2, 0.5, n), 'c0': rng.normal(size=n),
                       'k': rng.choice(['p', 'q', 'r'], n), 'y': 0.0})
    learn = train(df, 'y', ['k'], ['a', 'b', 'c0'], epochs=1, y_block=RegressionBlock(), loss_func=MSELossFlat())
    return learn, df


def with_model(learn, model, fn):
    saved, learn.model = learn.model, model
    try: return fn()
    finally: learn.model = saved


def test_linear_model_slope_in_original_units_and_flat_ignored_columns(regression):
    learn, df = regression
    norm = learn.dls.train_ds.procs.normalize
    def run():
        a = learn.partial_dependence('a', df, output='raw', **Q)
        c0 = learn.partial_dependence('c0', df, output='raw', kind='both', **Q)
        k = learn.partial_dependence('k', df, output='raw', **Q)
        return a, c0, k
    a, c0, k = with_model(learn, Linear(), run)
    slope = np.diff(a.average) / np.diff(a.grid_values[0])
    np.testing.assert_allclose(slope, 1.5 / norm.stds['a'], rtol=1e-4)
    assert np.all(c0.individual == c0.individual[:, :1]) and np.all(k.average == k.average[0])


def test_ale_of_an_additive_model_equals_pd_up_to_a_constant(regression):
    learn, df = regression
    norm = learn.dls.train_ds.procs.normalize
    ale = with_model(learn, Additive(), lambda: learn.accumulated_local_effects('a', df, bins=15, output='raw'))
    edges = ale.grid_values[0]
    z = (edges - norm.means['a']) / norm.stds['a']
    pd_at_edges = 1.5 * z + np.sin(2 * z)          # the PD of `a`, up to a constant, at the same points
    diff = ale.average - pd_at_edges
    assert np.ptp(diff) < 1e-4
    assert edges[0] == df['a'].min() and edges[-1] == df['a'].max()   # original units, as written
    assert ale.kind == 'ale' and len(ale.average) == len(edges)


def test_categorical_grid_is_the_training_vocabulary(binary_learner, binary_test):
    r = binary_learner.partial_dependence('level', binary_test, kind='both', **Q)
    assert r.grid_values[0] == ['a', 'b', 'c'] and r.categorical == [True]
    with_na = binary_test.copy()
    with_na.loc[with_na.index[:5], 'level'] = np.nan
    # '#na#' never occurred in training: the model never met it, so it is left out
    assert binary_learner.partial_dependence('level', with_na, **Q).grid_values[0] == ['a', 'b', 'c']
    trained_with_na = make_binary_df(1000, 7)
    trained_with_na.loc[trained_with_na.index[:50], 'level'] = np.nan
    learn = train(trained_with_na, 'y', ['level'], ['signal'], epochs=1)
    assert learn.partial_dependence('level', with_na, **Q).grid_values[0] == ['#na#', 'a', 'b', 'c']
    frame = r.to_frame()
    assert set(frame['level']) == {'a', 'b', 'c'} and len(frame) == 3 * len(binary_test)


def test_missing_indicator_marks_grid_rows_present():
    df = make_binary_df(1500, 5)
    df.loc[df.index % 4 == 0, 'signal'] = np.nan
    learn = train(df, 'y', ['level'], ['signal', 'weak'], epochs=2)
    r = learn.partial_dependence('signal', df, kind='individual', grid_resolution=3, **Q)
    to = learn.dls.test_dl(df).dataset
    x_cat = torch.as_tensor(to.cats.to_numpy()).long(); x_cont = torch.as_tensor(to.conts.to_numpy(), dtype=torch.float32)
    norm, cats = learn.dls.train_ds.procs.normalize, learn.dls.train_ds.procs.categorify
    x_cont[:, 0] = float((r.grid_values[0][1] - norm.means['signal']) / norm.stds['signal'])
    x_cat[:, learn.dls.cat_names.index('signal_na')] = list(cats.classes['signal_na']).index(False)
    learn.model.eval()
    with torch.inference_mode(): expected = torch.softmax(learn.model(x_cat, x_cont), -1)[:, 1].double().numpy()
    np.testing.assert_allclose(r.individual[:, 1], expected, atol=1e-6)


def test_two_way_and_plots(binary_learner, binary_test):
    import matplotlib.pyplot as plt
    r = binary_learner.partial_dependence(['signal', 'weak'], binary_test, grid_resolution=5, **Q)
    assert r.average.shape == (5, 5) and len(r.to_frame()) == 25
    assert r.average[-1, -1] > r.average[0, 0]
    ax = r.plot(); assert ax.collections; plt.close(ax.figure)
    mixed = binary_learner.partial_dependence(['signal', 'level'], binary_test, grid_resolution=4, **Q)
    assert mixed.average.shape == (4, 3)
    ax = mixed.plot(); assert ax.images; plt.close(ax.figure)
    ax = binary_learner.plot_partial_dependence('signal', binary_test, subsample=100, seed=0, **Q)
    assert len(ax.lines) >= 100 and 'P(yes)' in ax.get_ylabel()
    plt.close(ax.figure)
    ax = binary_learner.accumulated_local_effects('signal', binary_test).plot()
    assert 'ALE' in ax.get_ylabel(); plt.close(ax.figure)


def test_subsample_is_seeded(binary_learner, binary_test):
    a = binary_learner.partial_dependence('signal', binary_test, kind='both', subsample=50, seed=1, **Q)
    b = binary_learner.partial_dependence('signal', binary_test, kind='both', subsample=50, seed=1, **Q)
    assert a.individual.shape[0] == 50 and np.array_equal(a.individual, b.individual)


def test_multiclass_regression_and_loaded_learner(tmp_path, quiet):
    df = multi_df(1500, 0)
    multi = train(df, 'cls', ['k'], ['a', 'b', 'noise'], epochs=2, y_block=CategoryBlock())
    with pytest.raises(ValueError, match='pass target='):
        multi.partial_dependence('a', df, **Q)
    hi = multi.partial_dependence('a', df, target='hi', **Q)
    assert hi.average[-1] > hi.average[0] and hi.target == 'hi'
    reg = train(df, 'reg', ['k'], ['a', 'b', 'noise'], epochs=3, y_block=RegressionBlock())
    r = reg.partial_dependence('a', df, **Q)
    assert r.average[-1] - r.average[0] > 2 and r.target == 'reg'
    reg.export(tmp_path / 'reg.pkl')
    loaded = load_learner(tmp_path / 'reg.pkl')
    np.testing.assert_allclose(loaded.partial_dependence('a', df, **Q).average, r.average, atol=1e-6)
    with pytest.raises(ValueError, match='pass df='):
        loaded.partial_dependence('a', **Q)


@pytest.mark.parametrize('call, match', [
    (lambda l, d: l.partial_dependence('nope', d, **Q), "unknown column 'nope'"),
    (lambda l, d: l.partial_dependence('signal', d, grid_resolution=1, **Q), 'grid_resolution must be an integer >= 2'),
    (lambda l, d: l.partial_dependence(['signal', 'weak', 'noise'], d, **Q), 'one column name or a pair'),
    (lambda l, d: l.partial_dependence(['signal', 'weak'], d, kind='both', **Q), 'ICE curves are for one column'),
    (lambda l, d: l.partial_dependence('signal', d, kind='ice', **Q), 'kind must be one of'),
    (lambda l, d: l.partial_dependence('signal', d, output='logit', **Q), "output must be 'probability' or 'raw'"),
    (lambda l, d: l.partial_dependence('signal', d, target='maybe', **Q), "unknown target 'maybe'"),
])
def test_bad_input_and_learner_unchanged(binary_learner, binary_test, call, match):
    snap = learner_snapshot(binary_learner)
    with pytest.raises(ValueError, match=match):
        call(binary_learner, binary_test)
    assert_learner_unchanged(binary_learner, snap)


def test_validation_set_default_warns(binary_learner):
    with pytest.warns(UserWarning, match='validation set'):
        r = binary_learner.partial_dependence('signal', **Q)
    assert len(r.average) == 20
