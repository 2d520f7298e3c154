"Permutation importance on fastai learners: known answers, an independent reference, every problem type."
import numpy as np
import pandas as pd
import pytest
import torch
from fastai.metrics import RocAucBinary, accuracy, rmse
from fastai.tabular.all import (CategoryBlock, MSELossFlat, MultiCategoryBlock, RegressionBlock, load_learner)
from sklearn.inspection import permutation_importance as sk_permutation_importance
from sklearn.metrics import log_loss, roc_auc_score

import fastai_featimp
from helpers import BIN_CAT, BIN_CONT, ProcessedMatrixClassifier, make_binary_df, multi_df, train

COLUMNS = ['Variable', 'Type', 'Importance', 'Std', 'CI_low', 'CI_high', 'p_value']


def imp(fi): return fi.set_index('Variable')['Importance']


def test_result_shape_and_attrs(binary_learner, binary_test):
    fi = binary_learner.feature_importance(df=binary_test, n_repeats=3, seed=0, show_progress=False)
    assert list(fi.columns[:7]) == COLUMNS
    assert sorted(fi['Variable']) == sorted(BIN_CAT + BIN_CONT)
    assert fi['Importance'].is_monotonic_decreasing
    assert dict(zip(fi['Variable'], fi['Type']))['signal'] == 'continuous'
    assert dict(zip(fi['Variable'], fi['Type']))['level'] == 'categorical'
    a = fi.attrs
    assert a['metric'] == 'loss' and a['greater_is_better'] is False and a['n_repeats'] == 3 and a['seed'] == 0
    assert a['n_rows'] == len(binary_test)
    assert set(a['importances']) == set(fi['Variable']) and all(len(v) == 3 for v in a['importances'].values())
    for _, row in fi.iterrows():
        reps = np.array(a['importances'][row['Variable']])
        assert row['Importance'] == pytest.approx(reps.mean())
        assert row['CI_low'] <= row['Importance'] <= row['CI_high']


def test_signal_order_recovered_and_noise_near_zero(binary_learner, binary_test):
    fi = binary_learner.feature_importance(df=binary_test, n_repeats=5, seed=0, show_progress=False)
    s = imp(fi)
    assert list(fi['Variable'][:3]) == ['signal', 'level', 'weak']
    top = s['signal']
    for noise in ['noise', 'noise_cat', 'row_id']:   # row_id: a random ID with hundreds of levels
        assert abs(s[noise]) < 0.05 * top, (noise, s[noise], top)
    assert fi.set_index('Variable').loc['signal', 'p_value'] < 0.01


def test_leaked_target_ranks_first():
    df = make_binary_df(2000, 3)
    df['leak'] = df['y']
    learn = train(df, 'y', ['leak', 'level', 'noise_cat'], ['signal', 'noise'], epochs=3)
    fi = learn.feature_importance(df=make_binary_df(1000, 4).assign(leak=lambda d: d['y']), seed=0, show_progress=False)
    assert fi['Variable'][0] == 'leak'
    assert fi['Importance'][0] > 2 * fi['Importance'][1]


def test_column_the_model_ignores_scores_exactly_zero(binary_learner, binary_test):
    "Equal embedding rows for `level`, zero first-layer weights for `weak`: exactly 0 in every repeat."
    learn = binary_learner
    saved = {k: v.clone() for k, v in learn.model.state_dict().items()}
    try:
        with torch.no_grad():
            emb = learn.model.embeds[BIN_CAT.index('level')]
            emb.weight[:] = emb.weight[1]
            first = learn.model.layers[0][0]
            n_emb = sum(e.embedding_dim for e in learn.model.embeds)
            first.weight[:, n_emb + BIN_CONT.index('weak')] = 0
        fi = learn.feature_importance(df=binary_test, n_repeats=4, seed=0, show_progress=False)
    finally:
        learn.model.load_state_dict(saved)
    reps = fi.attrs['importances']
    assert reps['level'] == [0.0] * 4 and reps['weak'] == [0.0] * 4
    assert imp(fi)['signal'] > 0.1


