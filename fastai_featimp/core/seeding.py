"""One seeding rule for every method, and one subsampling rule.

A call's `seed` becomes a root; every random stream of the call is derived from the root and a key that
names what it is for (`'subsample'`, `('permutation', 'age')`, ...). A stream therefore depends on its own
key only: a column's permutations are the same whichever other columns or groups are scored with it.
The global random states (Python, NumPy, torch) are never read or written."""
from __future__ import annotations

import zlib

import numpy as np

from .checks import check_int

__all__ = ['root_seed', 'stream', 'int_seed', 'subsample_indices']


def root_seed(seed) -> int:
    "The call's root entropy: `seed` checked (a non-negative integer), or fresh entropy when it is None."
    if seed is None: return int(np.random.SeedSequence().entropy)
    return check_int('seed', seed, minimum=0)


def _key_words(keys) -> tuple:
    "Stable 32-bit words for a key (names are hashed with CRC-32: the same in every process and run)."
    words = []
    for k in keys:
        if isinstance(k, (int, np.integer)) and not isinstance(k, bool) and k >= 0: words += [0, int(k)]
        else: words += [1, zlib.crc32(str(k).encode('utf-8'))]
    return tuple(words)


def stream(root: int, *keys) -> np.random.Generator:
    "The NumPy generator of `keys` under `root`."
    return np.random.default_rng(np.random.SeedSequence(root, spawn_key=_key_words(keys)))


def int_seed(root: int, *keys) -> int:
    "An integer seed (for fastai/torch) derived from `root` and `keys`."
    return int(stream(root, *keys).integers(0, 2**31 - 1))


def subsample_indices(n: int, max_rows, rng: np.random.Generator, name: str = 'max_rows', minimum: int = 2):
    """Sorted row indices of a seeded sample of `max_rows` rows, or None to use all `n` rows.

    The one rule: `max_rows` caps the rows; a set that is not larger is used whole."""
    if max_rows is None: return None
    max_rows = check_int(name, max_rows, minimum=minimum)
    if max_rows >= n: return None
    return np.sort(rng.choice(n, max_rows, replace=False))
