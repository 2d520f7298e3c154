"""Silent answers, part two (issue 25): what an adversarial run on real data found. Each case gives the right answer,
a clear error naming the argument, or a warning with the numbers."""
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from fastai.tabular.all import (EarlyStoppingCallback, RegressionBlock, SaveModelCallback, ShowGraphCallback,
                                load_learner)
from sklearn.metrics import f1_score, roc_auc_score

import fastai_featimp
from fastai_featimp import ImportanceCallback, ParameterError
from helpers import BIN_CAT, BIN_CONT, make_binary_df, text_dls, train

Q = dict(show_progress=False)


# --- a custom text model read right ------------------------------------------------------------------------------

class LateLinear(torch.nn.Module):
    "A text model whose last registered Linear is a projection used early, not its output layer."
    def __init__(self, vocab_size, n_out=2, emb=32):
        super().__init__()
        self.emb = torch.nn.Embedding(vocab_size, emb, padding_idx=1)
        self.head = torch.nn.Linear(emb, n_out)
        self.project = torch.nn.Linear(emb, emb)   # registered last, applied first
    def forward(self, x): return self.head(torch.relu(self.project(self.emb(x))).max(dim=1).values)


@pytest.fixture(scope='module')
def late_linear(notes):
    from fastai.text.all import Learner, set_seed
    set_seed(0, reproducible=True)
    dls = text_dls(notes[0].head(800))
    learn = Learner(dls, LateLinear(len(dls.vocab[0])))
    with learn.no_bar(), learn.no_logging(), warnings.catch_warnings():
        warnings.simplefilter('ignore')
        learn.fit_one_cycle(2, 1e-2)
    return learn


def test_the_output_size_is_read_from_a_forward_pass(late_linear, notes):
    from fastai_featimp.text.schema import text_schema
    assert text_schema(late_linear).n_out == 2
    df = notes[1].head(150)
    fi = late_linear.feature_importance(df=df, candidates=['family visit'], metric='f1', n_bootstrap=0, **Q)
    dl = late_linear.dls.test_dl(df['text'].tolist())
    preds = late_linear.get_preds(dl=dl)[0]
    truth = (df['outcome'] == 'died').to_numpy().astype(int)
    assert fi.attrs['baseline'] == pytest.approx(f1_score(truth, preds.argmax(1).numpy()), abs=1e-6)   # binary F1
    auc = late_linear.feature_importance(df=df, candidates=['family visit'], metric='roc_auc', n_bootstrap=0, **Q)
    assert auc.attrs['baseline'] == pytest.approx(roc_auc_score(truth, preds[:, 1].numpy()), abs=1e-6)


# --- the callback in fastai's own loops ----------------------------------------------------------------------------

@pytest.fixture(scope='module')
def table():
    return make_binary_df(1500, 0)


def fit(df, epochs, cbs, bars=False, **kw):
    from fastai.tabular.all import Categorify, FillMissing, Normalize, TabularDataLoaders, set_seed, tabular_learner
    set_seed(0, reproducible=True)
    dls = TabularDataLoaders.from_df(df, y_names='y', cat_names=BIN_CAT, cont_names=BIN_CONT, bs=128,
                                     procs=[Categorify, FillMissing, Normalize], valid_idx=list(range(1200, len(df))))
    learn = tabular_learner(dls, layers=[32])
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        if bars: learn.fit_one_cycle(epochs, 1e-2, cbs=cbs, **kw)
        else:
            with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(epochs, 1e-2, cbs=cbs, **kw)
    return learn


def evaluated(cb): return sorted(set(zip(cb.history['epoch'], cb.history['stage'])))


def test_early_stopping_still_evaluates_the_last_trained_epoch(table):
    cb = ImportanceCallback(every=2)
    learn = fit(table, 5, [cb, EarlyStoppingCallback(patience=0, min_delta=10)])   # stops in the second epoch
    trained = len(learn.recorder.values)
    assert trained == 2 and evaluated(cb) == [(2, 'epoch')] and 'Nothing evaluated' not in str(cb.report())