def test_agrees_with_sklearn_permutation_importance(binary_learner, binary_test):
    learn = binary_learner
    test_dl = learn.dls.test_dl(binary_test)
    x_cat = torch.as_tensor(test_dl.dataset.cats.values)
    x_cont = torch.as_tensor(test_dl.dataset.conts.values, dtype=torch.float32)
    y = test_dl.dataset.ys.values.ravel()
    X = np.hstack([x_cat.numpy(), x_cont.numpy()])
    learn.model.eval()
    est = ProcessedMatrixClassifier(learn.model, x_cat.shape[1]).fit(X, y)
    scorer = lambda e, X_, y_: -log_loss(y_, e.predict_proba(X_), labels=[0, 1])
    ref = sk_permutation_importance(est, X, y, scoring=scorer, n_repeats=30, random_state=0)
    fi = learn.feature_importance(test_dl, n_repeats=30, seed=0, show_progress=False)
    ours = fi.set_index('Variable')
    names = list(learn.dls.cat_names) + list(learn.dls.cont_names)
    for j, name in enumerate(names):
        a, b = ours.loc[name, 'Importance'], ref.importances_mean[j]
        se = np.sqrt(ours.loc[name, 'Std'] ** 2 / 30 + ref.importances_std[j] ** 2 / 29)
        assert abs(a - b) <= 4 * se + 1e-4, (name, a, b, se)
    assert ours.loc['signal', 'Importance'] == pytest.approx(ref.importances_mean[names.index('signal')], rel=0.05)


def test_linear_model_closed_form_through_the_learner():
    "A fixed linear model on the learner's standardised inputs, MSE loss: importance_j = 2 w_j^2."
    rng = np.random.default_rng(0)
    n, w = 6000, np.array([1.5, -1.0, 0.5])
    df = pd.DataFrame(rng.normal(size=(n, 3)), columns=['a', 'b', 'c0']).assign(k=rng.choice(['p', 'q'], n), y=0.0)
    learn = train(df, 'y', ['k'], ['a', 'b', 'c0'], epochs=1, y_block=RegressionBlock(), loss_func=MSELossFlat())
    norm = learn.dls.train_ds.procs.normalize
    test = pd.DataFrame(rng.normal(size=(n, 3)), columns=['a', 'b', 'c0']).assign(k=rng.choice(['p', 'q'], n))
    z = np.stack([(test[c] - norm.means[c]) / norm.stds[c] for c in ['a', 'b', 'c0']], 1)
    test['y'] = z @ w

    class Linear(torch.nn.Module):
        def forward(self, x_cat, x_cont): return x_cont @ torch.tensor(w, dtype=torch.float32)[:, None]
    learn.model = Linear()
    fi = learn.feature_importance(df=test, n_repeats=40, seed=0, show_progress=False)
    assert fi.attrs['baseline'] < 1e-8
    expected = 2 * w ** 2 * z.var(0) * n / (n - 1)
    np.testing.assert_allclose(imp(fi)[['a', 'b', 'c0']], expected, rtol=0.06)
    assert fi.attrs['importances']['k'] == [0.0] * 40


def test_batch_size_does_not_change_results(binary_learner, binary_test):
    kw = dict(df=binary_test, n_repeats=3, seed=1, show_progress=False)
    a = binary_learner.feature_importance(bs=64, **kw)
    b = binary_learner.feature_importance(bs=4096, **kw)
    assert a.attrs['baseline'] == pytest.approx(b.attrs['baseline'], rel=1e-6)
    for v in a['Variable']:
        np.testing.assert_allclose(a.attrs['importances'][v], b.attrs['importances'][v], rtol=1e-5, atol=1e-7)


