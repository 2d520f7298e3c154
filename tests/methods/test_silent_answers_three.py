"""Silent answers, part three (issue 32): what a round on real data found. Each case is checked against a hand
computation or a reference, or must give a clear error naming the argument."""
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

import fastai_featimp
from fastai_featimp import ParameterError
from fastai_featimp.text.units import align, word_units
from helpers import BIN_CAT, BIN_CONT, assert_call_leaves_everything

Q = dict(show_progress=False)


# --- 1. repeated words: xxwrep, xxrep, xxup, xxmaj ------------------------------------------------------------------

def _tokens(learn, text):
    from fastai_featimp.text.data import tokenize
    from fastai_featimp.text.schema import text_schema
    schema = text_schema(learn)
    return schema, tokenize(schema, [text])[0]


@pytest.mark.parametrize('text, word, written', [
    ('Patient stable stable stable overnight.', 'stable', 'stable stable stable'),
    ('PATIENT STABLE STABLE STABLE OVERNIGHT.', 'STABLE', 'STABLE STABLE STABLE'),
    ('Stable Stable Stable overnight, family visit.', 'Stable', 'Stable Stable Stable'),
])
def test_a_repeated_word_is_one_unit_spanning_every_written_occurrence(custom_text, text, word, written):
    schema, tokens = _tokens(custom_text, text)
    assert 'xxwrep' in tokens
    units = align(text, tokens, word_units(tokens), schema.tokenizer.rules)
    spans = [text[u.start:u.end] for u in units]
    assert spans.count(written) == 1 and word not in spans      # one unit, covering the three written words
    # every written character of the text belongs to exactly one unit, and no two units share a span
    assert len({(u.start, u.end) for u in units}) == len(units)
    covered = sorted(i for u in units for i in range(u.start, u.end))
    assert len(covered) == len(set(covered))
    assert all(text[i].isspace() for i in set(range(len(text))) - set(covered))


def test_a_word_split_around_repeated_letters_is_one_unit(custom_text):
    text = 'Patient sooooo stable!!!! today'
    schema, tokens = _tokens(custom_text, text)
    units = align(text, tokens, word_units(tokens), schema.tokenizer.rules)
    assert [text[u.start:u.end] for u in units] == ['Patient', 'sooooo', 'stable', '!!!!', 'today']


@pytest.mark.parametrize('text', ['Stable. STABLE STABLE STABLE now.', 'stable stable stable', 'Stable Stable Stable ok'])
def test_reliance_finds_a_repeated_flagged_word_and_masks_the_token_that_carries_it(custom_text, text):
    learn = custom_text
    schema, tokens = _tokens(learn, text)
    rel = learn.reliance([text], flagged='stable', **Q)
    found = rel['Found'][0]
    assert found and all(f['phrase'] == 'stable' for f in found)
    assert {text[f['start']:f['end']].lower() for f in found} <= {'stable', 'stable stable stable'}
    assert sum(text[f['start']:f['end']].lower().count('stable') for f in found) == text.lower().count('stable')
    # by hand: every token of every occurrence (repetition group, count and case markers included) replaced by xxunk
    from fastai_featimp.text.data import numericalize
    ids = numericalize(schema, tokens)
    keep = [t for t in tokens]
    units = [u for u in word_units(tokens) if 'stable' in u.words]
    for u in units:
        for p in u.positions: keep[p] = None
    masked = torch.tensor([schema.unk_id if t is None else int(i) for t, i in zip(keep, ids)])
    with torch.inference_mode():
        learn.model.eval()
        out = learn.model(masked[None])
        out = out[0] if isinstance(out, tuple) else out
        p = torch.softmax(out.float(), -1)[0, 1].item()
    assert rel['Without'][0] == pytest.approx(p, abs=1e-6)
    assert rel['Without'][0] != rel['Prediction'][0]


def test_phrase_importance_counts_a_repeated_word_as_present(custom_text, notes):
    df = notes[1].head(40).copy()
    df['text'] = df['text'].str.replace(r'\bstable\b', 'calm', regex=True, case=False)
    df.loc[df.index[:5], 'text'] = 'stable stable stable. ' + df['text'].iloc[:5]   # only as xxwrep 3 stable
    fi = custom_text.feature_importance(df=df, candidates=['stable'], n_bootstrap=0, **Q)
    assert int(fi.loc[fi['Variable'] == 'stable', 'Support'].iloc[0]) == 5


