"""Situations that used to give a wrong answer without a word, or changed the caller's process: each now gives
the right answer or a clear error (issue 11)."""
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from fastai.metrics import accuracy
from fastai.tabular.all import CategoryBlock, MultiCategoryBlock, RegressionBlock
from scipy import stats
from sklearn.metrics import f1_score

import fastai_featimp
from fastai_featimp.core.permutation import ColumnGroup, permutation_scores
from helpers import (BIN_CAT, BIN_CONT, assert_learner_unchanged, assert_same_process_state, learner_snapshot,
                     make_binary_df, multi_df, process_state, train)

Q = dict(show_progress=False)


def imp(fi): return fi.set_index('Variable')['Importance']


@pytest.fixture
def unusual_process_state():
    "Settings a user may have chosen, which fastai's set_seed(reproducible=True) would overwrite."
    cudnn = torch.backends.cudnn
    saved = (cudnn.benchmark, cudnn.deterministic, torch.get_num_threads())
    cudnn.benchmark, cudnn.deterministic = True, False
    with warnings.catch_warnings():
        warnings.filterwarnings('error', message='a filter of the caller')
        yield
    cudnn.benchmark, cudnn.deterministic = saved[:2]
    torch.set_num_threads(saved[2])


@pytest.fixture(scope='module')
def small():
    "A binary learner trained with fit_one_cycle(3, 1e-2) (learn.lr stays at fastai's default 1e-3)."
    train_df, test_df = make_binary_df(1500, 20), make_binary_df(800, 21)
    learn = train(train_df, 'y', ['level', 'noise_cat'], ['signal', 'noise'], epochs=3, lr=1e-2)
    return learn, train_df, test_df


# 1. global state ---------------------------------------------------------------------------------------------

def test_drop_column_and_elimination_leave_the_process_as_it_was(small, unusual_process_state):
    learn, train_df, test_df = small
    before = process_state()
    learn.drop_column_importance(train_df, test_df, columns=['noise'], **Q)
    assert_same_process_state(before, process_state())
    learn.recursive_elimination(train_df, test_df, min_features=3, n_repeats=1, epochs=1, **Q)
    assert_same_process_state(before, process_state())


def test_process_state_restored_when_a_retraining_raises(small, unusual_process_state):
    learn, train_df, test_df = small
    calls = []
    def fails_after_training(preds, targs):   # works on the original model, fails after the first retraining
        calls.append(1)
        if len(calls) > 1: raise RuntimeError('boom')
        return float((preds.argmax(-1) == targs.view(-1)).float().mean())
    before, snap = process_state(), learner_snapshot(learn)
    with pytest.raises(ValueError, match="could not be computed.*boom"):
        learn.drop_column_importance(train_df, test_df, columns=['noise'], metric=fails_after_training,
                                     greater_is_better=True, **Q)
    assert len(calls) == 2
    assert_same_process_state(before, process_state())
    assert_learner_unchanged(learn, snap)


@pytest.mark.parametrize('call', [
    lambda l, d: l.feature_importance(df=d, n_repeats=1, **Q),
    lambda l, d: l.explain(d.iloc[:2], n_background=10, **Q),
    lambda l, d: l.partial_dependence('signal', d, **Q),
    lambda l, d: l.accumulated_local_effects('signal', d),
    lambda l, d: l.feature_dependence(d),
], ids=['importance', 'explain', 'pd', 'ale', 'dependence'])
def test_every_method_leaves_the_process_as_it_was(binary_learner, binary_test, unusual_process_state, call):
    before = process_state()
    call(binary_learner, binary_test.iloc[:500])
    assert_same_process_state(before, process_state())


# 2. retraining that does not reproduce the model -------------------------------------------------------------

def test_drop_column_retrains_with_the_learning_rate_actually_used(small):
    learn, train_df, test_df = small
    assert learn.lr == pytest.approx(1e-3)   # what fit_one_cycle(3, 1e-2) leaves behind
    with warnings.catch_warnings():
        warnings.simplefilter('error', UserWarning)   # a reproducing recipe gives no warning
        fi = learn.drop_column_importance(train_df, test_df, columns=['noise'], seed=0, **Q)
    a = fi.attrs
    assert a['lr'] == pytest.approx(1e-2, rel=0.02) and 'recorder' in a['lr_source']
    assert a['epochs'] == 3 and 'n_epoch' in a['epochs_source']
    assert a['reproduces'] and abs(a['reference'] - a['original_score']) <= 0.1 * a['original_score']


