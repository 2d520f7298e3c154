"""Importance while training: the callback sees a leak from the first epoch and a memorised identifier, and
training with it is bit for bit the same as without it."""
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

import fastai_featimp
from fastai_featimp import ImportanceCallback
from helpers import assert_same_rng, global_rng_state, make_binary_df, train, train_custom_text

Q = dict(show_progress=False)
CAT, CONT = ['level', 'patient_id', 'noise_cat'], ['signal', 'noise']


def frame(n, seed, ids=800, leak=False):
    "The binary table plus a `patient_id` with many levels (about 3 rows each), and optionally a copy of the label."
    df = make_binary_df(n, seed)
    df['patient_id'] = [f'p{i}' for i in np.random.default_rng(seed + 100).integers(0, ids, n)]
    if leak: df['leak'] = df['y']
    return df


def weights(learn): return {k: v.detach().clone() for k, v in learn.model.state_dict().items()}


def test_training_is_bit_identical_with_the_callback():
    df = frame(1500, 0)
    plain = train(df, 'y', CAT, CONT, epochs=3)
    cb = ImportanceCallback(n_repeats=2)
    watched = train(df, 'y', CAT, CONT, epochs=3, fit_cbs=cb)
    for (k, a), b in zip(weights(plain).items(), weights(watched).values()): assert torch.equal(a, b), k
    assert plain.recorder.values == watched.recorder.values
    assert sorted(cb.history['epoch'].unique()) == [1, 2, 3]


def test_training_a_text_model_is_bit_identical_with_the_callback(notes):
    small = notes[0].head(500)
    plain = train_custom_text(small, epochs=2)
    cb = ImportanceCallback(max_rows=60, train_rows=60, candidates=['family visit', 'ambulating', 'intubated', 'visit family'])
    watched = train_custom_text(small, epochs=2, fit_cbs=cb)   # 'visit family' occurs in no held-out text: not tracked
    for (k, a), b in zip(weights(plain).items(), weights(watched).values()): assert torch.equal(a, b), k
    h = cb.history
    assert set(h['Variable']) == {'family visit', 'ambulating', 'intubated'} and set(h['split']) == {'valid', 'train'}
    assert set(h[h['Variable'] == 'family visit']['Type']) == {'phrase'}


@pytest.fixture(scope='module')
def memorising():
    "Trained long enough to learn the patient ids of its training rows by heart."
    cb = ImportanceCallback(n_repeats=3)
    learn = train(frame(2400, 1), 'y', CAT, CONT, epochs=8, fit_cbs=cb)
    return learn, cb


def test_last_epoch_equals_feature_importance_on_the_final_model(memorising):
    learn, cb = memorising
    h = cb.history
    last = h[(h['epoch'] == 8) & (h['split'] == 'valid')].set_index('Variable')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        fi = learn.feature_importance(n_repeats=3, seed=0, max_rows=2000, **Q).set_index('Variable')
    np.testing.assert_allclose(last.loc[fi.index, 'Importance'], fi['Importance'], atol=1e-6)
    np.testing.assert_allclose(last.loc[fi.index, 'Std'], fi['Std'], atol=1e-6)
    assert last['Baseline'].iloc[0] == pytest.approx(fi.attrs['baseline'], abs=1e-6)


def test_a_memorised_identifier_is_named_and_noise_stays_near_zero(memorising):
    learn, cb = memorising
    h = cb.history
    last = h[h['epoch'] == 8].pivot(index='Variable', columns='split', values='Importance')
    assert last.loc['patient_id', 'train'] > 3 * max(last.loc['patient_id', 'valid'], 0.01)
    assert abs(last.loc['noise_cat', 'train']) < 0.05 and abs(last.loc['noise_cat', 'valid']) < 0.05
    report = cb.report()
    assert 'patient_id' in report.memorised and 'noise_cat' not in report.memorised and 'signal' not in report.memorised
    assert "'patient_id' looks memorised" in str(report)
    import matplotlib.pyplot as plt
    ax = fastai_featimp.plot_train_vs_valid(cb.history)
    assert 'patient_id' in [t.get_text() for t in ax.texts]
    plt.close(ax.figure)
    ax = fastai_featimp.plot_importance_history(cb.history, top=3)
    assert len([l for l in ax.lines if np.asarray(l.get_xdata()).size == 8]) == 6   # 3 columns x (held-out, training)
    assert len(ax.collections) >= 3                                      # intervals: n_repeats=3
    plt.close(ax.figure)