# --- 2. infinite or overflowing values in a continuous column ------------------------------------------------------

@pytest.mark.parametrize('bad', [np.inf, -np.inf, 1e300])
@pytest.mark.parametrize('method', ['feature_importance', 'explain', 'reliance', 'partial_dependence'])
def test_infinite_values_are_refused_by_column_and_row_count(binary_learner, binary_test, bad, method):
    learn = binary_learner
    df = binary_test.head(60).copy()
    df.loc[df.index[[3, 7]], 'weak'] = bad
    bg = binary_test.tail(20)
    call = {'feature_importance': lambda: learn.feature_importance(df=df, **Q),
            'explain': lambda: learn.explain(df.head(10), background=bg, n_permutations=4, method='permutation', **Q),
            'reliance': lambda: learn.reliance(df, flagged='weak', background=bg, **Q),
            'partial_dependence': lambda: learn.partial_dependence('signal', df, **Q)}[method]
    param = {'feature_importance': 'df', 'explain': 'rows', 'reliance': 'data', 'partial_dependence': 'df'}[method]
    with pytest.raises(ParameterError, match=r"'weak' in 2 row\(s\)") as e:
        assert_call_leaves_everything(learn, call, df)
    assert e.value.name == param
    assert 'float32' in str(e.value)


def test_infinite_background_values_are_refused_by_name(binary_learner, binary_test):
    bg = binary_test.tail(20).copy()
    bg.loc[bg.index[0], 'signal'] = np.inf
    with pytest.raises(ParameterError, match="'signal' in 1 row") as e:
        binary_learner.explain(binary_test.head(2), background=bg, **Q)
    assert e.value.name == 'background'


def test_infinite_values_through_a_test_dl_are_refused(binary_learner, binary_test):
    df = binary_test.head(60).copy()
    df.loc[df.index[:4], 'noise'] = np.inf
    dl = binary_learner.dls.test_dl(df)
    with pytest.raises(ParameterError, match=r"'noise'.*in 4 row") as e:
        binary_learner.feature_importance(test_dl=dl, **Q)
    assert e.value.name == 'test_dl'


# --- 3. the sanity check: an interval, no verdict when it cannot tell, never a pass for a constant explanation -----

def test_a_constant_explanation_never_passes(custom_text):
    # a note made only of words the model never saw: occlusion is exactly 0 whatever the weights
    texts = ['qwzx vbnm plkj hgfd trew yuio', 'zzqq xxvv bbnn mmkk jjhh']
    sc = custom_text.sanity_check(texts, method='occlusion', seed=0)
    assert sc.attrs['passed'] is False and 'constant' in sc.attrs['verdict']
    assert sc.attrs['rows_used'] == 0 and np.isnan(sc['RankCorrelation'].iloc[-1])


def test_the_verdict_comes_with_its_interval_and_says_when_it_cannot_tell(custom_text, notes):
    from fastai_featimp.methods.sanity_check import _interval
    # the interval by hand: Fisher's z of each row pooled by units - 3, the larger of two standard errors
    rhos, units = np.array([0.1, 0.3, -0.2]), np.array([20, 10, 30])
    z, w = np.arctanh(rhos), units - 3.0
    mean = (w * z).sum() / w.sum()
    se = max(np.sqrt(1.06 / w.sum()), z.std(ddof=1) / np.sqrt(3))
    assert _interval(rhos, units) == pytest.approx((np.tanh(mean), np.tanh(mean - 1.959964 * se),
                                                    np.tanh(mean + 1.959964 * se)))
    # two short notes: the interval is wide, so there is no verdict whatever the seed
    short = ['Intubated overnight. Family visit today.', 'Stable. Eating well.']
    verdicts = {custom_text.sanity_check(short, method='occlusion', seed=s).attrs['passed'] for s in range(3)}
    assert verdicts == {None}
    many = notes[1]['text'].head(12).tolist()
    sc = custom_text.sanity_check(many, method='occlusion', seed=0)
    last = sc.iloc[-1]
    assert last['Low'] <= last['RankCorrelation'] <= last['High']
    assert sc.attrs['passed'] is True and 'interval' in sc.attrs['verdict']
    assert -0.3 < last['Low'] and last['High'] < 0.3


# --- 4. duplicate text columns -------------------------------------------------------------------------------------