def test_a_recipe_that_does_not_reproduce_the_model_warns_with_both_numbers(small):
    learn, train_df, test_df = small
    with pytest.warns(UserWarning, match=r"reference retraining scores loss ([\d.]+) .* original model's ([\d.]+).*"
                                         r"lr=1e-06 from argument.*Pass epochs= and lr="):
        fi = learn.drop_column_importance(train_df, test_df, columns=['noise'], epochs=1, lr=1e-6, seed=0, **Q)
    assert not fi.attrs['reproduces'] and fi.attrs['lr_source'] == 'argument'


def test_models_that_are_not_a_plain_tabular_model_are_refused(small):
    learn, train_df, test_df = small
    from fastai.tabular.model import TabularModel
    class MyModel(TabularModel): pass
    saved = learn.model
    try:
        for model, name in [(MyModel.__new__(MyModel), 'MyModel'), (torch.nn.Linear(2, 2), 'Linear')]:
            if name == 'MyModel': model.__dict__.update(saved.__dict__)   # same layers, another class
            learn.model = model
            with pytest.raises(TypeError, match=f"TabularModel only; this learner's model is .*{name}"):
                learn.drop_column_importance(train_df, test_df, **Q)
    finally:
        learn.model = saved


# 3. explanations of several rows -----------------------------------------------------------------------------

def test_binary_explanations_all_explain_the_positive_class(binary_learner, binary_test):
    rows = binary_test.iloc[:12]
    with binary_learner.no_bar(): probs = binary_learner.get_preds(dl=binary_learner.dls.test_dl(rows))[0]
    assert (probs.argmax(1) == 0).any() and (probs.argmax(1) == 1).any()   # both classes predicted
    e = binary_learner.explain(rows, n_background=20, seed=0, **Q)
    assert set(e.attrs['targets']) == {'yes'}
    np.testing.assert_allclose(e.attrs['outputs'], probs[:, 1].numpy(), atol=1e-5)
    fig = fastai_featimp.plot_explanation_summary(e)   # coherent: one target
    import matplotlib.pyplot as plt; plt.close(fig)


def test_multiclass_summary_of_different_targets_is_refused():
    df = multi_df(1200, 0)
    learn = train(df, 'cls', ['k'], ['a', 'b', 'noise'], epochs=2, y_block=CategoryBlock())
    e = learn.explain(df.iloc[:30], n_background=10, seed=0, **Q)
    assert len(set(e.attrs['targets'])) > 1   # the predicted class of each row
    with pytest.raises(ValueError, match="different outputs.*target="):
        fastai_featimp.plot_explanation_summary(e)
    one = learn.explain(df.iloc[:30], n_background=10, seed=0, target='hi', **Q)
    assert set(one.attrs['targets']) == {'hi'}


# 4. test data typed differently from training data -----------------------------------------------------------

@pytest.fixture(scope='module')
def coded():
    "`level` trained as the strings '1', '2', '3'; `grade` trained as integers (a categorical)."
    def frame(n, seed):
        df = make_binary_df(n, seed)
        df['level'] = df['level'].map({'a': '1', 'b': '2', 'c': '3'})
        df['grade'] = np.random.default_rng(seed).integers(1, 4, n)
        return df
    learn = train(frame(2000, 30), 'y', ['level', 'grade'], ['signal', 'weak'], epochs=2)
    return learn, frame(1000, 31)


def test_categorical_read_back_with_another_type_gives_the_same_importance(coded):
    learn, test = coded
    as_ints = test.assign(level=test['level'].astype(int))          # what read_csv gives back
    as_text = test.assign(grade=test['grade'].astype(str))          # the reverse
    kw = dict(n_repeats=2, seed=0, **Q)
    ref = learn.feature_importance(df=test, **kw)
    assert imp(ref)['level'] > 0.05
    for other in (as_ints, as_text):
        with warnings.catch_warnings():
            warnings.simplefilter('error', UserWarning)   # converted: nothing unseen to warn about
            pd.testing.assert_frame_equal(learn.feature_importance(df=other, **kw), ref)