def test_metrics_over_the_whole_set_with_their_activation(binary_learner, binary_test):
    learn = binary_learner
    test_dl = learn.dls.test_dl(binary_test)
    res = learn.feature_importance(test_dl, metric=['loss', accuracy, RocAucBinary(), 'error_rate'], n_repeats=2,
                                   seed=0, show_progress=False)
    assert set(res) == {'loss', 'accuracy', 'roc_auc_score', 'error_rate'}
    with learn.no_bar():
        preds, targs = learn.get_preds(dl=test_dl)
    y = targs.numpy().ravel()
    assert res['roc_auc_score'].attrs['baseline'] == pytest.approx(roc_auc_score(y, preds[:, 1].numpy()), abs=1e-6)
    assert res['accuracy'].attrs['baseline'] == pytest.approx((preds.argmax(1).numpy() == y).mean(), abs=1e-6)
    assert res['accuracy'].attrs['baseline'] + res['error_rate'].attrs['baseline'] == pytest.approx(1, abs=1e-6)
    # both directions report a drop in quality as a positive number, on the same permutations
    acc, err = imp(res['accuracy']), imp(res['error_rate'])
    pd.testing.assert_series_equal(acc.sort_index(), err.sort_index(), atol=1e-6)
    assert acc['signal'] > 0.05 and imp(res['roc_auc_score'])['signal'] > 0.05
    assert res['error_rate'].attrs['greater_is_better'] is False and res['accuracy'].attrs['greater_is_better']


def test_custom_callable_metric_needs_direction(binary_learner, binary_test):
    def hit_rate(preds, targs): return (preds.argmax(-1) == targs.view(-1)).float().mean()
    with pytest.raises(ValueError, match='greater_is_better'):
        binary_learner.feature_importance(df=binary_test, metric=hit_rate, show_progress=False)
    fi = binary_learner.feature_importance(df=binary_test, metric=hit_rate, greater_is_better=True, n_repeats=2,
                                           seed=0, show_progress=False)
    ref = binary_learner.feature_importance(df=binary_test, metric=accuracy, n_repeats=2, seed=0, show_progress=False)
    pd.testing.assert_series_equal(imp(fi).sort_index(), imp(ref).sort_index(), atol=1e-6)


def test_seed_gives_identical_results_and_different_seeds_differ(binary_learner, binary_test):
    kw = dict(df=binary_test, n_repeats=3, show_progress=False)
    a, b, c = (binary_learner.feature_importance(seed=s, **kw) for s in (7, 7, 8))
    pd.testing.assert_frame_equal(a, b)
    assert a.attrs['importances'] == b.attrs['importances']
    assert a.attrs['importances'] != c.attrs['importances']


def test_groups_are_permuted_jointly(binary_learner, binary_test):
    fi = binary_learner.feature_importance(df=binary_test, groups={'pair': ['signal', 'level']}, n_repeats=3,
                                           seed=0, show_progress=False)
    s = fi.set_index('Variable')
    assert 'signal' not in s.index and 'level' not in s.index
    assert s.loc['pair', 'Type'] == 'group' and s.loc['pair', 'Members'] == ['signal', 'level']
    alone = imp(binary_learner.feature_importance(df=binary_test, n_repeats=3, seed=0, show_progress=False))
    assert s.loc['pair', 'Importance'] > alone['signal']


def test_max_rows_subsamples_reproducibly(binary_learner, binary_test):
    kw = dict(df=binary_test, n_repeats=2, max_rows=500, show_progress=False)
    a, b = binary_learner.feature_importance(seed=3, **kw), binary_learner.feature_importance(seed=3, **kw)
    assert a.attrs['n_rows'] == 500
    pd.testing.assert_frame_equal(a, b)
    # the one subsampling rule: max_rows caps the rows; a set that is not larger is used whole
    whole = binary_learner.feature_importance(df=binary_test.iloc[:300], n_repeats=1, max_rows=500, seed=3,
                                              show_progress=False)
    assert whole.attrs['n_rows'] == 300


def test_fill_missing_indicator_moves_with_its_column():
    "`signal_na` is permuted together with `signal` and reported under `signal`."
    df = make_binary_df(2000, 5)
    df.loc[df.sample(frac=0.2, random_state=0).index, 'signal'] = np.nan
    learn = train(df, 'y', ['level'], ['signal', 'weak'], epochs=3)
    assert 'signal_na' in learn.dls.cat_names
    test = make_binary_df(1500, 6)
    test.loc[test.sample(frac=0.2, random_state=1).index, 'signal'] = np.nan
    fi = learn.feature_importance(df=test, n_repeats=2, seed=0, show_progress=False)
    assert sorted(fi['Variable']) == ['level', 'signal', 'weak']
    assert fi['Variable'][0] == 'signal'