@pytest.mark.parametrize('method', ['explain', 'reliance', 'feature_importance'])
def test_duplicate_text_columns_are_refused_by_name(custom_text, notes, method):
    df = notes[1].head(30)[['text', 'outcome']]
    twice = pd.concat([df, df[['text']]], axis=1)
    call = {'explain': lambda: custom_text.explain(twice, method='occlusion', **Q),
            'reliance': lambda: custom_text.reliance(twice, flagged='family visit', **Q),
            'feature_importance': lambda: custom_text.feature_importance(df=twice, candidates=['family visit'], **Q)}
    with pytest.raises(ParameterError, match=r"duplicate column names 'text'"):
        assert_call_leaves_everything(custom_text, call[method], twice)


# --- 5. captum on a table without categorical columns; captum_inputs keeps the random state ------------------------

@pytest.fixture(scope='module')
def numeric_only():
    from helpers import make_binary_df, train
    df = make_binary_df(800, 3)
    return train(df, 'y', [], ['signal', 'weak', 'noise'], epochs=2), df


def test_captum_on_a_table_without_categorical_columns(numeric_only):
    captum = pytest.importorskip('captum.attr')
    learn, df = numeric_only
    rows = df.head(4)
    ci = assert_call_leaves_everything(learn, lambda: learn.captum_inputs(rows, background=df.tail(1)), rows)
    attr = captum.FeatureAblation(ci.forward_func).attribute(ci.inputs, baselines=ci.baselines,
                                                             feature_mask=ci.feature_mask, target=ci.target)
    frame = ci.to_frame(attr)
    occ = learn.explain(rows, background=df.tail(1), method='exact', **Q)   # one background row: the same question
    assert list(frame['Variable'].unique()) == ['signal', 'weak', 'noise']
    # removing one column at a time from a row to the baseline row: occlusion by hand
    x = [t for t in ci.inputs]
    with torch.no_grad():
        full = ci.forward_func(*x)[:, ci.target if isinstance(ci.target, int) else 1]
        for j, name in enumerate(['signal', 'weak', 'noise']):
            xc = x[1].clone(); xc[:, j] = ci.baselines[1][0, j]
            drop = full - ci.forward_func(x[0], xc)[:, ci.target if isinstance(ci.target, int) else 1]
            np.testing.assert_allclose(frame[frame['Variable'] == name]['Contribution'], drop.numpy(), atol=1e-6)
    assert np.isfinite(occ['Contribution']).all()


# --- 6. arguments silently ignored or wrongly named ----------------------------------------------------------------

def test_a_misspelt_label_column_is_refused(custom_text, notes):
    df = notes[1].head(20)
    with pytest.raises(ParameterError, match="label_col 'outcom' is not a column") as e:
        custom_text.reliance(df, flagged='family visit', label_col='outcom', **Q)
    assert e.value.name == 'label_col'


@pytest.mark.parametrize('flagged', [123, 4.5, None])
def test_reliance_flagged_must_be_names(custom_text, binary_learner, binary_test, flagged):
    with pytest.raises(ParameterError, match='flagged') as e:
        custom_text.reliance(['Family visit today.'], flagged=flagged, **Q)
    assert e.value.name == 'flagged'
    with pytest.raises(ParameterError, match='flagged'):
        binary_learner.reliance(binary_test.head(5), flagged=flagged, background=binary_test.tail(5), **Q)


def test_faithfulness_k_takes_numpy_numbers_and_refuses_nan(custom_text):
    expl = custom_text.explain(['Intubated overnight. Family visit today, patient calm.'], method='occlusion', **Q)
    a = custom_text.evaluate_explanation(expl, k=np.int64(2), n_random=3, seed=0, **Q)
    b = custom_text.evaluate_explanation(expl, k=2, n_random=3, seed=0, **Q)
    pd.testing.assert_frame_equal(a, b, check_like=True)
    for bad in (float('nan'), float('inf'), np.float64('nan')):
        with pytest.raises(ParameterError, match='`?k`? must be unit counts'):
            custom_text.evaluate_explanation(expl, k=bad, **Q)


def test_one_method_named_is_one_method(custom_text):
    texts = ['Intubated overnight. Family visit today, patient calm.']
    table = custom_text.compare_explanations(texts, methods='occlusion', n_random=3, seed=0)
    assert list(table['Method']) == ['occlusion']


@pytest.mark.parametrize('call', ['sanity_check', 'compare_explanations'])
@pytest.mark.parametrize('empty', [[], pd.Series([], dtype=object)])
def test_empty_data_is_named_data(custom_text, call, empty):
    with pytest.raises(ParameterError, match='data is empty') as e:
        getattr(custom_text, call)(empty)
    assert e.value.name == 'data'


