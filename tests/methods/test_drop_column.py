"Drop-column importance and recursive elimination by retraining the learner's own recipe."
import numpy as np
import pandas as pd
import pytest
import torch

import fastai_featimp
from fastai_featimp.tabular.recipe import build_learner, recipe_from_learner, trained_and_scored, validation_indices
from helpers import make_binary_df, train
from helpers import assert_learner_unchanged, learner_snapshot

RECIPE = dict(epochs=3, lr=1e-2, show_progress=False)


@pytest.fixture(scope='module')
def leaky():
    train_df = make_binary_df(2500, 10).assign(leak=lambda d: d['y'])
    test_df = make_binary_df(1500, 11).assign(leak=lambda d: d['y'])
    learn = train(train_df, 'y', ['level', 'leak', 'noise_cat'], ['signal', 'noise'], epochs=3)
    return learn, train_df, test_df


def test_leak_largest_and_noise_inside_its_interval(leaky):
    learn, train_df, test_df = leaky
    snap = learner_snapshot(learn)
    fi = learn.drop_column_importance(train_df, test_df, columns=['leak', 'noise_cat', 'signal'], n_repeats=3,
                                      seed=0, **RECIPE)
    assert fi['Variable'][0] == 'leak'
    noise = fi.set_index('Variable').loc['noise_cat']
    assert noise['CI_low'] <= 0 <= noise['CI_high']
    assert fi.attrs['method'] == 'drop-column' and len(fi.attrs['reference_scores']) == 3
    assert fi.attrs['recipe']['layers'] == [64, 32] and fi.attrs['recipe']['epochs'] == 3
    assert_learner_unchanged(learn, snap)
    import matplotlib.pyplot as plt
    perm = learn.feature_importance(df=test_df, seed=0, show_progress=False)
    ax = fastai_featimp.plot_importance_comparison(perm, fi)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ['permutation', 'drop-column']
    plt.close(ax.figure)
    ax = learn.plot_feature_importance(fi)
    assert 'drop-column' in ax.get_xlabel(); plt.close(ax.figure)


def test_recipe_fidelity(leaky):
    learn, train_df, test_df = leaky
    recipe = recipe_from_learner(learn, epochs=2, lr=1e-2)
    valid = validation_indices(learn, train_df, seed=0)
    assert valid == list(range(2000, 2500))   # the learner's own split, found in train_df
    again = build_learner(recipe, train_df, valid, seed=0)
    assert repr(again.model) == repr(learn.model)   # layer sizes, embedding sizes, BatchNorm, dropout
    assert list(again.dls.cat_names) == list(learn.dls.cat_names) and again.dls.bs == learn.dls.bs
    a, score_a = trained_and_scored(recipe, train_df, valid, test_df, (), 5, None, None)
    b, score_b = trained_and_scored(recipe, train_df, valid, test_df, (), 5, None, None)
    assert score_a == score_b
    for (k, v), w in zip(a.model.state_dict().items(), b.model.state_dict().values()): assert torch.equal(v, w), k


@pytest.mark.slow   # retrains the model once per column, twice: out of the quick loop
def test_n_jobs_does_not_change_results(leaky, capsys):
    learn, train_df, test_df = leaky
    kw = dict(columns=['noise'], n_repeats=1, seed=3, epochs=3, lr=1e-2)
    one = learn.drop_column_importance(train_df, test_df, n_jobs=1, show_progress=False, **kw)
    capsys.readouterr()
    two = learn.drop_column_importance(train_df, test_df, n_jobs=2, **kw)
    assert 'drop-column retrainings' in capsys.readouterr().out   # a bar over results arriving from workers
    pd.testing.assert_frame_equal(one, two)
    assert one.attrs['reference_scores'] == two.attrs['reference_scores']


def test_dropping_a_column_removes_its_na_indicator():
    df = make_binary_df(1200, 12)
    df.loc[df.index % 5 == 0, 'signal'] = np.nan
    learn = train(df, 'y', ['level'], ['signal', 'weak'], epochs=1)
    recipe = recipe_from_learner(learn)
    assert 'signal_na' not in recipe.cat_names and recipe.fill_missing['add_col']
    without = build_learner(recipe, df, list(range(1000, 1200)), drop=['signal'])
    assert 'signal_na' not in without.dls.cat_names and 'signal' not in without.dls.cont_names
    fi = learn.drop_column_importance(df, df.iloc[1000:], columns=['signal'], seed=0, **RECIPE)
    assert list(fi['Variable']) == ['signal'] and fi['Importance'][0] > 0


def test_recursive_elimination_keeps_the_informative_columns(tmp_path):
    rng = np.random.default_rng(0)
    n = 2500
    df = pd.DataFrame(rng.normal(size=(n, 8)), columns=['x1', 'x2', 'x3'] + [f'n{i}' for i in range(5)])
    df['y'] = np.where(2 * df['x1'] - 1.5 * df['x2'] + df['x3'] + 0.3 * rng.normal(size=n) > 0, 'a', 'b')
    learn = train(df.iloc[:2000], 'y', [], list(df.columns[:8]), epochs=3)
    table = learn.recursive_elimination(df.iloc[:2000], df.iloc[2000:], step=2, min_features=3, seed=0,
                                        n_repeats=2, **RECIPE)
    assert list(table['n_features']) == [8, 6, 4, 3]
    assert set(table['features'].iloc[-1]) == {'x1', 'x2', 'x3'}
    best = table[table['n_features'] == table.attrs['best']].iloc[0]   # attrs['best']: the columns kept
    assert {'x1', 'x2', 'x3'} <= set(best['features'])
    import matplotlib.pyplot as plt
    ax = fastai_featimp.plot_recursive_elimination(table)
    assert len(ax.lines) == 2; plt.close(ax.figure)


@pytest.mark.parametrize('bad, match', [
    (lambda tr, te: (tr.drop(columns='signal'), te), "train_df lacks column.*'signal'"),
    (lambda tr, te: (tr.drop(columns='y'), te), "train_df lacks column.*'y'"),
    (lambda tr, te: (tr, te.drop(columns='y')), "test_df lacks column.*'y'"),
])
def test_bad_frames(leaky, bad, match):
    learn, train_df, test_df = leaky
    tr, te = bad(train_df, test_df)
    with pytest.raises(ValueError, match=match):
        learn.drop_column_importance(tr, te, **RECIPE)


def test_unknown_column_and_learner_unchanged(leaky):
    learn, train_df, test_df = leaky
    snap = learner_snapshot(learn)
    with pytest.raises(ValueError, match=r"\['weak'\] are not inputs of this learner"):
        learn.drop_column_importance(train_df, test_df, columns=['weak'], **RECIPE)
    with pytest.raises(ValueError, match="importance must be 'permutation' or 'drop-column'"):
        learn.recursive_elimination(train_df, test_df, importance='shap', **RECIPE)
    assert_learner_unchanged(learn, snap)