def test_mostly_unseen_levels_are_reported_with_share_and_examples(coded):
    learn, test = coded
    odd = test.assign(level=test['level'].map({'1': 'one', '2': 'two', '3': '3'}))
    share = f"{test['level'].isin(['1', '2']).mean():.0%}"
    with pytest.warns(UserWarning, match=share + r" of the non-missing values of categorical column 'level' never "
                                                 r"occurred in training \(e.g. '(one|two)', '(one|two)'; training levels"):
        learn.feature_importance(df=odd, n_repeats=1, **Q)


def test_pandas_nullable_dtypes_are_converted(coded):
    learn, test = coded
    nullable = test.astype({'signal': 'Float64', 'grade': 'Int64', 'level': 'string', 'y': 'string'})
    kw = dict(n_repeats=2, seed=0, **Q)
    pd.testing.assert_frame_equal(learn.feature_importance(df=nullable, **kw), learn.feature_importance(df=test, **kw))
    flags = test.assign(flag=test['weak'] > 0)
    flagged = train(flags.iloc[:800], 'y', ['flag'], ['signal'], epochs=1)
    a = flagged.feature_importance(df=flags.astype({'flag': 'boolean'}), **kw)
    pd.testing.assert_frame_equal(a, flagged.feature_importance(df=flags, **kw))


# 5. metrics that do not fit the model's output ---------------------------------------------------------------

class CountingForward(torch.nn.Module):
    """Wraps a model and counts its forward passes over data (the one-row pass that reads the model's output size
    from the model itself, issue 25, is not work on the test set)."""
    def __init__(self, model): super().__init__(); self.model, self.calls = model, 0
    def forward(self, *x):
        if x[0].shape[0] > 1: self.calls += 1
        return self.model(*x)


@pytest.fixture(scope='module')
def zero_one_regression():
    "A 0/1 target trained as a regression: one output."
    df = make_binary_df(1200, 40).assign(y=lambda d: (d['y'] == 'yes').astype(float))
    return train(df, 'y', ['level'], ['signal', 'weak'], epochs=1, y_block=RegressionBlock()), df


@pytest.mark.parametrize('metric, match', [
    ('accuracy', "metric 'accuracy' needs class scores, but this model has one output: a regression of 'y'"),
    ('roc_auc', "metric 'roc_auc_score' needs class scores.*one output"),
    (accuracy, "metric 'accuracy' needs class scores"),
    ('f1', "metric 'f1_score' needs class scores"),
])
def test_class_metrics_on_a_one_output_model_are_refused_before_any_forward_pass(zero_one_regression, metric, match):
    learn, df = zero_one_regression
    saved, learn.model = learn.model, CountingForward(learn.model)
    try:
        with pytest.raises(ValueError, match=match):
            learn.feature_importance(df=df, metric=metric, **Q)
        assert learn.model.calls == 0
    finally:
        learn.model = saved


@pytest.mark.parametrize('metric', ['rmse', 'mae', 'r2'])
def test_value_metrics_on_a_classifier_are_refused(binary_learner, binary_test, metric):
    with pytest.raises(ValueError, match=r"compares a predicted value with a numeric target.*class scores \(2 outputs"):
        binary_learner.feature_importance(df=binary_test, metric=metric, **Q)


def test_multiclass_and_multilabel_metrics_are_adapted_or_refused():
    df, test = multi_df(1500, 0), multi_df(800, 1)
    multi = train(df, 'cls', ['k'], ['a', 'b', 'noise'], epochs=2, y_block=CategoryBlock())
    res = multi.feature_importance(df=test, metric=['f1', 'balanced_accuracy', 'error_rate'], n_repeats=1, **Q)
    with multi.no_bar(): preds, targs = multi.get_preds(dl=multi.dls.test_dl(test))
    assert res['f1_score'].attrs['baseline'] == pytest.approx(
        f1_score(targs.numpy(), preds.argmax(1).numpy(), average='macro'), abs=1e-6)
    assert imp(res['f1_score'])['a'] > 0.1
    labels = train(df, ['lab_a', 'lab_b'], ['k'], ['a', 'b', 'noise'], epochs=2,
                   y_block=MultiCategoryBlock(encoded=True, vocab=['lab_a', 'lab_b']))
    ml = labels.feature_importance(df=test, metric=['error_rate', 'f1', 'accuracy'], n_repeats=1, **Q)
    assert ml['error_rate_multi'].attrs['baseline'] == pytest.approx(1 - ml['accuracy_multi'].attrs['baseline'], abs=1e-6)
    with pytest.raises(ValueError, match="'balanced_accuracy_score' is for single-label classes.*multi-label"):
        labels.feature_importance(df=test, metric='balanced_accuracy', **Q)