@pytest.mark.parametrize('threshold', [np.inf, -np.inf, np.nan])
def test_infinite_thresholds_are_refused(custom_text, binary_learner, binary_test, threshold):
    with pytest.raises(ParameterError, match='threshold'):
        custom_text.reliance(['Family visit today.'], flagged='family visit', threshold=threshold, **Q)
    with pytest.raises(ParameterError, match='threshold'):
        binary_learner.reliance(binary_test.head(5), flagged='signal', background=binary_test.tail(5), threshold=threshold,
                                output='raw', **Q)


# --- 7. defaults that mislead --------------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def regression():
    from helpers import multi_df, train
    from fastai.tabular.all import RegressionBlock
    df = multi_df(1500, 0)
    learn = train(df, 'reg', ['k'], ['a', 'b', 'noise'], y_block=RegressionBlock(), epochs=3)
    return learn, multi_df(400, 1)


def test_a_regressions_default_threshold_is_a_share_of_the_targets_spread(regression):
    learn, df = regression
    rel = learn.reliance(df, flagged='noise', background=df.tail(50), **Q)
    sd = np.asarray(learn.dls.train_ds.ys, dtype=float).std(ddof=1)   # the training labels: one scale for every call
    assert rel.attrs['threshold'] == pytest.approx(0.1 * sd)
    assert 'standard deviation of the training labels' in rel.attrs['summary']['threshold_rule']
    assert rel['Relies'].to_numpy().tolist() == (rel['Change'].abs() >= 0.1 * sd).tolist()
    # an ignored column: almost no row relies on it (a fixed 0.1 in the target's units would count many)
    assert rel['Relies'].mean() < 0.1
    unlabelled = learn.reliance(df.drop(columns=['reg']), flagged='noise', background=df.tail(50), **Q)
    assert unlabelled.attrs['threshold'] == rel.attrs['threshold']
    given = learn.reliance(df, flagged='noise', background=df.tail(50), threshold=0.5, **Q)
    assert given.attrs['threshold'] == 0.5 and given.attrs['summary']['threshold_rule'] == 'given'


def test_the_tabular_summary_reports_rows_that_change(binary_learner, binary_test):
    rel = binary_learner.reliance(binary_test.head(30), flagged='noise_cat', background=binary_test.tail(20), **Q)
    s = rel.attrs['summary']
    assert 'n_with_flagged' not in s and s['n_changed'] == int((rel['Change'] != 0).sum())


@pytest.mark.parametrize('text, found', [('Seen ZEBRA-LIKE stripes', ['stable']), ('STABLE/CALM now', ['stable']),
                                         ('unstable overnight', []), ('stableness noted', [])])
def test_what_a_flagged_phrase_matches(custom_text, text, found):
    # a phrase matches a whole word as the learner's tokenizer splits it: hyphens and slashes separate words,
    # a longer word holding the phrase does not match
    text = text.replace('ZEBRA', 'STABLE')
    rel = custom_text.reliance([text], flagged='stable', **Q)
    assert [f['phrase'] for f in rel['Found'][0]] == found


# --- 8. an explanation evaluated against its own value function ----------------------------------------------------

def test_a_tabular_explanation_keeps_what_it_was_made_from(binary_learner, binary_test):
    learn, df = binary_learner, binary_test
    bg = df.tail(30)
    expl = learn.explain(df.head(3), background=bg, seed=0, **Q)
    kept = learn.evaluate_explanation(expl, n_random=3, seed=0, **Q)
    again = learn.evaluate_explanation(expl, df.head(3), background=bg, n_random=3, seed=0, **Q)
    pd.testing.assert_frame_equal(kept, again)
    with pytest.raises(ParameterError, match='not the background this explanation was made with') as e:
        learn.evaluate_explanation(expl, background=df.tail(60).head(30), **Q)
    assert e.value.name == 'background'
    with pytest.raises(ParameterError, match='not the rows this explanation was made from'):
        learn.evaluate_explanation(expl, df.iloc[5:8], **Q)
    sampled = learn.explain(df.head(2), n_background=20, seed=0, **Q)
    learn.evaluate_explanation(sampled, n_random=3, **Q)   # the sampled training rows, found again


