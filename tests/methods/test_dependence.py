"Correlated features: the association matrix, automatic groups and conditional permutation."
import numpy as np
import pandas as pd
import pytest
from fastai.tabular.all import RegressionBlock, load_learner
from scipy import stats

import fastai_featimp
from fastai_featimp.core.association import correlation_ratio, cramers_v
from fastai_featimp.core.permutation import within_strata_permutation
from helpers import train


def imp(fi): return fi.set_index('Variable')['Importance']


def abcd(n, seed):
    rng = np.random.default_rng(seed)
    a, b, c, d, u, u2 = rng.random((6, n))
    return pd.DataFrame({'A': a, 'B': b, 'C': c, 'D': d, 'D2': d + 0.1 * u2, 'y': 0.2 * u + a * d + 2 * b})


@pytest.fixture(scope='module')
def abcd_learner():
    return train(abcd(3000, 0), 'y', [], ['A', 'B', 'C', 'D', 'D2'], epochs=6, y_block=RegressionBlock())


def test_synthetic_abcd(abcd_learner):
    test = abcd(3000, 1)
    assoc = abcd_learner.feature_dependence(test)
    assert assoc.loc['D', 'D2'] > 0.9 and assoc.loc['A', 'B'] < 0.1
    fi = abcd_learner.feature_importance(df=test, seed=0, show_progress=False)
    assert fi['Variable'][0] == 'B'
    auto = abcd_learner.feature_importance(df=test, groups='auto', threshold=0.5, seed=0, show_progress=False)
    groups = auto[auto['Type'] == 'group']
    assert list(groups['Variable']) == ['D + D2'] and groups['Members'].iloc[0] == ['D', 'D2']
    assert sorted(auto['Variable']) == sorted(['A', 'B', 'C', 'D + D2'])
    assert auto.attrs['threshold'] == 0.5 and auto.attrs['strategy'] == 'marginal'


def test_association_matrix_shape_and_range(abcd_learner):
    assoc = abcd_learner.feature_dependence()   # default: the training set
    assert list(assoc.index) == list(assoc.columns) == ['A', 'B', 'C', 'D', 'D2']
    assert np.allclose(assoc.to_numpy(), assoc.to_numpy().T) and np.allclose(np.diag(assoc), 1)
    assert ((assoc >= 0) & (assoc <= 1)).all().all()


def dup_df(n, seed):
    rng = np.random.default_rng(seed)
    x, other, noise = rng.normal(size=(3, n))
    k = rng.choice(['p', 'q', 'r'], n)
    return pd.DataFrame({'x': x, 'x_copy': x, 'other': other, 'noise': noise, 'k': k,
                         'y': np.where(2 * x + 0.5 * other + 0.3 * rng.normal(size=n) > 0, 'yes', 'no')})


def test_duplicated_column_marginal_vs_joint():
    learn = train(dup_df(3000, 0), 'y', ['k'], ['x', 'x_copy', 'other', 'noise'], epochs=4)
    test = dup_df(3000, 1)
    alone = imp(learn.feature_importance(df=test, seed=0, show_progress=False))
    joint = imp(learn.feature_importance(df=test, seed=0, groups={'pair': ['x', 'x_copy']}, show_progress=False))
    assert alone['x'] < 0.5 * joint['pair'] and alone['x_copy'] < 0.5 * joint['pair']
    auto = learn.feature_importance(df=test, seed=0, groups='auto', show_progress=False)
    assert 'x + x_copy' in set(auto['Variable'])
    assert imp(auto)['x + x_copy'] == pytest.approx(joint['pair'], rel=0.1)
    # user groups and automatic ones combine; a user-grouped column is not regrouped
    both = learn.feature_importance(df=test, seed=0, groups={'mine': ['x', 'noise']}, auto_groups=True,
                                    show_progress=False)
    assert set(both['Variable']) == {'mine', 'x_copy', 'other', 'k'}


def chain_df(n, seed):
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    return pd.DataFrame({'x1': x1, 'x2': x1 + 0.05 * rng.normal(size=n), 'z': rng.normal(size=n),
                         'y': 2 * x1 + 0.1 * rng.normal(size=n)})


def test_conditional_versus_marginal():
    learn = train(chain_df(4000, 0), 'y', [], ['x1', 'x2', 'z'], epochs=6, y_block=RegressionBlock())
    test = chain_df(4000, 1)
    marginal = imp(learn.feature_importance(df=test, seed=0, show_progress=False))
    cond_fi = learn.feature_importance(df=test, seed=0, strategy='conditional', show_progress=False)
    conditional = imp(cond_fi)
    assert conditional['x1'] < marginal['x1']
    assert abs(conditional['x2']) < 0.05 * marginal['x1']
    info = cond_fi.attrs['conditional']
    assert info['x2']['partners'][0] == 'x1' and info['x1']['partners'][0] == 'x2'
    assert info['z']['partners'] == []   # nothing associated: permuted freely
    assert cond_fi.attrs['strategy'] == 'conditional'


