"""Leave the caller's process as it was: model modes, random states, cuDNN flags, the thread count and the
warning filters, also after an exception or Ctrl-C."""
from __future__ import annotations

import random
import warnings
from contextlib import contextmanager

import numpy as np
import torch

__all__ = ['eval_mode', 'preserved_state', 'preserved_global_rng']


@contextmanager
def eval_mode(model):
    "Put `model` in eval mode, then restore each submodule's own train/eval flag (not just the top one's)."
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try: yield model
    finally:
        for m, training in modes: m.training = training


def _cuda_lazy_seeds():
    "torch queues CUDA seeding until CUDA starts (`torch.manual_seed` on a machine where it has not): keep the queue."
    tracker = getattr(torch.cuda, '_lazy_seed_tracker', None)
    if tracker is None: return None, None
    return tracker, dict(vars(tracker), call_order=list(getattr(tracker, 'call_order', [])))


@contextmanager
def preserved_global_rng():
    "Restore Python's, NumPy's and torch's (CPU and CUDA) global generators: fastai draws from them."
    py, npy, cpu = random.getstate(), np.random.get_state(), torch.get_rng_state()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None
    tracker, queued = _cuda_lazy_seeds()
    try: yield
    finally:
        random.setstate(py); np.random.set_state(npy); torch.set_rng_state(cpu)
        if cuda is not None: torch.cuda.set_rng_state_all(cuda)
        if tracker is not None: vars(tracker).update(queued)


@contextmanager
def preserved_state():
    """Everything a computation might set for itself, restored when it ends: the global random generators,
    `torch.backends.cudnn.benchmark`/`deterministic`, torch's thread count and the warning filters
    (fastai's `set_seed(..., reproducible=True)` changes the cuDNN flags; retraining sets one thread)."""
    cudnn = torch.backends.cudnn
    flags = (cudnn.benchmark, cudnn.deterministic)
    threads = torch.get_num_threads()
    with warnings.catch_warnings(), preserved_global_rng():
        try: yield
        finally:
            cudnn.benchmark, cudnn.deterministic = flags
            if torch.get_num_threads() != threads: torch.set_num_threads(threads)
