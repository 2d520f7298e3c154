"""Shared by the tests: synthetic tables with known answers, a quick fastai trainer, an sklearn view of a
learner's processed inputs, and snapshots of everything a call must leave unchanged."""
import copy
import random
import warnings

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, ClassifierMixin


def make_binary_df(n, seed, n_ids=300):
    """Binary target from `signal` (strong), `weak` and `level` (a 3-level categorical); `noise` and
    `noise_cat` are unrelated; `row_id` is a random ID categorical with hundreds of levels."""
    rng = np.random.default_rng(seed)
    signal, weak, noise = rng.normal(size=(3, n))
    level = rng.choice(['a', 'b', 'c'], n)
    shift = pd.Series(level).map({'a': -1.0, 'b': 0.0, 'c': 1.0}).to_numpy()
    logit = 3 * signal + 1.0 * weak + 1.5 * shift + 0.3 * rng.normal(size=n)
    return pd.DataFrame({
        'signal': signal, 'weak': weak, 'noise': noise, 'level': level,
        'noise_cat': rng.choice(['u', 'v', 'w', 'x'], n),
        'row_id': [f'id{i}' for i in rng.integers(0, n_ids, n)],
        'y': np.where(logit > 0, 'yes', 'no'),
    })


BIN_CAT, BIN_CONT = ['level', 'noise_cat', 'row_id'], ['signal', 'weak', 'noise']


def multi_df(n, seed):
    "Multi-class (`cls`), regression (`reg`, `reg2`) and multi-label (`lab_a`, `lab_b`) targets from `a` and `b`."
    rng = np.random.default_rng(seed)
    a, b, noise = rng.normal(size=(3, n))
    k = rng.choice(['p', 'q', 'r'], n)
    return pd.DataFrame({'a': a, 'b': b, 'noise': noise, 'k': k,
                         'cls': np.select([a > 0.5, a < -0.5], ['hi', 'lo'], 'mid'),
                         'reg': 2 * a + 0.5 * b + 0.1 * rng.normal(size=n), 'reg2': -3 * b + 0.1 * rng.normal(size=n),
                         'lab_a': (a > 0).astype(float), 'lab_b': (b > 0).astype(float)})