def test_a_leak_leads_from_the_first_epoch():
    cb = ImportanceCallback(every=2)
    train(frame(1500, 2, leak=True), 'y', CAT + ['leak'], CONT, epochs=5, fit_cbs=cb)
    h = cb.history
    assert sorted(h['epoch'].unique()) == [2, 4, 5]   # every 2 epochs, and the last
    for epoch, part in h[h['split'] == 'valid'].groupby('epoch'):
        assert part.sort_values('Importance')['Variable'].iloc[-1] == 'leak', epoch
    report = cb.report()
    assert report.leaks == ['leak'] and 'likely leak' in str(report)


@pytest.mark.parametrize('kw, match', [
    (dict(df=frame(200, 3).drop(columns='y')), "no label column 'y'"),
    (dict(metric='rmse'), "metric 'rmse' compares a predicted value"),
    (dict(metric=lambda p, t: 1 / 0, greater_is_better=True), 'could not be computed.*division by zero'),
])
def test_bad_settings_fail_before_training_starts(kw, match):
    df = frame(600, 4)
    from fastai.tabular.all import Categorify, FillMissing, Normalize, TabularDataLoaders, tabular_learner
    dls = TabularDataLoaders.from_df(df, y_names='y', cat_names=CAT, cont_names=CONT, bs=64,
                                     procs=[Categorify, FillMissing, Normalize])
    learn = tabular_learner(dls)
    before, rng = weights(learn), global_rng_state()
    with pytest.raises((ValueError, TypeError), match=match), learn.no_bar(), learn.no_logging():
        learn.fit(1, cbs=ImportanceCallback(**kw))
    for k, v in before.items(): assert torch.equal(v, learn.model.state_dict()[k]), k   # not one step taken
    assert_same_rng(rng, global_rng_state())


def test_argument_errors_at_construction():
    with pytest.raises(ValueError, match='train_rows must be an integer >= 1, got 0'): ImportanceCallback(train_rows=0)
    with pytest.raises(ValueError, match='every must be an integer >= 1'): ImportanceCallback(every=0)


def test_attached_callback_survives_export(tmp_path):
    from fastai.learner import load_learner
    df = frame(800, 5)
    learn = train(df, 'y', CAT, CONT, epochs=1)
    cb = ImportanceCallback()
    learn.add_cb(cb)
    with learn.no_bar(), learn.no_logging(): learn.fit(1)
    learn.export(tmp_path / 'with_cb.pkl')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        loaded = load_learner(tmp_path / 'with_cb.pkl')
    kept = next(c for c in loaded.cbs if isinstance(c, ImportanceCallback))
    assert len(kept.history) == len(cb.history) and kept._splits is None   # the history, not the data
    fi = loaded.feature_importance(df=df, n_repeats=1, **Q)   # the loaded learner works as usual
    assert len(fi) == len(CAT + CONT)


def test_validate_and_predict_do_not_trigger_the_callback(tmp_path):
    "fastai fires fit events around validate, get_preds and predict: the callback scores trained epochs only."
    from fastai.learner import load_learner
    df = frame(800, 6)
    cb = ImportanceCallback()
    learn = train(df, 'y', CAT, CONT, epochs=2, fit_cbs=cb)
    learn.add_cb(cb)
    before = cb.history.copy()
    with learn.no_bar(), warnings.catch_warnings():
        warnings.simplefilter('ignore')
        learn.validate(); learn.get_preds(); learn.predict(df.iloc[0])
    pd.testing.assert_frame_equal(cb.history, before)
    assert "looks memorised" in str(cb.report()) or 'no column looks memorised' in str(cb.report())
    learn.export(tmp_path / 'l.pkl')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        loaded = load_learner(tmp_path / 'l.pkl')
        loaded.predict(df.iloc[0])   # no data in the loaded callback: it must stay out of the way
