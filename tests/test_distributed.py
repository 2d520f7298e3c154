"""Beyond one machine (issue 23): the heavy methods dispatched through joblib give the same numbers bit for bit with
`n_jobs=1`, local processes and a Dask cluster (a LocalCluster of two worker processes here), survive a worker killed
in the middle of a run, stop cleanly on an interrupt, and need nothing new without Dask."""
import os
import subprocess
import sys
import time
from pathlib import Path

import cloudpickle
import joblib
import numpy as np
import pandas as pd
import pytest

import fastai_featimp
from helpers import assert_call_leaves_everything

distributed = pytest.importorskip('distributed')
pytestmark = pytest.mark.slow   # a cluster of worker processes, each importing torch and fastai
cloudpickle.register_pickle_by_value(sys.modules[__name__])   # the metrics below run on the workers
Q = dict(show_progress=False)
TESTS = Path(__file__).parent


@pytest.fixture(scope='module')
def client():
    # distributed's Nanny writes OMP_NUM_THREADS=1 (and MKL, OpenBLAS, MALLOC_TRIM_THRESHOLD_, PYTHONHASHSEED) into
    # this process's environment for good: every later subprocess (notebook kernels, the README's script, console
    # scripts) would then run torch on one thread. Put the environment back as it was.
    saved = dict(os.environ)
    os.environ['PYTHONPATH'] = str(TESTS)   # workers unpickle the custom text model of helpers.py
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    c = distributed.Client(cluster)
    yield c
    c.close(); cluster.close()
    os.environ.clear(); os.environ.update(saved)


def on_cluster(call):
    with joblib.parallel_config(backend='dask'): return call(n_jobs=-1)


def same(a, b):
    if isinstance(a, pd.DataFrame): pd.testing.assert_frame_equal(a, b, check_exact=True); assert a.attrs.keys() == b.attrs.keys()
    else: np.testing.assert_array_equal(a.average, b.average); np.testing.assert_array_equal(a.individual, b.individual)


TABULAR = {
    'feature_importance': lambda l, d, **kw: l.feature_importance(df=d, n_repeats=2, seed=0, **Q, **kw),
    'explain': lambda l, d, **kw: l.explain(d.iloc[:6], n_background=20, seed=0, **Q, **kw),
    'explain permutation': lambda l, d, **kw: l.explain(d.iloc[:4], method='permutation', n_background=20, seed=0, **Q, **kw),
    'partial_dependence': lambda l, d, **kw: l.partial_dependence('signal', d, kind='both', grid_resolution=6, **Q, **kw),
}


@pytest.mark.parametrize('name', list(TABULAR))
def test_tabular_methods_give_the_same_numbers_everywhere(binary_learner, binary_test, client, name):
    call = lambda **kw: TABULAR[name](binary_learner, binary_test.head(600), **kw)
    local = call(n_jobs=1)
    same(local, call(n_jobs=2))        # local processes (loky)
    same(local, on_cluster(call))      # the Dask cluster


def test_text_methods_give_the_same_numbers_everywhere(custom_text, notes, client):
    df = notes[1].head(120)
    fi = lambda **kw: custom_text.feature_importance(df=df, min_support=10, n_bootstrap=20, seed=0, **Q, **kw)
    local = fi(n_jobs=1)
    same(local, fi(n_jobs=2)); same(local, on_cluster(fi))
    long_note = ' '.join(df['text'].iloc[:5])   # one long text: its coalitions are spread over the workers
    ex = lambda **kw: custom_text.explain([long_note, df['text'].iloc[9]], n_permutations=6, seed=0, bs=16, **Q, **kw)
    local = ex(n_jobs=1)
    same(local, ex(n_jobs=2)); same(local, on_cluster(ex))