def test_a_base_value_from_another_value_function_is_refused(custom_text):
    expl = custom_text.explain(['Intubated overnight. Family visit today.'], method='occlusion', mask='unk', **Q)
    expl.attrs['base_values'] = [expl.attrs['base_values'][0] + 0.05]
    with pytest.raises(ParameterError, match='base value'):
        custom_text.evaluate_explanation(expl, **Q)


def test_nan_contributions_are_refused(custom_text):
    expl = custom_text.explain(['Intubated overnight. Family visit today.'], method='occlusion', **Q)
    expl.loc[1, 'Contribution'] = np.nan
    with pytest.raises(ParameterError, match='NaN contribution'):
        custom_text.evaluate_explanation(expl, **Q)


def test_to_shap_says_what_is_wrong(custom_text, notes):
    pytest.importorskip('shap')
    expl = custom_text.explain(['Intubated overnight. Family visit today.', 'Stable, eating.'], method='occlusion',
                               target=None, **Q)
    with pytest.raises(ValueError, match='no rows'):
        fastai_featimp.to_shap(expl[expl['row'] > 5])
    mixed = expl.copy()
    mixed.attrs['targets'] = ['died', 'survived']
    with pytest.raises(ValueError, match="different classes .*'died', 'survived'"):
        fastai_featimp.to_shap(mixed)


# --- 9. every faithfulness metric pinned to a hand computation over the whole curve ---------------------------------

def test_faithfulness_metrics_by_hand_on_a_known_model():
    from fastai_featimp.core.faithfulness import faithfulness_of_row
    w = np.array([0.5, -0.2, 0.3, 0.1, 0.05])          # an additive model: v(S) = 1 + sum of w over S
    value = lambda masks: 1.0 + masks.double().numpy() @ w
    contrib = np.array([0.4, -0.1, 0.35, 0.02, 0.03])   # an explanation whose order is 0, 2, 4, 3, 1
    order = np.array([0, 2, 4, 3, 1])
    scores, curves = faithfulness_of_row(value, contrib, [1, 2], n_random=4, rng=np.random.default_rng(5))
    full, m = 1.0 + w.sum(), len(w)

    def deletion(o): return np.array([full - w[o[:j]].sum() for j in range(m + 1)])
    def insertion(o): return np.array([1.0 + w[o[:j]].sum() for j in range(m + 1)])
    def metrics(o):
        d, i = deletion(o), insertion(o)
        return {'deletion_aopc': np.mean(full - d), 'insertion_aopc': np.mean(i - 1.0),     # every step, 0 to m
                'comprehensiveness@1': d[0] - d[1], 'comprehensiveness@2': d[0] - d[2],
                'sufficiency@1': i[1] - i[-1], 'sufficiency@2': i[2] - i[-1]}
    rng = np.random.default_rng(5)
    randoms = [metrics(rng.permutation(m)) for _ in range(4)]
    mine, reverse = metrics(order), metrics(order[::-1])
    assert set(scores) == set(mine)
    for name, (e, rmean, rstd, rv) in scores.items():
        assert e == pytest.approx(mine[name], abs=1e-12), name
        assert rv == pytest.approx(reverse[name], abs=1e-12), name
        r = np.array([x[name] for x in randoms])
        assert rmean == pytest.approx(r.mean(), abs=1e-12) and rstd == pytest.approx(r.std(ddof=1), abs=1e-12), name
    np.testing.assert_allclose(curves['deletion'], deletion(order))
    # the hand figure, written out: deletion removes 0.5, 0.3, 0.05, 0.1, -0.2 in turn
    assert scores['deletion_aopc'][0] == pytest.approx(np.mean([0, 0.5, 0.8, 0.85, 0.95, 0.75]))


def test_compare_with_a_background_larger_than_its_sample(binary_learner, binary_test):
    # explain samples n_background of the background given; the evaluation must score against the same rows
    table = binary_learner.compare_explanations(binary_test.head(2), n_random=3, seed=0, background=binary_test.tail(60),
                                                n_background=20)
    assert (table['Status'] == 'ok').all()


def test_rows_with_missing_values_are_found_again(binary_learner, binary_test):
    rows = binary_test.head(3).copy()
    rows.loc[rows.index[1], 'level'] = np.nan   # a missing category: NaN never equals itself
    expl = binary_learner.explain(rows, n_background=20, seed=0, **Q)
    binary_learner.evaluate_explanation(expl, n_random=2, **Q)
    binary_learner.evaluate_explanation(expl, rows, n_random=2, **Q)


# --- from the review: budgets that cannot determine the values, early stops, short rows, thresholds, glued words ---