def test_weights_put_back_by_save_model_are_evaluated_as_the_final_model(table):
    cb = ImportanceCallback(n_repeats=2)
    learn = fit(table, 3, [cb, SaveModelCallback(monitor='valid_loss', comp=np.greater, fname='featimp_worst')])
    assert evaluated(cb)[-1] == (3, 'final')
    last = cb.history[(cb.history['stage'] == 'final') & (cb.history['split'] == 'valid')].set_index('Variable')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        fi = learn.feature_importance(n_repeats=2, seed=0, max_rows=2000, **Q).set_index('Variable')
    np.testing.assert_allclose(last.loc[fi.index, 'Importance'], fi['Importance'], atol=1e-6)


def test_show_graph_fine_tune_and_a_loaded_learner(table, tmp_path, capsys):
    cb = ImportanceCallback()
    fit(table, 2, [cb, ShowGraphCallback()], bars=True)
    assert evaluated(cb) == [(1, 'epoch'), (2, 'epoch')]
    cb = ImportanceCallback()
    learn = fit(table, 1, [])
    with learn.no_bar(), learn.no_logging(), warnings.catch_warnings():
        warnings.simplefilter('ignore')
        learn.fine_tune(2, freeze_epochs=1, cbs=cb)
    assert [e for e, _ in evaluated(cb)] == [1, 2, 3]   # the frozen epoch, then the two unfrozen ones
    learn.add_cb(cb)
    learn.export(tmp_path / 'with_cb.pkl')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        loaded = load_learner(tmp_path / 'with_cb.pkl')
    loaded.dls = learn.dls
    kept = next(c for c in loaded.cbs if isinstance(c, ImportanceCallback))
    assert kept.learn is loaded and len(kept.history) == len(cb.history)
    with loaded.no_bar(), loaded.no_logging(), warnings.catch_warnings():
        warnings.simplefilter('ignore')
        loaded.fit(1)
    assert evaluated(kept)[-1] == (4, 'epoch')


def test_the_callback_takes_one_metric_and_no_phrases_on_a_table(table):
    with pytest.raises(ParameterError, match='the callback tracks one metric'):
        ImportanceCallback(metric=['loss', 'accuracy'])
    with pytest.raises(ParameterError, match='candidates.*for a text learner'):
        fit(table, 1, [ImportanceCallback(candidates=['a'])])


def test_a_clean_table_has_no_memorised_column():
    "No identifier, no leak: a model trained long enough to overfit a little names nothing memorised."
    df = make_binary_df(2400, 3).drop(columns='row_id')
    cb = ImportanceCallback(n_repeats=2)
    train(df, 'y', ['level', 'noise_cat'], BIN_CONT, epochs=8, fit_cbs=cb)
    report = cb.report()
    assert report.memorised == [], str(report)
    last = cb.history[cb.history['epoch'] == 8].pivot(index='Variable', columns='split', values='Importance')
    assert (last['train'] >= last['valid'] - 0.05).all()   # some overfitting was there to be misread


def test_a_leak_split_over_overlapping_phrases_is_named():
    "'verified purchase', 'verified' and 'purchase' are one signal: the strongest of them is named a likely leak."
    cb = ImportanceCallback()
    for epoch in (1, 2):
        for split in ('valid', 'train'):
            for v, kind, imp in [('verified purchase', 'phrase', 1.13), ('verified', 'word', 0.81),
                                 ('purchase', 'word', 0.64), ('good', 'word', 0.0017)]:
                cb.records.append(dict(epoch=epoch, split=split, Variable=v, Type=kind, Importance=imp, Std=np.nan,
                                       SE=0.01, Baseline=0.4, stage='epoch'))
    cb._overlapping = {frozenset(p) for p in [('verified purchase', 'verified'), ('verified purchase', 'purchase')]}
    report = cb.report()
    assert report.leaks == ['verified purchase'] and 'likely leak' in str(report)


# --- silent tables -------------------------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def regression():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({'a': rng.normal(size=1200), 'b': rng.normal(size=1200), 'k': rng.choice(list('pq'), 1200)})
    df['y'] = 2 * df['a'] + 0.1 * rng.normal(size=1200)
    return train(df, 'y', ['k'], ['a', 'b'], epochs=3, y_block=RegressionBlock()), df


def test_an_infinite_label_is_refused(regression):
    learn, df = regression
    bad = df.head(200).copy()
    bad.loc[bad.index[5], 'y'] = np.inf
    with pytest.raises(ParameterError, match=r"infinite values in 1 row\(s\) of df"):
        learn.feature_importance(df=bad, **Q)
    bad.loc[bad.index[5], 'y'] = np.nan   # the same through a test_dl (the DataFrame's checks are not run there)
    with pytest.raises(ParameterError, match=r"1 missing label\(s\) of 200"):
        learn.feature_importance(test_dl=learn.dls.test_dl(bad, with_labels=True), **Q)