def train(df, y_names, cat_names, cont_names, epochs=4, seed=0, bs=128, procs=None, y_block=None, lr=1e-2, fit_cbs=None,
          **kwargs):
    "A small tabular learner trained on `df` (its last fifth as validation set), seeded; `fit_cbs` join the fit."
    from fastai.tabular.all import Categorify, FillMissing, Normalize, TabularDataLoaders, set_seed, tabular_learner
    set_seed(seed, reproducible=True)
    dls = TabularDataLoaders.from_df(df, y_names=y_names, cat_names=cat_names, cont_names=cont_names,
                                     procs=procs or [Categorify, FillMissing, Normalize], bs=bs,
                                     valid_idx=list(range(len(df) - len(df) // 5, len(df))), y_block=y_block)
    learn = tabular_learner(dls, layers=[64, 32], **kwargs)
    with learn.no_bar(), warnings.catch_warnings():
        warnings.simplefilter('ignore')
        learn.fit_one_cycle(epochs, lr, cbs=fit_cbs)
    return learn


TEXT_CONFIG = dict(emb_sz=100, n_hid=256, n_layers=2)   # the small AWD_LSTM tests train from scratch


def text_dls(df, seed=0, bs=64):
    "fastai's TextDataLoaders over a notes frame (`text`, `outcome`), a seeded 20% validation split."
    from fastai.text.all import TextDataLoaders
    return TextDataLoaders.from_df(df, text_col='text', label_col='outcome', valid_pct=0.2, seed=seed, bs=bs)


def train_awd_lstm(df, epochs=3, seed=0, lr=1e-2):
    "A small AWD_LSTM classifier trained from scratch (no pretrained weights: nothing to download)."
    from fastai.text.all import AWD_LSTM, accuracy, awd_lstm_clas_config, set_seed, text_classifier_learner
    set_seed(seed, reproducible=True)
    config = {**awd_lstm_clas_config, **TEXT_CONFIG}
    learn = text_classifier_learner(text_dls(df, seed), AWD_LSTM, config=config, pretrained=False, drop_mult=0.5,
                                    metrics=accuracy)
    with learn.no_bar(), learn.no_logging(), warnings.catch_warnings():
        warnings.simplefilter('ignore')
        learn.fit_one_cycle(epochs, lr)
    return learn


class BigramCNN(torch.nn.Module):
    "A tiny custom text model: embeddings, a width-2 convolution (it can learn two-word phrases), max over time."
    def __init__(self, vocab_size, n_out=2, emb=32, channels=64, pad_idx=1):
        super().__init__()
        self.emb = torch.nn.Embedding(vocab_size, emb, padding_idx=pad_idx)
        self.conv = torch.nn.Conv1d(emb, channels, kernel_size=2)
        self.head = torch.nn.Linear(channels, n_out)
    def forward(self, x):
        h = torch.relu(self.conv(self.emb(x).transpose(1, 2)))
        return self.head(h.max(dim=2).values)


def train_custom_text(df, epochs=6, seed=0, lr=1e-2, fit_cbs=None):
    "A plain `Learner(dls, model)` with the custom BigramCNN over the same text pipeline."
    from fastai.text.all import Learner, accuracy, set_seed
    set_seed(seed, reproducible=True)
    dls = text_dls(df, seed)
    learn = Learner(dls, BigramCNN(len(dls.vocab[0])), metrics=accuracy)
    with learn.no_bar(), learn.no_logging(), warnings.catch_warnings():
        warnings.simplefilter('ignore')
        learn.fit_one_cycle(epochs, lr, cbs=fit_cbs)
    return learn


class ProcessedMatrixClassifier(ClassifierMixin, BaseEstimator):
    "A thin sklearn estimator over a tabular learner's processed `[codes | normalised values]` matrix."
    def __init__(self, model=None, n_cat=0): self.model, self.n_cat = model, n_cat
    def fit(self, X, y=None): self.classes_ = np.unique(y) if y is not None else np.array([0, 1]); return self
    def predict_proba(self, X):
        X = torch.as_tensor(np.asarray(X), dtype=torch.float32)
        with torch.inference_mode():
            return torch.softmax(self.model(X[:, :self.n_cat].long(), X[:, self.n_cat:]).double(), -1).numpy()


def processed_matrix(learn, df) -> np.ndarray:
    "The learner's processed `[codes | normalised values]` matrix of `df`, through fastai's own test_dl."
    to = learn.dls.test_dl(df).dataset
    return np.hstack([to.cats.to_numpy(float), to.conts.to_numpy(float)])


def learner_snapshot(learn):
    return dict(
        weights={k: v.detach().clone() for k, v in learn.model.state_dict().items()},
        modes=[m.training for m in learn.model.modules()],
        dls=learn.dls, loaders=list(learn.dls.loaders), dls_bs=[dl.bs for dl in learn.dls.loaders],
        dls_n=[dl.n for dl in learn.dls.loaders], dls_device=learn.dls.device,
        cat_names=list(getattr(learn.dls, 'cat_names', [])), cont_names=list(getattr(learn.dls, 'cont_names', [])),
        cbs=list(learn.cbs), metrics=list(learn.metrics), loss_func=learn.loss_func,
        recorder_values=copy.deepcopy(getattr(learn.recorder, 'values', None)), opt=getattr(learn, 'opt', None),
    )


def assert_learner_unchanged(learn, snap):
    now = learner_snapshot(learn)
    for k, v in snap['weights'].items(): assert torch.equal(v, now['weights'][k]), k
    for key in ['modes', 'dls_bs', 'dls_n', 'cat_names', 'cont_names', 'recorder_values']:
        assert now[key] == snap[key], key
    for key in ['dls', 'dls_device', 'loss_func', 'opt']: assert now[key] is snap[key], key
    for key in ['loaders', 'cbs', 'metrics']:
        assert len(now[key]) == len(snap[key]) and all(a is b for a, b in zip(now[key], snap[key])), key


def global_rng_state():
    return random.getstate(), np.random.get_state()[1].copy(), torch.get_rng_state().clone()


def assert_same_rng(a, b):
    assert a[0] == b[0] and np.array_equal(a[1], b[1]) and torch.equal(a[2], b[2])


def process_state():
    "Everything process-wide a method could leave changed: random states, cuDNN flags, threads, warning filters."
    import warnings as w
    return dict(rng=global_rng_state(), cudnn=(torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic),
                threads=torch.get_num_threads(), filters=list(w.filters))


def assert_same_process_state(a, b):
    assert_same_rng(a['rng'], b['rng'])
    assert a['cudnn'] == b['cudnn'] and a['threads'] == b['threads']
    assert a['filters'] == b['filters']


def frames_in(args) -> dict:
    "Deep copies of the DataFrames among `args` (a call must leave the caller's frames exactly as they were)."
    return {id(v): (v, v.copy(deep=True)) for v in args if isinstance(v, pd.DataFrame)}


def assert_call_leaves_everything(learn, call, *data, raises=None, match=None):
    """Run `call()` on an unusual process state and check that it leaves everything as it was: the model (weights,
    every module's mode), the DataLoaders, callbacks, metrics, loss, recorder, the caller's DataFrames in `data`,
    and the process (Python's, NumPy's and torch's random states, cuDNN flags, thread count, warning filters).
    With `raises`, the call must fail with that error (matching `match`), and leave everything the same."""
    import pytest
    cudnn = torch.backends.cudnn
    saved = (cudnn.benchmark, cudnn.deterministic, torch.get_num_threads())
    cudnn.benchmark, cudnn.deterministic = True, False   # what fastai's set_seed(reproducible=True) would overwrite
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings('ignore', message='a filter of the caller')
            snap, before, frames = learner_snapshot(learn), process_state(), frames_in(data)
            if raises is None: result = call()
            else:
                with pytest.raises(raises, match=match): call()
                result = None
            assert_same_process_state(before, process_state())
            assert_learner_unchanged(learn, snap)
            for frame, copy_ in frames.values(): pd.testing.assert_frame_equal(frame, copy_)
        return result
    finally:
        cudnn.benchmark, cudnn.deterministic = saved[:2]
        torch.set_num_threads(saved[2])


class SmallCNN(torch.nn.Sequential):
    "A small CNN for 32-48 pixel images: three convolution blocks, global pooling, a linear head."
    def __init__(self, n_out=2, channels=3):
        block = lambda i, o: [torch.nn.Conv2d(i, o, 3, padding=1), torch.nn.BatchNorm2d(o), torch.nn.ReLU()]
        super().__init__(*block(channels, 16), torch.nn.MaxPool2d(2), *block(16, 32), torch.nn.MaxPool2d(2),
                         *block(32, 64), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(64, n_out))


def train_marked_cnn(folder, n=800, size=32, epochs=5, seed=0, lr=1e-2):
    """A plain Learner with SmallCNN trained on `marked_images` written to `folder` (ImageDataLoaders.from_df with
    Resize and ImageNet's Normalize); returns `(learn, train frame)`."""
    from fastai.vision.all import ImageDataLoaders, Learner, Normalize, Resize, accuracy, imagenet_stats, set_seed
    from fastai_featimp.datasets import marked_images
    df = marked_images(n, seed, size, path=folder)
    set_seed(seed, reproducible=True)
    dls = ImageDataLoaders.from_df(df.drop(columns=['image']), path=folder, fn_col='path', label_col='label',
                                   valid_pct=0.2, seed=seed, item_tfms=Resize(size),
                                   batch_tfms=Normalize.from_stats(*imagenet_stats), bs=64, num_workers=0)
    learn = Learner(dls, SmallCNN(), metrics=accuracy)
    with learn.no_bar(), learn.no_logging(), warnings.catch_warnings():
        warnings.simplefilter('ignore')
        learn.fit_one_cycle(epochs, lr)
    return learn, df