def test_a_metric_that_comes_out_nan_is_an_error(binary_learner, binary_test):
    one_class = binary_test[binary_test['y'] == 'yes']
    with pytest.raises(ValueError, match="roc_auc_score"):
        binary_learner.feature_importance(df=one_class, metric='roc_auc', **Q)
    nan_metric = lambda p, t: float('nan')
    with pytest.raises(ValueError, match="is NaN on these"):
        binary_learner.feature_importance(df=binary_test, metric=nan_metric, greater_is_better=True, **Q)


def test_learn_metrics_is_accepted_like_a_list(binary_test):
    learn = train(make_binary_df(1000, 2), 'y', BIN_CAT, BIN_CONT, epochs=1, metrics=[accuracy])
    res = learn.feature_importance(df=binary_test, metric=learn.metrics, n_repeats=1, **Q)
    assert isinstance(res, dict) and list(res) == ['accuracy']


# 6. crashes turned into answers or errors --------------------------------------------------------------------

@pytest.mark.parametrize('cat, cont', [([], ['signal', 'weak']), (['level', 'noise_cat'], [])],
                         ids=['continuous only', 'categorical only'])
def test_explain_with_one_kind_of_input(cat, cont):
    df = make_binary_df(800, 50)
    learn = train(df, 'y', cat, cont, epochs=1)
    e = learn.explain(df.iloc[:3], n_background=15, seed=0, **Q)
    assert sorted(e['Variable'].unique()) == sorted(cat + cont)
    for r in range(3):
        total = e.attrs['base_values'][r] + e[e['row'] == r]['Contribution'].sum()
        assert total == pytest.approx(e.attrs['outputs'][r], abs=1e-6)


def test_partial_dependence_on_an_all_missing_column():
    df = make_binary_df(1000, 51)
    df.loc[df.index % 4 == 0, 'signal'] = np.nan
    learn = train(df, 'y', ['level'], ['signal', 'weak'], epochs=1)
    with pytest.raises(ValueError, match="'signal' has no values in df"):
        learn.partial_dependence('signal', df.assign(signal=np.nan), **Q)


def test_frame_and_argument_errors(binary_learner, binary_test, small):
    dup = pd.concat([binary_test.iloc[:50], binary_test.iloc[:50, :1]], axis=1)
    with pytest.raises(ValueError, match="duplicate column names 'signal'"):
        binary_learner.feature_importance(df=dup, **Q)
    with pytest.raises(TypeError, match=r"learner's DataLoaders \(learn.dls\).*one labelled DataLoader"):
        binary_learner.feature_importance(binary_learner.dls, **Q)
    learn, train_df, test_df = small
    fi = learn.drop_column_importance(train_df, test_df, columns='signal', epochs=1, seed=0, **Q)
    assert list(fi['Variable']) == ['signal']   # a string is one column, not its letters
    for kw, match in [(dict(valid_idx=[0, 5, 10**6]), r"valid_idx holds position\(s\) \[1000000\] beyond"),
                      (dict(epochs=0), 'epochs must be an integer >= 1, got 0'),
                      (dict(lr=0), 'lr must be a positive number, got 0'),
                      (dict(lr=-1e-3), 'lr must be a positive number'),
                      (dict(seed=-1), 'seed must be an integer >= 0, got -1'),
                      (dict(seed=1.5), 'seed must be an integer >= 0, got 1.5')]:
        with pytest.raises(ValueError, match=match):
            learn.drop_column_importance(train_df, test_df, columns=['noise'], **kw, **Q)
    with pytest.raises(ValueError, match='min_features must be an integer >= 1, got 1.5'):
        learn.recursive_elimination(train_df, test_df, min_features=1.5, **Q)


def test_string_labels_for_a_regression_target(zero_one_regression):
    learn, df = zero_one_regression
    with pytest.raises(ValueError, match="label column.*'y' hold text.*predicts numbers"):
        learn.feature_importance(df=df.assign(y=np.where(df['y'] > 0, 'one', 'zero')), **Q)


