"Small synthetic tables with known answers, and fastai learners trained on them in a few seconds."
import warnings

import matplotlib
matplotlib.use('Agg')   # tests draw to files; notebooks run in their own kernels with the inline backend

import numpy as np
import pandas as pd
import pytest
import torch
from fastai.tabular.all import (Categorify, FillMissing, Normalize, TabularDataLoaders,
                                set_seed, tabular_learner)

import fastai_featimp  # noqa: F401  (patches the Learner)

warnings.filterwarnings('ignore', category=FutureWarning)
warnings.filterwarnings('ignore', message='.*not writable.*')
torch.set_num_threads(2)


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


def train(df, y_names, cat_names, cont_names, epochs=4, seed=0, bs=128, procs=None, y_block=None, **kwargs):
    set_seed(seed, reproducible=True)
    dls = TabularDataLoaders.from_df(df, y_names=y_names, cat_names=cat_names, cont_names=cont_names,
                                     procs=procs or [Categorify, FillMissing, Normalize], bs=bs,
                                     valid_idx=list(range(len(df) - len(df) // 5, len(df))), y_block=y_block)
    learn = tabular_learner(dls, layers=[64, 32], **kwargs)
    with learn.no_bar(), warnings.catch_warnings():
        warnings.simplefilter('ignore')
        learn.fit_one_cycle(epochs, 1e-2)
    return learn


@pytest.fixture(scope='session')
def binary():
    "A trained binary learner and a held-out labelled test frame."
    learn = train(make_binary_df(3000, 0), 'y', BIN_CAT, BIN_CONT)
    return learn, make_binary_df(4000, 1)


@pytest.fixture(scope='session')
def binary_learner(binary): return binary[0]


@pytest.fixture(scope='session')
def binary_test(binary): return binary[1]


@pytest.fixture
def quiet():
    "Silence fastai's and our own warnings in tests that are not about them."
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        yield