def test_nullable_float_labels_of_a_regression_are_converted(regression):
    learn, df = regression
    plain = learn.feature_importance(df=df.head(300), n_repeats=2, seed=0, **Q)
    typed = learn.feature_importance(df=df.head(300).astype({'y': 'Float64'}), n_repeats=2, seed=0, **Q)
    pd.testing.assert_frame_equal(plain, typed)


def test_a_metric_blind_to_the_predictions_is_refused(binary_learner, binary_test):
    const = lambda preds, targs: 0.5
    with pytest.raises(ParameterError, match="gives 0.5 whatever the predictions"):
        binary_learner.feature_importance(df=binary_test.head(300), metric=const, greater_is_better=True, **Q)
    with pytest.raises(ParameterError, match="greater_is_better must be True, False or None"):
        binary_learner.feature_importance(df=binary_test.head(300), metric='accuracy', greater_is_better='yes', **Q)
    vector = lambda preds, targs: (preds.argmax(1) == targs.view(-1)).float()
    with pytest.raises(ParameterError, match=r"returned 300 values .* one number"):
        binary_learner.feature_importance(df=binary_test.head(300), metric=vector, greater_is_better=True, **Q)


def test_the_training_rows_as_a_test_set_are_warned_about(binary_learner):
    with pytest.warns(UserWarning, match='rows the model was trained on.*memorised'):
        binary_learner.feature_importance(test_dl=binary_learner.dls.train, n_repeats=1, **Q)


def test_candidates_the_model_cannot_score(custom_text, notes):
    df = notes[1].head(80)
    with pytest.raises(ParameterError, match="'zebra crossing' in candidates holds word.* never saw.*'zebra'"):
        custom_text.feature_importance(df=df, candidates=['family visit', 'zebra crossing'], **Q)
    with pytest.raises(ParameterError, match='must hold phrases as strings, got 3'):
        custom_text.feature_importance(df=df, candidates=['family visit', 3], **Q)
    with pytest.warns(UserWarning, match="1 of the candidates occur in none of the 80 texts.*'visit family'"):
        fi = custom_text.feature_importance(df=df, candidates=['family visit', 'visit family'], n_bootstrap=0, **Q)
    assert list(fi['Variable']) == ['family visit'] and fi.attrs['absent'] == ['visit family']
    fi = custom_text.feature_importance(df=df, candidates=['family visit'], n_bootstrap=0, **Q)   # through the door
    assert fi['Std'].isna().all()


# --- arguments that mean nothing -----------------------------------------------------------------------------------

@pytest.mark.parametrize('call, match', [
    (lambda l, d: l.explain(d.iloc[:1], method='permutation', n_permutations=0, **Q), 'n_permutations must be an integer >= 1, got 0'),
    (lambda l, d: l.explain(d.iloc[:1], method='permutation', n_permutations=-4, **Q), 'n_permutations must be'),
    (lambda l, d: l.explain(d.iloc[:1], n_background=1, **Q), 'n_background must be an integer >= 2, got 1'),
    (lambda l, d: l.interaction_strength(d, pairs=[('signal', 'signal')], **Q), 'one column twice'),
    (lambda l, d: l.interaction_strength(d, features=['signal', 'weak'], bs=0, **Q), 'bs must be an integer >= 1, got 0'),
    (lambda l, d: l.interaction_strength(df=[1, 2], **Q), 'df must be a pandas DataFrame, got list'),
    (lambda l, d: l.accumulated_local_effects('signal', d, bins=1), 'bins must be an integer >= 2, got 1'),
    (lambda l, d: l.feature_dependence(d.iloc[:1]), 'at least 2 rows'),
])
def test_arguments_that_mean_nothing_are_refused(binary_learner, binary_test, call, match):
    with pytest.raises(ParameterError, match=match): call(binary_learner, binary_test.head(200))


