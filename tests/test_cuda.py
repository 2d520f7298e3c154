"""The CUDA path: every method gives on a GPU what it gives on the CPU, and the training callback leaves a GPU
training as it was (skipped where no GPU is present)."""
import warnings

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason='no CUDA device')

import fastai_featimp  # noqa: E402
from helpers import BigramCNN, make_binary_df, train  # noqa: E402

Q = dict(show_progress=False)


def on_gpu(learn, fn):
    "`fn()` with the model on the GPU, then the model back on the CPU."
    learn.model.cuda()
    try:
        out = fn()
        assert next(learn.model.parameters()).is_cuda   # left where it was
        return out
    finally:
        learn.model.cpu()


def test_permutation_importance(binary_learner, binary_test):
    kw = dict(df=binary_test, n_repeats=3, seed=0, metric=['loss', 'accuracy', 'roc_auc'], **Q)
    cpu = binary_learner.feature_importance(**kw)
    gpu = on_gpu(binary_learner, lambda: binary_learner.feature_importance(**kw))
    for name in cpu:
        assert gpu[name].attrs['baseline'] == pytest.approx(cpu[name].attrs['baseline'], abs=1e-5)
        for v in cpu[name]['Variable']:
            np.testing.assert_allclose(gpu[name].attrs['importances'][v], cpu[name].attrs['importances'][v], atol=1e-4)


def test_explanations_dependence_and_interactions(binary_learner, binary_test):
    learn, rows, bg = binary_learner, binary_test.iloc[:3], binary_test.iloc[100:140]
    calls = {
        'explain': lambda: learn.explain(rows, background=bg, **Q)['Contribution'].to_numpy(),
        'interactions': lambda: learn.explain_interactions(rows.iloc[:1], background=bg, **Q)['Interaction'].to_numpy(),
        'pd': lambda: learn.partial_dependence('signal', binary_test, n_bootstrap=20, seed=0, **Q).average,
        'ale': lambda: learn.accumulated_local_effects('level', binary_test).average,
        'h': lambda: learn.interaction_strength(binary_test, features=['signal', 'weak', 'level'], n_rows=100, seed=0,
                                                **Q)['H'].to_numpy(),
    }
    for name, fn in calls.items():
        np.testing.assert_allclose(on_gpu(learn, fn), fn(), atol=1e-4, err_msg=name)


@pytest.fixture(scope='module')
def text_learners():
    "A custom CNN and a small AWD_LSTM over fastai's BaseTokenizer (no spaCy needed), one epoch each."
    from fastai.text.all import (AWD_LSTM, BaseTokenizer, Learner, TextDataLoaders, awd_lstm_clas_config, set_seed,
                                 text_classifier_learner)
    from fastai_featimp.datasets import clinical_notes
    set_seed(0, reproducible=True)
    dls = TextDataLoaders.from_df(clinical_notes(800, seed=0), text_col='text', label_col='outcome', valid_pct=0.2,
                                  seed=0, tok_tfm=BaseTokenizer(), bs=64)
    cnn = Learner(dls, BigramCNN(len(dls.vocab[0])))
    awd = text_classifier_learner(dls, AWD_LSTM, config={**awd_lstm_clas_config, 'emb_sz': 100, 'n_hid': 256,
                                                         'n_layers': 2}, pretrained=False)
    for learn in (cnn, awd):
        with learn.no_bar(), learn.no_logging(), warnings.catch_warnings():
            warnings.simplefilter('ignore')
            learn.fit_one_cycle(1, 1e-2)
    return cnn, awd, clinical_notes(60, seed=1)


@pytest.mark.parametrize('model', [0, 1], ids=['custom CNN', 'AWD_LSTM'])
@pytest.mark.parametrize('method', ['shapley', 'occlusion', 'integrated_gradients'])
def test_text_explanations(text_learners, model, method):
    learn, notes = text_learners[model], text_learners[2]
    texts = notes['text'].head(3).tolist()   # lengths from about 30 to over 100 tokens: one and several chunks
    run = lambda: learn.explain(texts, method=method, n_permutations=4, seed=0, **Q)
    cpu, gpu = run(), on_gpu(learn, run)
    np.testing.assert_allclose(gpu['Contribution'], cpu['Contribution'], atol=2e-4)
    np.testing.assert_allclose(gpu.attrs['outputs'], cpu.attrs['outputs'], atol=1e-5)


def test_text_phrase_importance(text_learners):
    learn, notes = text_learners[1], text_learners[2]
    run = lambda: learn.feature_importance(df=notes, min_support=10, n_bootstrap=20, seed=0, **Q)
    cpu, gpu = run().set_index('Variable'), on_gpu(learn, run).set_index('Variable')
    assert set(cpu.index) == set(gpu.index)   # near-tied phrases may sort differently: compare phrase by phrase
    np.testing.assert_allclose(gpu.loc[cpu.index, 'Importance'], cpu['Importance'], atol=1e-4)
    np.testing.assert_allclose(gpu.loc[cpu.index, 'MeanDelta'], cpu['MeanDelta'], atol=1e-4)


def test_the_callback_on_a_gpu_with_mixed_precision():
    "On the GPU with to_fp16: the callback runs, and training is the same as without it (when the GPU repeats itself)."
    df = make_binary_df(1500, 0)
    def fit(cb):
        learn = train(df, 'y', ['level', 'noise_cat'], ['signal', 'noise'], epochs=1)   # the same start for each run
        learn.model.cuda(); learn.dls.cuda(); learn.to_fp16()
        with learn.no_bar(), learn.no_logging(), warnings.catch_warnings():
            warnings.simplefilter('ignore')
            from fastai.torch_core import set_seed
            set_seed(1, reproducible=True)
            learn.fit_one_cycle(2, 1e-2, cbs=[cb] if cb else None)
        return {k: v.detach().cpu().clone() for k, v in learn.model.state_dict().items()}
    plain, again = fit(None), fit(None)
    cb = fastai_featimp.ImportanceCallback(n_repeats=2)
    watched = fit(cb)
    assert len(cb.history) and cb.history['Importance'].notna().all()
    repeatable = all(torch.equal(plain[k], again[k]) for k in plain)
    if repeatable:
        for k in plain: assert torch.equal(plain[k], watched[k]), k
    else:   # GPU atomics (embedding gradients) can differ run to run: then only as close as two plain runs
        worst = max(float((plain[k].float() - again[k].float()).abs().max()) for k in plain)
        assert max(float((plain[k].float() - watched[k].float()).abs().max()) for k in plain) <= 10 * worst + 1e-6