def _game():
    "The synthetic game of tests/core/test_shapley_budget.py, loaded from its file (whichever tests run first)."
    import importlib.util, pathlib
    path = pathlib.Path(__file__).parents[1] / 'core' / 'test_shapley_budget.py'
    spec = importlib.util.spec_from_file_location('shapley_budget_games', path)
    module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
    return module.Game


def test_a_budget_too_small_to_determine_the_values_is_refused(regression):
    from fastai_featimp.core.shapley_regression import budget_shapley
    Game = _game()
    with pytest.raises(ParameterError, match='cannot determine the Shapley values of 6 units') as e:
        budget_shapley(Game(6), 6, 1, np.random.default_rng(0))
    assert e.value.name == 'max_evals'
    learn, df = regression
    with pytest.raises(ParameterError, match='max_evals'):
        learn.explain(df.head(1), background=df.tail(1), method='shapley', max_evals=1, **Q)


def test_tolerance_never_stops_on_a_stratum_of_one_pair():
    from fastai_featimp.core.shapley import all_coalitions, shapley_from_values
    from fastai_featimp.core.shapley_regression import budget_shapley
    Game = _game()
    m = 12
    truth = shapley_from_values(Game(m)(all_coalitions(m)), m)
    for seed in range(20):
        phi, se, base, full, n = budget_shapley(Game(m), m, 40, np.random.default_rng(seed), tolerance=0.2)
        if n < 40: assert np.abs(phi - truth).max() < 4 * 0.2, (seed, n)   # an early stop is a trustworthy one


def test_the_sanity_check_gives_no_verdict_for_rows_too_short(binary_learner, binary_test):
    groups = {'categories': ['level', 'noise_cat', 'row_id'], 'numbers': ['weak', 'noise']}   # 3 players
    sc = binary_learner.sanity_check(binary_test.head(3), groups=groups, n_background=20, seed=0)
    assert sc.attrs['passed'] is None and 'fewer than 4 units' in sc.attrs['verdict']


def test_default_thresholds_do_not_depend_on_the_rows_passed(regression, binary_learner, binary_test):
    learn, df = regression
    one = learn.reliance(df.head(1), flagged='noise', background=df.tail(20), **Q)
    many = learn.reliance(df.head(50), flagged='noise', background=df.tail(20), **Q)
    train_sd = np.asarray(learn.dls.train_ds.ys, dtype=float).std(ddof=1)
    assert one.attrs['threshold'] == many.attrs['threshold'] == pytest.approx(0.1 * train_sd)
    assert 'training labels' in one.attrs['summary']['threshold_rule']
    expl = learn.explain(df.head(1), background=df.tail(1), flagged='noise', **Q)
    assert expl.attrs['threshold'] == pytest.approx(0.1 * train_sd)
    raw = binary_learner.reliance(binary_test.head(1), flagged='signal', background=binary_test.tail(5), output='raw', **Q)
    assert raw.attrs['threshold'] == 0.4 and 'logit' in raw.attrs['summary']['threshold_rule']


def test_the_budgeted_method_is_the_same_on_workers(binary_learner, binary_test):
    rows, bg = binary_test.head(4), binary_test.tail(10)
    one = binary_learner.explain(rows, background=bg, method='shapley', max_evals=30, seed=3, **Q)
    two = binary_learner.explain(rows, background=bg, method='shapley', max_evals=30, seed=3, n_jobs=2, **Q)
    again = binary_learner.explain(rows, background=bg, method='shapley', max_evals=30, seed=3, n_jobs=2, **Q)
    pd.testing.assert_frame_equal(one, two)
    pd.testing.assert_frame_equal(two, again)


def test_a_flagged_phrase_never_matches_a_piece_of_a_written_word(custom_text):
    from fastai_featimp.text.reliance import flagged_occurrences
    text = 'Patient sooooo stable today'
    schema, tokens = _tokens(custom_text, text)
    at = tokens.index('xxrep')
    assert tokens[at - 1:at + 3] == ['s', 'xxrep', '5', 'o']   # fastai splits the written word around its repeated letters
    found = lambda *phrase: flagged_occurrences([tokens], [text], [phrase], schema.tokenizer.rules)[0]
    assert found('s') == [] and found('ooooo') == []
    assert [text[o.start:o.end] for o in found('s', 'ooooo')] == ['sooooo']
    assert [text[o.start:o.end] for o in found('stable')] == ['stable']