def test_exact_shapley_beyond_fourteen_columns_is_refused():
    rng = np.random.default_rng(0)
    cols = [f'x{i}' for i in range(15)]
    df = pd.DataFrame(rng.normal(size=(600, 15)), columns=cols).assign(y=lambda d: np.where(d.x0 > 0, 'a', 'b'))
    learn = train(df, 'y', [], cols, epochs=1)
    with pytest.raises(ParameterError, match=r"'exact' enumerates all 2\^15 coalitions"):
        learn.explain(df.head(1), method='exact', **Q)


def test_degenerate_curves_are_warned_about(binary_learner, binary_test):
    with pytest.warns(UserWarning, match=r"'signal' takes a single value \(0.5\)"):
        binary_learner.partial_dependence('signal', binary_test.head(50).assign(signal=0.5), **Q)
    with pytest.warns(UserWarning, match='computed on 5 rows'):
        binary_learner.feature_dependence(binary_test.head(5))


def test_text_arguments(custom_text, notes):
    texts = notes[1]['text'].head(2).tolist()
    with pytest.raises(ParameterError, match='bs must be an integer >= 1, got 0'): custom_text.explain(texts, bs=0, **Q)
    with pytest.raises(ParameterError, match='text_col names a column of a DataFrame'):
        custom_text.explain(texts, text_col='nope', **Q)


# --- text outputs: the prediction the user gets ----------------------------------------------------------------------

REAL_LOOKING = [
    "Great votes....  <br />  <br />Really  GOOD. It's fine!!!! ok ok ok ok",
    "<b>Bold</b> &amp; &quot;quoted&quot; it&#39;s x &lt;tag&gt; caf&eacute; — 5,000 units at 14:30.",
    "PATIENT DOESN'T WANT soooo MUCH\n\nline two\n  indented line\tand a tab",
    "Family visit this afternoon, questions answered. " * 12 + "Remains intubated on current settings.",   # > 72 tokens
]


def predictions(learn, texts, k):
    "What fastai's own prediction gives for each text alone (test_dl, get_preds with one text per batch)."
    with warnings.catch_warnings(), learn.no_bar():
        warnings.simplefilter('ignore')
        return learn.get_preds(dl=learn.dls.test_dl(texts, bs=1))[0][:, k].numpy()


@pytest.mark.parametrize('model', ['custom_text', pytest.param('awd_lstm', marks=pytest.mark.slow)])
def test_outputs_are_the_prediction_the_user_gets(request, model):
    learn = request.getfixturevalue(model)
    expl = learn.explain(REAL_LOOKING, method='occlusion', **Q)
    k = list(learn.dls.vocab[1]).index('died')
    np.testing.assert_allclose(expl.attrs['outputs'], predictions(learn, REAL_LOOKING, k), atol=1e-5)


@pytest.fixture(scope='module')
def whitespace_learner(notes):
    "Trained on notes with '<br />  <br />' in them: its vocabulary knows fastai's training token for that whitespace."
    from helpers import train_custom_text
    df = notes[0].head(600).copy()
    df.loc[df.index[::3], 'text'] = df['text'].iloc[::3] + ' <br />  <br /> done.'
    return train_custom_text(df, epochs=1)


def test_a_text_tokenised_otherwise_for_a_prediction_is_said(whitespace_learner):
    learn = whitespace_learner
    assert '\n▁\n▁' in learn.dls.vocab[0]
    text = 'Family visit today. <br />  <br /> done.'
    with pytest.warns(UserWarning, match=r"1 of the 1 texts hold whitespace .*'\\n \\n ' is unknown to the model"):
        expl = learn.explain(text, method='occlusion', **Q)
    k = list(learn.dls.vocab[1]).index('died')
    np.testing.assert_allclose(expl.attrs['outputs'], predictions(learn, [text], k), atol=1e-5)


def test_an_ellipsis_rewritten_by_fastai_keeps_its_offsets(custom_text):
    text = 'Great votes....'
    expl = custom_text.explain(text, method='occlusion', **Q)
    assert list(zip(expl['Variable'], expl['Start'], expl['End'])) == [('Great', 0, 5), ('votes', 6, 11), ('...', 11, 14),
                                                                       ('.', 14, 15)]


def test_token_units_say_which_tokens_are_markers(custom_text):
    expl = custom_text.explain('TERRIBLE food', unit='token', method='occlusion', **Q)
    assert list(zip(expl['Variable'], expl['Tokens'], expl['Marker'])) == [('TERRIBLE', 'xxup', True),
                                                                          ('TERRIBLE', 'terrible', False),
                                                                          ('food', 'food', False)]
