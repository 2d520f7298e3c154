"""Independent pieces of work (variables, rows, grid points, forward batches, retrainings) run through joblib, so
that any joblib backend runs them: here with `n_jobs=1`, local processes (loky) otherwise, or a Dask cluster inside
`joblib.parallel_config(backend='dask')` after opening a `distributed.Client`. This package grows no scheduler.

What every piece needs (the model, the tensors, the scorers) is pickled once per call into one `bytes` object and
loaded once per worker process: Dask scatters it (joblib's dask backend sends a large argument once, as a future,
and workers share it), loky gets it with a few batches of pieces per worker, not with each piece. Pieces keep their
own random streams (keyed by name in the call's seed) and run the same forward batches wherever they run, with the
caller's number of torch threads (some kernels' float arithmetic depends on it), so `n_jobs=1`, processes and a
cluster give the same numbers bit for bit, in the same order. (On a cluster, `torch.set_num_threads(1)` before the
call keeps each worker to one thread; the numbers are then those of n_jobs=1 with one thread.) Results
come back as they finish, to count on the progress bar; an error or Ctrl-C stops the pieces still queued."""
from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from typing import Callable, Sequence

import torch

from ..core.params import ParameterError
from .progress import counting

__all__ = ['parallel_map', 'mapper', 'check_jobs', 'n_workers', 'active_backend']

CHUNKS_PER_WORKER = 2        # local processes: batches of pieces per worker (each batch carries the shared payload)
_LOADED = threading.local()  # worker side: the payload of the call in progress, per thread (a Dask worker may run
                             # pieces in several threads; a stateful model such as AWD_LSTM must not be shared)


def check_jobs(n_jobs) -> int:
    "`n_jobs`: a positive integer, or -1 for every core (or every worker of the active joblib backend)."
    import numpy as np
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)) or n_jobs == 0 or n_jobs < -1:
        raise ParameterError('n_jobs', f"`n_jobs` must be a positive integer or -1 (all cores), got {n_jobs!r}")
    return int(n_jobs)


def active_backend() -> str:
    "The name of joblib's active backend ('loky' unless a `parallel_config` chose another, e.g. 'dask')."
    from joblib.parallel import get_active_backend
    backend, _ = get_active_backend()
    return 'dask' if type(backend).__name__ == 'DaskDistributedBackend' else type(backend).__name__.replace('Backend', '').lower()


def n_workers(n_jobs: int) -> int:
    "How many workers `n_jobs` means under the active backend."
    from joblib.parallel import get_active_backend
    backend, _ = get_active_backend()
    return max(1, backend.effective_n_jobs(n_jobs))


def _run(fn: Callable, digest: str, payload: bytes, threads: int, index: int, pieces: list) -> tuple:
    """A worker's batch of pieces: the payload loaded once per worker thread (and call), the caller's number of torch threads
    (the float arithmetic of some kernels depends on it); `(index, results in order)`."""
    import cloudpickle
    if getattr(_LOADED, 'digest', None) != digest:
        _LOADED.digest, _LOADED.shared = None, None   # the previous call's payload goes first
        _LOADED.shared, _LOADED.digest = cloudpickle.loads(payload), digest
    shared = _LOADED.shared
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try: return index, [fn(shared, piece) for piece in pieces]
    finally: torch.set_num_threads(before)


def parallel_map(fn: Callable, shared, pieces: Sequence, *, n_jobs: int = 1, learn=None, show_progress: bool = False,
                 comment: str = '', sizes: Sequence[int] | None = None) -> list:
    """`[fn(shared, piece) for piece in pieces]`, through joblib when `n_jobs` is not 1. `fn` is a module-level
    function; `shared` is what every piece needs. `sizes` (one per piece) is what the progress bar counts (default 1
    each); the bar counts pieces as they come back."""
    pieces = list(pieces)
    sizes = list(sizes) if sizes is not None else [1] * len(pieces)
    n_jobs = check_jobs(n_jobs)
    with counting(learn, show_progress, sum(sizes), comment) as progress:
        if n_jobs == 1 or len(pieces) < 2:
            out = []
            for piece, size in zip(pieces, sizes):
                out.append(fn(shared, piece)); progress.add(size)
            return out
        from joblib import Parallel, delayed
        import cloudpickle
        payload = cloudpickle.dumps(shared)
        digest = hashlib.sha1(payload).hexdigest() + f'-{os.getpid()}-{id(shared)}'
        dask = active_backend() == 'dask'
        # Dask: one task per piece (the payload travels once, as a future); processes: a few batches per worker
        n_batches = len(pieces) if dask else min(len(pieces), n_workers(n_jobs) * CHUNKS_PER_WORKER)
        bounds = [round(i * len(pieces) / n_batches) for i in range(n_batches + 1)]
        batches = [list(range(a, b)) for a, b in zip(bounds, bounds[1:]) if b > a]
        done = {}
        with _broadcast(payload) if dask else contextlib.nullcontext():
            results = Parallel(n_jobs=n_jobs, return_as='generator_unordered')(
                delayed(_run)(fn, digest, payload, torch.get_num_threads(), k, [pieces[i] for i in batch])
                for k, batch in enumerate(batches))
            for k, res in results:   # counted as they come back, put back in order at the end
                done[k] = res
                progress.add(sum(sizes[i] for i in batches[k]))
        return [r for k in range(len(batches)) for r in done[k]]


def _broadcast(payload: bytes):
    """The Dask backend with `payload` scattered to every worker up front (joblib sends the future in its place), so
    each worker holds it once and the scheduler is free to run any piece anywhere (no pull towards one worker)."""
    from joblib import parallel_config
    return parallel_config(backend='dask', scatter=[payload])


def mapper(n_jobs: int, learn=None, show_progress: bool = False, comment: str = ''):
    "`parallel_map` with these settings, as a function `(fn, shared, pieces, sizes) -> results` for the adapters."
    return lambda fn, shared, pieces, sizes=None: parallel_map(fn, shared, pieces, n_jobs=n_jobs, learn=learn,
                                                             show_progress=show_progress, comment=comment, sizes=sizes)