@pytest.mark.parametrize('kind', ['multiclass', 'regression', 'multi_target', 'multi_label'])
def test_problem_types(kind):
    df, test = multi_df(2000, 0), multi_df(1500, 1)
    cat, cont = ['k'], ['a', 'b', 'noise']
    if kind == 'multiclass':
        learn, top = train(df, 'cls', cat, cont, epochs=3, y_block=CategoryBlock()), 'a'
    elif kind == 'regression':
        learn, top = train(df, 'reg', cat, cont, epochs=3, y_block=RegressionBlock(), y_range=(-8, 8)), 'a'
    elif kind == 'multi_target':
        learn, top = train(df, ['reg', 'reg2'], cat, cont, epochs=3, y_block=RegressionBlock()), 'b'
    else:
        learn, top = train(df, ['lab_a', 'lab_b'], cat, cont, epochs=3,
                           y_block=MultiCategoryBlock(encoded=True, vocab=['lab_a', 'lab_b'])), None
    metric = {'regression': ['loss', rmse], 'multi_label': ['loss', 'accuracy']}.get(kind)
    res = learn.feature_importance(df=test, n_repeats=2, seed=0, metric=metric, show_progress=False)
    for fi in (res.values() if isinstance(res, dict) else [res]):
        s = imp(fi)
        assert set(s.index) == {'k', 'a', 'b', 'noise'}
        if top: assert fi['Variable'][0] == top
        else: assert set(fi['Variable'][:2]) == {'a', 'b'}
        assert abs(s['noise']) < 0.1 * s.max()


def test_exported_learner_gives_the_same_result(binary_learner, binary_test, tmp_path, quiet):
    binary_learner.export(tmp_path / 'learner.pkl')
    loaded = load_learner(tmp_path / 'learner.pkl')
    kw = dict(df=binary_test, n_repeats=2, seed=0, show_progress=False)
    a = binary_learner.feature_importance(**kw)
    b = loaded.feature_importance(**kw)
    pd.testing.assert_frame_equal(a, b, atol=1e-6)
    assert not hasattr(loaded, 'feature_importance_') and 'feature_importance' not in vars(loaded)


def test_free_function_matches_method(binary_learner, binary_test):
    kw = dict(df=binary_test, n_repeats=2, seed=0, show_progress=False)
    pd.testing.assert_frame_equal(fastai_featimp.permutation_importance(binary_learner, **kw),
                                  binary_learner.feature_importance(**kw))


def test_validation_set_is_used_with_a_warning(binary_learner):
    with pytest.warns(UserWarning, match='held-out labelled test set'):
        fi = binary_learner.feature_importance(n_repeats=1, seed=0, show_progress=False)
    assert fi.attrs['n_rows'] == len(binary_learner.dls.valid_ds)
    assert fi['Std'].isna().all() and fi['p_value'].isna().all()


def test_progress_bar_follows_no_bar(binary_learner, binary_test, capsys):
    binary_learner.feature_importance(df=binary_test, n_repeats=1, seed=0)
    assert 'permutation importance' in capsys.readouterr().out
    with binary_learner.no_bar():
        binary_learner.feature_importance(df=binary_test, n_repeats=1, seed=0)
    assert capsys.readouterr().out == ''
    binary_learner.feature_importance(df=binary_test, n_repeats=1, seed=0, show_progress=False)
    assert capsys.readouterr().out == ''


def test_gathered_tensors_equal_iterating_the_dataloader(binary_learner, binary_test):
    "The one-batch gather gives exactly what fastai's DataLoader yields batch by batch."
    from fastai_featimp.tabular.data import gather_batch
    dl = binary_learner.dls.test_dl(binary_test)
    inputs, target = gather_batch(dl)
    batches = list(dl)
    for k, x in enumerate(inputs + [target]):
        assert torch.equal(x, torch.cat([b[k] for b in batches]).as_subclass(torch.Tensor))


def test_a_threshold_without_automatic_groups_is_said_to_change_nothing(binary_learner, binary_test):
    kw = dict(df=binary_test.head(200), n_repeats=1, seed=0, show_progress=False)
    with pytest.warns(UserWarning, match=r"threshold=0.5 is the association .* without groups='auto'"):
        fi = binary_learner.feature_importance(threshold=0.5, **kw)
    pd.testing.assert_frame_equal(fi, binary_learner.feature_importance(**kw))
