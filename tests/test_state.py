"""Every public method, on its success path and on an error path, leaves everything as it was: the learner (weights,
modes, DataLoaders, callbacks, recorder), the caller's DataFrames and the process (random states, cuDNN flags,
threads, warning filters). One shared helper (`helpers.assert_call_leaves_everything`) checks them all."""
import pytest

import fastai_featimp
from helpers import assert_call_leaves_everything

Q = dict(show_progress=False)

TABULAR = {
    'feature_importance': (lambda l, d: l.feature_importance(df=d, n_repeats=1, **Q),
                           lambda l, d: l.feature_importance(df=d.drop(columns='signal'), **Q), 'lacks feature column'),
    'feature_importance conditional': (lambda l, d: l.feature_importance(df=d, n_repeats=1, strategy='conditional', **Q),
                                       lambda l, d: l.feature_importance(df=d, n_repeats=0, **Q), 'n_repeats must be'),
    'explain': (lambda l, d: l.explain(d.iloc[:2], n_background=10, **Q),
                lambda l, d: l.explain(d.iloc[:2], n_permutations=0, method='permutation', **Q), 'n_permutations must be'),
    'explain_interactions': (lambda l, d: l.explain_interactions(d.iloc[:1], n_background=5, **Q),
                             lambda l, d: l.explain_interactions(d.iloc[:1], target='maybe', **Q), "unknown target 'maybe'"),
    'partial_dependence': (lambda l, d: l.partial_dependence('signal', d, grid_resolution=4, **Q),
                           lambda l, d: l.partial_dependence('nope', d, **Q), "unknown column 'nope'"),
    'accumulated_local_effects': (lambda l, d: l.accumulated_local_effects('signal', d),
                                  lambda l, d: l.accumulated_local_effects('signal', d, bins=1), 'bins must be'),
    'feature_dependence': (lambda l, d: l.feature_dependence(d),
                           lambda l, d: l.feature_dependence(d.iloc[:1]), 'at least 2 rows'),
    'interaction_strength': (lambda l, d: l.interaction_strength(d, features=['signal', 'weak'], n_rows=40, **Q),
                             lambda l, d: l.interaction_strength(d, pairs=[('signal', 'signal')], **Q), 'one column twice'),
}

TEXT = {
    'feature_importance': (lambda l, d: l.feature_importance(df=d, min_support=10, n_bootstrap=5, **Q),
                           lambda l, d: l.feature_importance(df=d, candidates=[3], **Q), 'must hold phrases as strings'),
    'explain': (lambda l, d: l.explain(d['text'].iloc[:2].tolist(), n_permutations=2, **Q),
                lambda l, d: l.explain(d['text'].iloc[:2].tolist(), bs=0, **Q), 'bs must be an integer >= 1'),
    'explain integrated_gradients': (lambda l, d: l.explain(d['text'].iloc[0], method='integrated_gradients', n_steps=8, **Q),
                                     lambda l, d: l.explain(d['text'].iloc[0], text_col='nope', **Q), 'text_col'),
}


@pytest.mark.parametrize('name', list(TABULAR))
@pytest.mark.parametrize('path', ['success', 'error'])
def test_a_tabular_method_leaves_everything_as_it_was(binary_learner, binary_test, name, path):
    ok, bad, match = TABULAR[name]
    data = binary_test.iloc[:400]
    if path == 'success': assert_call_leaves_everything(binary_learner, lambda: ok(binary_learner, data), data)
    else: assert_call_leaves_everything(binary_learner, lambda: bad(binary_learner, data), data, raises=(ValueError, TypeError),
                                        match=match)


@pytest.mark.parametrize('name', list(TEXT))
@pytest.mark.parametrize('path', ['success', 'error'])
def test_a_text_method_leaves_everything_as_it_was(custom_text, notes, name, path):
    ok, bad, match = TEXT[name]
    data = notes[1].head(40)
    if path == 'success': assert_call_leaves_everything(custom_text, lambda: ok(custom_text, data), data)
    else: assert_call_leaves_everything(custom_text, lambda: bad(custom_text, data), data, raises=(ValueError, TypeError),
                                        match=match)


def test_an_interrupt_in_the_middle_leaves_everything_as_it_was(custom_text, notes):
    "Ctrl-C while one long text is being explained: the model's own forward raises KeyboardInterrupt after some passes."
    learn, calls = custom_text, []
    forward = learn.model.forward
    def interrupted(x):
        calls.append(1)
        if len(calls) == 3: raise KeyboardInterrupt
        return forward(x)
    long_note = ' '.join(notes[1]['text'].iloc[:6])
    learn.model.forward = interrupted
    try:
        assert_call_leaves_everything(learn, lambda: learn.explain(long_note, n_permutations=8, bs=4, **Q),
                                      raises=KeyboardInterrupt)
    finally:
        del learn.model.forward
    assert len(calls) == 3
