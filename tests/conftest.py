"Fixtures: small synthetic tables with known answers, and fastai learners trained on them in a few seconds."
import os
import sys
import warnings
from pathlib import Path

import matplotlib
matplotlib.use('Agg')   # tests draw to files; notebooks run in their own kernels with the inline backend

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))   # `helpers` for the tests in sub-folders
import fastai_featimp  # noqa: E402,F401  (patches the Learner)
from helpers import BIN_CAT, BIN_CONT, make_binary_df, train  # noqa: E402

warnings.filterwarnings('ignore', category=FutureWarning)
import torchvision  # noqa: E402,F401
try: import cv2  # noqa: F401
except ImportError: pass
# Two libraries edit the environment when first imported: torchvision (fastai's vision, the image tests) sets
# TORCHINDUCTOR_CACHE_DIR, opencv (brought by the pytorch-grad-cam reference; shap and captum import it when it is there)
# LD_LIBRARY_PATH. Imported here, once, so that the per-module environment check below sees the package's own changes
# only.
warnings.filterwarnings('ignore', message='.*not writable.*')
torch.set_num_threads(2)


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


@pytest.fixture(scope='session')
def notes():
    "Synthetic ICU notes with a known answer: training and held-out test notes."
    from fastai_featimp.datasets import clinical_notes
    return clinical_notes(2400, seed=0), clinical_notes(600, seed=1)


@pytest.fixture(scope='session')
def awd_lstm():
    """A small AWD_LSTM (embedding 100, hidden 256, 2 layers) trained from scratch with notebook 06's recipe (3,000
    notes), a model that learns the leak. Its training is chaotic: a build of torch with other rounding can land on a
    model that has not learnt it (2,400 notes on torch 2.14.1+cu130: accuracy 0.70), so the next seed is tried, and
    the fixture fails when none learns (the tests are about explanations of a model known to use the leak)."""
    from fastai_featimp.datasets import clinical_notes
    from helpers import train_awd_lstm
    train = clinical_notes(3000, seed=0)
    for seed in (0, 1, 2):
        learn = train_awd_lstm(train, seed=seed)
        with learn.no_bar(), learn.no_logging(): accuracy = float(learn.validate()[1])
        if accuracy >= 0.8: return learn
    raise AssertionError(f"the AWD_LSTM did not learn the notes with 3 seeds (last validation accuracy {accuracy:.3f})")


@pytest.fixture(scope='session')
def custom_text(notes):
    "A custom model (embeddings, a width-2 convolution) in a plain Learner over the same text pipeline."
    from helpers import train_custom_text
    return train_custom_text(notes[0])


@pytest.fixture(scope='session')
def marked(tmp_path_factory):
    """A small CNN trained on 800 synthetic 32-pixel images whose label correlates with a magenta marker in the
    top-left corner (and with a disk: the real signal), and 200 held-out images written as files (`path`, `label`)."""
    from fastai_featimp.datasets import marked_images
    from helpers import train_marked_cnn
    folder = tmp_path_factory.mktemp('marked')
    learn, _ = train_marked_cnn(folder / 'train')
    test = marked_images(200, 1, 32, path=folder / "test")
    test['path'] = [str(folder / 'test' / p) for p in test['path']]
    return learn, test


# The quick loop (`python -m pytest -q -m "not slow"`, under 3 minutes on 2 cores) leaves out what costs minutes:
# the notebooks, the README examples, the console-script runs that each start a fresh interpreter, and every test that
# needs the AWD_LSTM (about a minute to train). The README's test command and CI run everything.
SLOW_FIXTURES = {'awd_lstm'}
SLOW_MODULES = {'test_notebooks.py', 'test_readme.py'}


def pytest_collection_modifyitems(config, items):
    for item in items:
        params = set(map(str, getattr(getattr(item, 'callspec', None), 'params', {}).values()))   # getfixturevalue(model)
        if SLOW_FIXTURES & (set(getattr(item, 'fixturenames', ())) | params) or item.path.name in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True, scope='module')
def environment_left_as_found():
    "A test module leaves the environment as it found it: later subprocesses (notebook kernels, scripts) inherit it."
    before = dict(os.environ)
    yield
    changed = sorted(k for k in set(before) | set(os.environ)
                     if before.get(k) != os.environ.get(k) and not k.startswith('PYTEST_'))
    assert not changed, f"this test module changed the environment: {changed}"