def test_within_strata_permutation_keeps_strata_and_is_a_permutation():
    rng = np.random.default_rng(0)
    strata = rng.integers(0, 7, 1000)
    strata[:1] = 99   # a stratum of one row: that row keeps its value
    perm = within_strata_permutation(np.random.default_rng(1), 1000, strata)
    assert sorted(perm) == list(range(1000))
    assert np.array_equal(strata[perm], strata)
    assert perm[0] == 0 and (perm != np.arange(1000)).mean() > 0.7


def reference_cramers_v(x, y):
    "Bergsma's bias-corrected V from a pandas crosstab and scipy's chi-square, written independently."
    table = pd.crosstab(pd.Series(x), pd.Series(y))
    chi2 = stats.chi2_contingency(table.to_numpy(), correction=False)[0]
    n = table.to_numpy().sum()
    r, k = table.shape
    phi2 = max(0, chi2 / n - (k - 1) * (r - 1) / (n - 1))
    rc, kc = r - (r - 1) ** 2 / (n - 1), k - (k - 1) ** 2 / (n - 1)
    return np.sqrt(phi2 / min(kc - 1, rc - 1))


def reference_eta(cats, values):
    df = pd.DataFrame({'c': cats, 'v': values})
    grand = df['v'].mean()
    between = df.groupby('c')['v'].agg(lambda g: len(g) * (g.mean() - grand) ** 2).sum()
    return np.sqrt(between / ((df['v'] - grand) ** 2).sum())


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_cramers_v_and_eta_match_independent_formulas(seed):
    rng = np.random.default_rng(seed)
    n = 60 + 40 * seed
    x = rng.choice(['a', 'b', 'c'], n)
    y = np.where(rng.random(n) < 0.5, x, rng.choice(['a', 'b', 'c', 'd'], n))
    assert cramers_v(x, y) == pytest.approx(reference_cramers_v(x, y), abs=1e-12)
    v = (x == 'a') * 1.5 + rng.normal(size=n)
    assert correlation_ratio(x, v) == pytest.approx(reference_eta(x, v), abs=1e-12)
    # the uncorrected statistic from scipy is an upper bound of the corrected one
    table = pd.crosstab(x, y).to_numpy()
    assert cramers_v(x, y) <= stats.contingency.association(table, method='cramer') + 1e-12


def test_missing_values_follow_fastai():
    "FillMissing's `_na` indicator belongs to its column; missing categories are a level of their own."
    df = dup_df(1500, 2)
    df.loc[df.index % 5 == 0, 'other'] = np.nan
    df.loc[df.index % 7 == 0, 'k'] = np.nan
    learn = train(df, 'y', ['k'], ['x', 'other'], epochs=1)
    assert 'other_na' in learn.dls.cat_names
    assoc = learn.feature_dependence()
    assert list(assoc.index) == ['k', 'x', 'other']
    assert np.isfinite(assoc.to_numpy()).all()


@pytest.mark.parametrize('bad, match', [
    (dict(threshold=0), r'threshold must be a number in \(0, 1\]'),
    (dict(threshold=1.5), r'threshold must be a number in \(0, 1\]'),
    (dict(strategy='shuffle'), "strategy must be 'marginal' or 'conditional'"),
    (dict(groups={'g': ['signal', 'signal']}), "names column.*'signal'.*more than once"),
    (dict(groups='all'), "groups must be a dict, 'auto' or None"),
])
def test_bad_input(binary_learner, binary_test, bad, match):
    with pytest.raises(ValueError, match=match):
        binary_learner.feature_importance(df=binary_test, show_progress=False, **bad)


def test_loaded_learner_needs_a_frame(binary_learner, binary_test, tmp_path, quiet):
    binary_learner.export(tmp_path / 'l.pkl')
    loaded = load_learner(tmp_path / 'l.pkl')
    with pytest.raises(ValueError, match='pass df='):
        loaded.feature_dependence()
    pd.testing.assert_frame_equal(loaded.feature_dependence(binary_test), binary_learner.feature_dependence(binary_test))


def test_dependence_plot_returns_a_figure_and_scales_to_50_columns(binary_learner):
    import matplotlib.pyplot as plt
    fig = binary_learner.plot_feature_dependence()
    assert len(fig.axes) == 3   # dendrogram, heatmap, colour bar
    plt.close(fig)
    rng = np.random.default_rng(0)
    base = rng.normal(size=(200, 50))
    base[:, 1] = base[:, 0] + 0.1 * rng.normal(size=200)
    names = [f'column_{i:02d}' for i in range(50)]
    assoc = pd.DataFrame(np.abs(np.corrcoef(base.T)), index=names, columns=names)
    fig = fastai_featimp.plot_dependence(assoc)
    heat = fig.axes[1]
    assert len(heat.get_yticklabels()) == 50 and fig.get_size_inches()[1] >= 0.2 * 50
    labels = [t.get_text() for t in heat.get_yticklabels()]
    assert abs(labels.index('column_00') - labels.index('column_01')) == 1   # clustered next to each other
    plt.close(fig)