def test_retrainings_give_the_same_numbers_on_the_cluster(client):
    from helpers import make_binary_df, train
    train_df = make_binary_df(900, 7)
    learn = train(train_df, 'y', ['level', 'noise_cat'], ['signal', 'noise'], epochs=1)
    call = lambda **kw: learn.drop_column_importance(train_df, make_binary_df(300, 8), columns=['signal', 'noise'],
                                                     seed=0, **Q, **kw)
    same(call(n_jobs=1), on_cluster(call))


MARKER = {}


def killing_accuracy(preds, targs):
    "Accuracy; but the first time it runs on a Dask worker, that worker's process dies (Dask must rerun its task)."
    try: distributed.get_worker(); on_worker = True
    except ValueError: on_worker = False
    marker = Path(MARKER['path'])
    if on_worker and not marker.exists():
        marker.write_text('killed'); os._exit(1)
    return float((preds.argmax(1) == targs.view(-1)).float().mean())


def test_a_worker_killed_in_the_middle_changes_nothing(binary_learner, binary_test, client, tmp_path):
    MARKER['path'] = str(tmp_path / 'killed')
    call = lambda **kw: binary_learner.feature_importance(df=binary_test.head(500), metric=killing_accuracy,
                                                          greater_is_better=True, n_repeats=2, seed=0, **Q, **kw)
    local = call(n_jobs=1)
    with pytest.warns(None) if False else _quiet():
        remote = on_cluster(call)
    assert (tmp_path / 'killed').exists()   # a worker did die
    same(local, remote)


def slow_accuracy(preds, targs):
    "Accuracy, slowly: pieces are still queued on the workers when the caller is interrupted."
    time.sleep(0.3)
    return float((preds.argmax(1) == targs.view(-1)).float().mean())


@pytest.mark.parametrize('backend', ['loky', 'dask'])
def test_an_interrupt_stops_the_run_and_changes_nothing(binary_learner, binary_test, client, backend, monkeypatch):
    """Ctrl-C reaches the caller while it waits for pieces (here: as the first piece comes back): the call stops with
    KeyboardInterrupt, changes nothing, and the pieces still queued are cancelled."""
    import contextlib
    from fastai_featimp.common import parallel

    class CtrlC:
        def add(self, k=1): raise KeyboardInterrupt
    monkeypatch.setattr(parallel, 'counting', lambda *a, **k: contextlib.nullcontext(CtrlC()))
    data = binary_test.head(300)
    def call():
        with joblib.parallel_config(backend=backend):
            binary_learner.feature_importance(df=data, metric=slow_accuracy, greater_is_better=True,
                                              n_repeats=4, seed=0, n_jobs=2, **Q)
    assert_call_leaves_everything(binary_learner, call, data, raises=KeyboardInterrupt)
    deadline = time.time() + 30
    while any(client.processing().values()) and time.time() < deadline: time.sleep(0.5)
    assert not any(client.processing().values())   # no worker left busy


class _quiet:
    def __enter__(self):
        import warnings
        self.c = warnings.catch_warnings(); self.c.__enter__(); warnings.simplefilter('ignore')
    def __exit__(self, *a): self.c.__exit__(*a)


def test_without_dask_everything_local_still_works():
    code = ("import sys; sys.modules['distributed'] = None; sys.modules['dask'] = None\n"
            f"sys.path.insert(0, {str(TESTS)!r})\n"
            "import warnings; warnings.simplefilter('ignore')\n"
            "import fastai_featimp\n"
            "from helpers import make_binary_df, train\n"
            "learn = train(make_binary_df(600, 0), 'y', ['level'], ['signal', 'noise'], epochs=1)\n"
            "d = make_binary_df(300, 1)\n"
            "a = learn.feature_importance(df=d, n_repeats=2, seed=0, show_progress=False)\n"
            "b = learn.feature_importance(df=d, n_repeats=2, seed=0, show_progress=False, n_jobs=2)\n"
            "print('SAME', a.equals(b))\n")
    res = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=600)
    assert 'SAME True' in res.stdout, res.stderr[-2000:]