# 7. a column's result does not depend on the other columns asked for -----------------------------------------

def test_importance_of_a_column_does_not_depend_on_other_groups(binary_learner, binary_test):
    kw = dict(df=binary_test, n_repeats=3, seed=5, **Q)
    alone = binary_learner.feature_importance(**kw)
    grouped = binary_learner.feature_importance(groups={'noise pair': ['noise', 'noise_cat']}, **kw)
    assert alone.attrs['importances']['signal'] == grouped.attrs['importances']['signal']
    assert alone.attrs['importances']['level'] == grouped.attrs['importances']['level']


# 8. headline behaviours that a broken implementation must fail -----------------------------------------------

def test_missingness_that_carries_the_signal_moves_with_its_column():
    "`signal` is missing exactly when y is 'yes': the `_na` indicator holds the signal and must be permuted with it."
    def frame(n, seed):
        df = make_binary_df(n, seed)
        df.loc[df['y'] == 'yes', 'signal'] = np.nan
        return df
    learn = train(frame(2000, 60), 'y', ['level'], ['signal', 'weak'], epochs=2)
    test = frame(1000, 61)
    fi = learn.feature_importance(df=test, n_repeats=3, seed=0, **Q)
    assert fi['Variable'][0] == 'signal'
    # the same number as the engine gives with the indicator permuted jointly, clearly more than without it
    data_dl = learn.dls.test_dl(test)
    from fastai_featimp.tabular.data import gather_batch
    inputs, target = gather_batch(data_dl)
    s = [learn.dls.cont_names.index('signal'), learn.dls.cat_names.index('signal_na')]
    loss = lambda p, t: [float(learn.loss_func(p, t))]
    learn.model.eval()
    _, joint = permutation_scores(learn.model, inputs, target, [ColumnGroup(((1, s[0]), (0, s[1])))], loss, 3, seed=1)
    base, alone = permutation_scores(learn.model, inputs, target, [ColumnGroup(((1, s[0]),))], loss, 3, seed=1)
    assert imp(fi)['signal'] == pytest.approx(joint.mean() - base[0], rel=0.25)
    assert imp(fi)['signal'] > 1.3 * (alone.mean() - base[0])


@pytest.mark.parametrize('n_repeats', [3, 5])
def test_interval_is_scipys_t_interval(binary_learner, binary_test, n_repeats):
    fi = binary_learner.feature_importance(df=binary_test, n_repeats=n_repeats, seed=2, **Q)
    for _, row in fi.iterrows():
        reps = np.array(fi.attrs['importances'][row['Variable']])
        if reps.std() == 0: continue
        lo, hi = stats.t.interval(0.95, n_repeats - 1, loc=reps.mean(), scale=stats.sem(reps))
        assert (row['CI_low'], row['CI_high']) == pytest.approx((lo, hi), rel=1e-9, abs=1e-12)
        assert row['p_value'] == pytest.approx(stats.ttest_1samp(reps, 0, alternative='greater').pvalue, rel=1e-9)


def test_a_forgotten_learning_rate_is_said_before_retraining(small):
    "fastai's validate empties the recorder: the retraining then falls back to learn.lr, with a warning first."
    learn, train_df, test_df = small
    import copy
    forgetful = copy.copy(learn)
    forgetful.recorder = copy.copy(learn.recorder)
    forgetful.recorder.lrs = []            # what learn.validate() or learn.get_preds() leave behind
    with pytest.warns(UserWarning, match="keeps no record of the learning rate.*learn.lr=0.001.*Pass lr="):
        fi = forgetful.drop_column_importance(train_df, test_df, columns=['noise'], epochs=1, seed=0, **Q)
    assert fi.attrs['lr'] == pytest.approx(1e-3) and fi.attrs['lr_source'].startswith('learn.lr')


def test_a_repeated_index_and_typed_levels(coded):
    learn, test = coded
    repeated = pd.concat([test.iloc[:300], test.iloc[:300]])   # the index repeats, as after pd.concat
    as_ints = repeated.assign(level=repeated['level'].astype(int))
    kw = dict(n_repeats=1, seed=0, **Q)
    pd.testing.assert_frame_equal(learn.feature_importance(df=as_ints, **kw), learn.feature_importance(df=repeated, **kw))
