"""Global phrase importance of a text classifier by dataset-level ablation: the leak tops the ranking, the effects
follow the generator's true evidence, and the table is the tabular one plus Support and MeanDelta."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from fastai_featimp.datasets import CLINICAL_LEAK, clinical_evidence
from helpers import assert_learner_unchanged, assert_same_rng, global_rng_state, learner_snapshot

Q = dict(show_progress=False)


@pytest.fixture(scope='module')
def ranking(awd_lstm, notes):
    "Every word and two-word phrase in at least 30 of 200 held-out notes (not starting or ending with a stop word)."
    return awd_lstm.feature_importance(df=notes[1].head(200), min_support=30, exclude='english', seed=0, **Q)


def test_the_leak_ranks_first(ranking, custom_text, notes):
    assert ranking['Variable'][0] == CLINICAL_LEAK and ranking['Type'][0] == 'phrase'
    assert ranking['p_value'][0] < 0.05
    custom = custom_text.feature_importance(df=notes[1].head(300), min_support=30, seed=0, **Q)
    assert custom['Variable'][0] == CLINICAL_LEAK


@pytest.mark.parametrize('model', ['awd_lstm', 'custom_text'])
def test_effects_follow_the_true_evidence(request, notes, model):
    "MeanDelta (how much a phrase raises P(died) where it occurs) is ordered like the generator's log likelihood ratios."
    evidence = clinical_evidence().set_index('phrase')['llr']
    learn = request.getfixturevalue(model)
    table = learn.feature_importance(df=notes[1], candidates=list(evidence.index), n_bootstrap=50, seed=0,
                                     **Q).set_index('Variable')
    planted = list(evidence.index)
    rho = spearmanr(evidence[planted], table.loc[planted, 'MeanDelta']).statistic
    assert rho >= 0.75, (rho, table.loc[planted, 'MeanDelta'].to_dict())
    assert (np.sign(table.loc[planted, 'MeanDelta']) == np.sign(evidence[planted])).mean() >= 6 / 7


def test_table_support_and_bootstrap(ranking, notes):
    test = notes[1].head(200)
    assert list(ranking.columns) == ['Variable', 'Type', 'Importance', 'Std', 'CI_low', 'CI_high', 'p_value', 'Support',
                                     'MeanDelta', 'Members']
    assert set(ranking['Type']) == {'word', 'phrase'} and ranking['Importance'].is_monotonic_decreasing
    words = ' ' + test['text'].str.lower().str.replace(r'[^a-z0-9]+', ' ', regex=True) + ' '
    row = ranking.set_index('Variable').loc[CLINICAL_LEAK]
    assert row['Support'] == words.str.contains(' family visit ').sum()
    a = ranking.attrs
    assert a['method'] == 'phrase ablation' and a['n_bootstrap'] == 200 and a['n_rows'] == 200 and a['metric'] == 'loss'
    assert len(a['importances'][CLINICAL_LEAK]) == 200
    assert (ranking['CI_low'] <= ranking['CI_high']).all() and ranking['Std'].notna().all()
    top = ranking.iloc[0]
    assert top['CI_low'] <= top['Importance'] <= top['CI_high'] and top['CI_low'] > 0 and top['p_value'] < 0.05


def test_the_loss_shortcut_equals_scoring_every_resample(custom_text, notes):
    "Per-text losses give the bootstrap in one product; a metric scored on every resample must agree."
    learn, df = custom_text, notes[1].head(120)
    loss = learn.loss_func
    slow = lambda p, t: float(loss(p, t))   # the same loss as a plain callable: scored resample by resample
    kw = dict(df=df, min_support=15, seed=3, n_bootstrap=20, **Q)
    fast, ref = learn.feature_importance(**kw), learn.feature_importance(metric=slow, greater_is_better=False, **kw)
    pd.testing.assert_series_equal(fast['Importance'], ref['Importance'], atol=1e-6)
    for v in fast['Variable']:
        np.testing.assert_allclose(fast.attrs['importances'][v], ref.attrs['importances'][v], atol=1e-6)


@pytest.mark.slow
def test_options(custom_text, notes):
    learn, df = custom_text, notes[1].head(150)
    from fastai_featimp.text.phrases import ENGLISH_STOP_WORDS as stop
    plain = learn.feature_importance(df=df, min_support=15, n_bootstrap=0, exclude=None, seed=0, **Q)
    assert plain['Std'].isna().all() and set(plain['Variable']) & stop and plain.attrs['excluded'] == 'nothing'
    no_stop = learn.feature_importance(df=df, min_support=15, n_bootstrap=0, exclude='english', seed=0, **Q)
    assert not any(v.split()[0] in stop or v.split()[-1] in stop for v in no_stop['Variable'])
    assert set(no_stop['Variable']) < set(plain['Variable'])
    # the default on an English vocabulary leaves out the stop words, and says so
    default = learn.feature_importance(df=df, min_support=15, n_bootstrap=0, seed=0, **Q)
    assert list(default['Variable']) == list(no_stop['Variable']) and 'English' in default.attrs['excluded']
    by_effect = learn.feature_importance(df=df, min_support=15, n_bootstrap=0, sort_by='MeanDelta', seed=0, **Q)
    assert by_effect['MeanDelta'].abs().is_monotonic_decreasing
    given = learn.feature_importance(df=df, candidates=['Family visit', 'FAMILY'], n_bootstrap=0, **Q)
    assert list(given['Variable']) == ['family visit', 'family']
    res = learn.feature_importance(df=df, min_support=40, metric=['loss', 'accuracy'], n_bootstrap=0, **Q)
    assert set(res) == {'loss', 'accuracy'} and res['accuracy'].attrs['greater_is_better']
    import matplotlib.pyplot as plt
    ax = learn.plot_feature_importance(given)
    assert [t.get_text() for t in ax.get_yticklabels()][-1] == given['Variable'][0]
    plt.close(ax.figure)


def test_bad_input_and_nothing_changes(custom_text, notes):
    learn, df = custom_text, notes[1].head(60)
    snap, rng = learner_snapshot(learn), global_rng_state()
    with pytest.raises(ValueError, match="no label column 'outcome'"):
        learn.feature_importance(df=df.drop(columns='outcome'), **Q)
    with pytest.raises(ValueError, match="no text column 'text'.*text_col="):
        learn.feature_importance(df=df.rename(columns={'text': 'note'}), **Q)
    with pytest.raises(ValueError, match="never seen in training: 'maybe'"):
        learn.feature_importance(df=df.assign(outcome='maybe'), **Q)
    with pytest.raises(ValueError, match='no word or phrase of up to 2 words occurs in at least 1000'):
        learn.feature_importance(df=df, min_support=1000, **Q)
    with pytest.raises(ValueError, match="sort_by must be 'Importance' or 'MeanDelta'"):
        learn.feature_importance(df=df, sort_by='Support', **Q)
    renamed = learn.feature_importance(df=df.rename(columns={'text': 'note'}), text_col='note', min_support=20,
                                       n_bootstrap=0, **Q)
    assert len(renamed)
    with pytest.warns(UserWarning, match='validation set'):
        learn.feature_importance(min_support=200, n_bootstrap=0, max_rows=300, **Q)
    assert_learner_unchanged(learn, snap)
    assert_same_rng(rng, global_rng_state())


@pytest.mark.slow   # exports, reloads and runs the command (8 s): the quick loop keeps under 3 minutes
def test_command_line_for_an_exported_text_learner(custom_text, notes, tmp_path, capsys):
    from fastai_featimp.cli import main
    custom_text.export(tmp_path / 'notes.pkl')
    notes[1].head(100).to_csv(tmp_path / 'notes.csv', index=False)
    assert main(['importance', str(tmp_path / 'notes.pkl'), str(tmp_path / 'notes.csv'), '--seed', '0',
                 '--csv', str(tmp_path / 'fi.csv')]) == 0
    out = capsys.readouterr()
    assert out.out.split()[:3] == ['Variable', 'Type', 'Importance'] and 'Support' in out.out
    assert 'Phrase ablation importance' in out.err
    assert pd.read_csv(tmp_path / 'fi.csv')['Variable'].notna().all()
    notes[1].head(2)[['text']].to_csv(tmp_path / 'two.csv', index=False)
    assert main(['explain', str(tmp_path / 'notes.pkl'), str(tmp_path / 'two.csv'), '--seed', '0',
                 '--plot', str(tmp_path / 'e.png')]) == 0
    out = capsys.readouterr().out   # a table per note: its strongest units with their characters
    assert 'Row 1: Probability of died' in out and 'Chars' in out and (tmp_path / 'e.png').stat().st_size > 1000


def test_words_the_model_never_saw_are_not_candidates(custom_text, notes):
    df = notes[1].head(80).copy()
    df.loc[df.index[:40], 'text'] = df['text'].iloc[:40] + ' Zyqxolam given.'   # unseen by the model, in half the notes
    fi = custom_text.feature_importance(df=df, min_support=20, n_bootstrap=0, **Q)
    assert not any('zyqxolam' in v for v in fi['Variable'])
