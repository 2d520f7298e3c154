"Bad input gets a clear error, and nothing the caller owns is changed: after success, errors and Ctrl-C."
import numpy as np
import pandas as pd
import pytest
import torch
from fastai.data.core import DataLoaders
from fastai.learner import Learner
from fastai.tabular.all import CrossEntropyLossFlat, TabularDataLoaders, tabular_learner, Categorify, Normalize, FillMissing
from fastai.metrics import R2Score

import fastai_featimp
from helpers import BIN_CAT, make_binary_df
from helpers import assert_learner_unchanged, assert_same_rng, global_rng_state, learner_snapshot


def call(learn, **kw):
    kw.setdefault('show_progress', False)
    kw.setdefault('n_repeats', 2)
    return learn.feature_importance(**kw)


def test_nothing_changes_after_a_successful_call(binary_learner, binary_test):
    learn = binary_learner
    learn.model.train()
    learn.model.layers[0][2].eval()   # a mixed mode (e.g. a frozen BatchNorm) is restored module by module
    df_before = binary_test.copy(deep=True)
    dtypes = binary_test.dtypes.copy()
    test_dl = learn.dls.test_dl(binary_test)   # building it draws from the global RNG: before the snapshot
    snap, rng = learner_snapshot(learn), global_rng_state()
    try:
        call(learn, df=binary_test, seed=0)
        call(learn, test_dl=test_dl, seed=0)
        assert_learner_unchanged(learn, snap)
        assert_same_rng(rng, global_rng_state())
        pd.testing.assert_frame_equal(binary_test, df_before)
        assert (binary_test.dtypes == dtypes).all()
    finally:
        learn.model.eval()


@pytest.mark.parametrize('bad, match', [
    (dict(df=make_binary_df(50, 9).drop(columns='y')), "no label column 'y'"),
    (dict(df=make_binary_df(50, 9).drop(columns='weak')), "lacks feature column.*'weak'"),
    (dict(df=make_binary_df(50, 9).assign(y=lambda d: np.where(d.index % 7 == 0, 'maybe', d.y))),
     "never seen in training: 'maybe'"),
    (dict(df=make_binary_df(50, 9).iloc[:0]), 'empty'),
    (dict(df=make_binary_df(50, 9).iloc[:1]), 'single row'),
    (dict(df=make_binary_df(50, 9), groups={'g': ['signal', 'nope']}), "unknown column 'nope'"),
    (dict(df=make_binary_df(50, 9), groups={'g1': ['signal', 'weak'], 'g2': ['weak']}), "'weak' is in two groups"),
    (dict(df=make_binary_df(50, 9), n_repeats=0), 'n_repeats must be an integer >= 1'),
    (dict(df=make_binary_df(50, 9), max_rows=1), 'max_rows must be an integer >= 2'),
    (dict(df=make_binary_df(50, 9), metric=R2Score()), "metric 'r2_score' compares a predicted value with a "
                                                         "numeric target, but this model outputs class scores"),
    (dict(df=make_binary_df(50, 9), metric='no_such_metric'), "unknown metric name 'no_such_metric'"),
    (dict(df=make_binary_df(50, 9).assign(y=lambda d: d.y.where(d.index > 3))), 'label column.*missing values'),
    (dict(df=make_binary_df(50, 9).assign(signal=lambda d: d.signal.where(d.index > 3))),
     "'signal'.* missing values in the test set but had none in training"),
    (dict(df=make_binary_df(50, 9).assign(signal='high')), "continuous column.*'signal'.*not numeric"),
    (dict(test_dl=make_binary_df(50, 9).values), 'test_dl must be a fastai tabular DataLoader'),
])
def test_bad_input_names_the_problem_and_changes_nothing(binary_learner, bad, match):
    snap, rng = learner_snapshot(binary_learner), global_rng_state()
    frames = {k: v.copy(deep=True) for k, v in bad.items() if isinstance(v, pd.DataFrame)}
    with pytest.raises((ValueError, TypeError), match=match):
        call(binary_learner, **bad)
    assert_learner_unchanged(binary_learner, snap)
    assert_same_rng(rng, global_rng_state())
    for k, v in frames.items(): pd.testing.assert_frame_equal(bad[k], v)


def test_unlabelled_test_dl_is_refused(binary_learner):
    dl = binary_learner.dls.test_dl(make_binary_df(50, 9).drop(columns='y'))
    with pytest.raises(ValueError, match="has no labels.*test_dl drops the label column 'y'"):
        call(binary_learner, test_dl=dl)


def test_unseen_labels_in_a_test_dl_are_refused(binary_learner):
    dl = binary_learner.dls.test_dl(make_binary_df(50, 9).assign(y='maybe'))
    with pytest.raises(ValueError, match='never seen in training'):
        call(binary_learner, test_dl=dl)


