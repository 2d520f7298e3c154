"""The dispatch of independent pieces (common/parallel.py) without a cluster: results in order whatever order they
finish in, the payload loaded once per worker thread (never shared between threads: a stateful model such as AWD_LSTM
would mix their hidden states), and `n_jobs` checked."""
import threading

import cloudpickle
import pytest

from fastai_featimp.common import parallel


def _identity_of_payload(shared, piece): return id(shared), piece


def test_the_payload_is_loaded_once_per_thread_and_never_shared_between_threads():
    payload = cloudpickle.dumps({'model': [1, 2, 3]})
    seen = {}
    def worker(name):
        first = parallel._run(_identity_of_payload, 'digest', payload, 1, 0, [0, 1])
        again = parallel._run(_identity_of_payload, 'digest', payload, 1, 1, [2])
        seen[name] = {i for i, _ in first[1] + again[1]}
    threads = [threading.Thread(target=worker, args=(n,)) for n in 'ab']
    for t in threads: t.start()
    for t in threads: t.join()
    assert len(seen['a']) == 1 and len(seen['b']) == 1     # loaded once per thread, reused by its later pieces
    assert seen['a'] != seen['b']                           # each thread has its own copy
    other = parallel._run(_identity_of_payload, 'another call', payload, 1, 0, [0])
    assert other[1][0][0] not in seen['a'] | seen['b']      # a new call loads its own payload


def _square(shared, piece): return shared * piece * piece


@pytest.mark.slow   # starts worker processes, each importing torch
def test_pieces_come_back_in_order_with_processes():
    assert parallel.parallel_map(_square, 3, range(7), n_jobs=2) == [3 * i * i for i in range(7)]


@pytest.mark.parametrize('bad', [0, -2, 1.5, True, '2'])
def test_n_jobs_is_checked(bad):
    with pytest.raises(ValueError, match='n_jobs'): parallel.check_jobs(bad)
