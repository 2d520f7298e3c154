"Leave the caller's world as it was: model modes and global random states, also after an exception or Ctrl-C."
from __future__ import annotations

import random
from contextlib import contextmanager

import numpy as np
import torch

__all__ = ['eval_mode', 'preserved_global_rng']


@contextmanager
def eval_mode(model):
    "Put `model` in eval mode, then restore each submodule's own train/eval flag (not just the top one's)."
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try: yield model
    finally:
        for m, training in modes: m.training = training


@contextmanager
def preserved_global_rng():
    "Restore Python's, NumPy's and torch's global generators: fastai's DataLoaders draw from them when built."
    py, npy, cpu = random.getstate(), np.random.get_state(), torch.get_rng_state()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None
    try: yield
    finally:
        random.setstate(py); np.random.set_state(npy); torch.set_rng_state(cpu)
        if cuda is not None: torch.cuda.set_rng_state_all(cuda)