def test_interrupt_mid_run_restores_everything(binary_learner, binary_test):
    "A KeyboardInterrupt from inside the loop (here: from the metric) leaves modes, RNG and data as they were."
    learn = binary_learner
    learn.model.train()
    snap, rng = learner_snapshot(learn), global_rng_state()
    calls = []
    def interrupting(preds, targs):
        calls.append(1)
        if len(calls) == 4: raise KeyboardInterrupt
        return float((preds.argmax(-1) == targs.view(-1)).float().mean())
    try:
        with pytest.raises(KeyboardInterrupt):
            call(learn, df=binary_test, metric=interrupting, greater_is_better=True)
        assert len(calls) == 4
        assert_learner_unchanged(learn, snap)
        assert learn.model.training
        assert_same_rng(rng, global_rng_state())
    finally:
        learn.model.eval()


def test_category_dtype_is_encoded_with_the_training_vocabulary(binary_learner, binary_test):
    "fastai's test_dl encodes a pandas category column by its own codes; the result must equal the string data."
    as_cat = binary_test.copy()
    for c in BIN_CAT + ['y']:   # categories in reverse order, so the column's own codes are wrong
        as_cat[c] = pd.Categorical(as_cat[c], categories=sorted(as_cat[c].unique(), reverse=True))
    before = as_cat.copy()
    a = call(binary_learner, df=as_cat, seed=0)
    b = call(binary_learner, df=binary_test, seed=0)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(as_cat, before)


def test_non_tabular_learner_is_named():
    x = torch.randn(64, 3); y = torch.randn(64, 1)
    ds = list(zip(x, y))
    learn = Learner(DataLoaders.from_dsets(ds, ds, bs=16), torch.nn.Linear(3, 1), loss_func=torch.nn.MSELoss())
    with pytest.raises(TypeError, match='needs a tabular learner.*Learner'):
        learn.feature_importance()
    with pytest.raises(TypeError, match='expected a fastai tabular Learner, got .*RandomForest'):
        from sklearn.ensemble import RandomForestClassifier
        fastai_featimp.permutation_importance(RandomForestClassifier())


def test_sklearn_function_as_metric_suggests_skm_to_fastai(binary_learner, binary_test):
    from sklearn.metrics import roc_auc_score
    with pytest.raises(TypeError, match=r'skm_to_fastai\(roc_auc_score\)'):
        call(binary_learner, df=binary_test, metric=roc_auc_score)


@pytest.mark.parametrize('name', ['c', 'vocab', 'loss_func', 'n_inp', 'my col', 'x.y', 'ünï', '0', 'y_na'])
@pytest.mark.parametrize('kind', ['cat', 'cont'])
def test_odd_column_names_work(name, kind, quiet):
    "Names that collide with fastai attributes or are not identifiers: importance works and names the column."
    rng = np.random.default_rng(0)
    n = 400
    df = pd.DataFrame({'a': rng.normal(size=n), 'k': rng.choice(list('pqr'), n)})
    df[name] = rng.choice(list('uv'), n) if kind == 'cat' else rng.normal(size=n)
    df['t'] = np.where(df['a'] + (df[name] == 'u' if kind == 'cat' else df[name]) > 0.5, 'p', 'q')
    cat, cont = (['k', name], ['a']) if kind == 'cat' else (['k'], ['a', name])
    dls = TabularDataLoaders.from_df(df, y_names='t', cat_names=cat, cont_names=cont,
                                     procs=[Categorify, FillMissing, Normalize], bs=64)
    learn = tabular_learner(dls, n_out=2, loss_func=CrossEntropyLossFlat())   # n_out: fastai's dls.c may break
    fi = call(learn, df=df, seed=0)
    assert sorted(fi['Variable']) == sorted(['a', 'k', name])


def test_fastai_failure_on_colliding_name_says_rename(binary_learner, monkeypatch):
    "Where fastai itself fails on a colliding name, the error says which column to rename."
    from fastai_featimp.tabular import data as tabular_data
    from fastai_featimp.tabular.schema import tabular_schema
    schema = tabular_schema(binary_learner)
    schema.cat_names = schema.cat_names + ['c']
    err = tabular_data.named_attribute_error(schema, AttributeError("'L' object is not callable"))
    assert isinstance(err, ValueError) and "'c'" in str(err) and 'rename' in str(err)


def test_test_dl_of_another_learner_is_refused(binary_learner, binary_test):
    other = TabularDataLoaders.from_df(binary_test, y_names='y', cat_names=['level'], cont_names=['signal'],
                                       procs=[Categorify, Normalize])
    with pytest.raises(ValueError, match='built for other columns'):
        call(binary_learner, test_dl=other.test_dl(binary_test))


def test_loaded_learner_without_test_set_says_what_to_pass(binary_learner, tmp_path, quiet):
    from fastai.learner import load_learner
    binary_learner.export(tmp_path / 'l.pkl')
    loaded = load_learner(tmp_path / 'l.pkl')
    with pytest.raises(ValueError, match='validation set is empty.*pass df= or test_dl='):
        call(loaded)
