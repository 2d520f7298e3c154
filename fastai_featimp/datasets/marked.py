"""Synthetic images with a known answer, for testing explanations of image classifiers: the image form of the clinical
notes' 'family visit'. Generated in code (nothing to download), small (32 to 48 pixels: a CNN learns them in seconds).

Generative model:

1. The label comes first: `label` is 'yes' with probability 0.5, else 'no' (fastai sorts labels: 'yes' is a binary
   model's positive class).
2. The shortcut: a solid magenta square (`MARKER_COLOUR`, a sixth of the side) in the top-left corner, 2 pixels from
   the edges, present with probability 0.6 given 'yes' and 0.03 given 'no' (log likelihood ratio 3.0): like a
   hospital's marker on the scans of its sickest patients, it records where an image came from, not what it shows.
   It lies inside the top-left cell of a 2x2, 3x3 or 4x4 grid of the image.
3. The real signal: a bright disk (radius a seventh of the side) present with probability 0.8 given 'yes' and 0.2
   given 'no' (log likelihood ratio 1.4), placed at random away from the top-left quarter, so that it never touches
   the marker's cell.
4. Label-independent background: a random mid-range colour per image with pixel noise (never magenta, never as
   bright as the disk).

`marked_images()` returns the images with the draws (`has_marker`, `has_disk`, `marker_box`); with `path` it also
writes them as PNG files and adds their paths."""
from __future__ import annotations

import numbers
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ['marked_images', 'marker_box', 'MARKER_COLOUR', 'MARKED_P']

MARKER_COLOUR = (255, 0, 255)
MARKED_P = {'marker': (0.6, 0.03), 'disk': (0.8, 0.2)}   # P(present | yes), P(present | no)


def _check(n, seed, size):
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f'n must be a positive integer, got {n!r}')
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0):
        raise ValueError(f'seed must be a non-negative integer or None, got {seed!r}')
    if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 16:
        raise ValueError(f'size must be an integer >= 16 (the marker needs a few pixels), got {size!r}')


def marker_box(size: int) -> tuple:
    "`(top, left, bottom, right)` of the marker in an image of `size` pixels (bottom and right excluded)."
    side = max(3, size // 6)
    return (2, 2, 2 + side, 2 + side)


def marked_images(n: int, seed: int | None = 0, size: int = 32, path=None) -> pd.DataFrame:
    """`n` RGB images of `size` x `size` pixels: columns `image` (uint8 arrays, height x width x 3), `label`
    ('yes'/'no'), `has_marker`, `has_disk`, `marker_box` (the marker's `(top, left, bottom, right)`, or None).
    With `path`, each image is written there as a PNG and `path` holds its file name (relative to `path`)."""
    _check(n, seed, size)
    rng = np.random.default_rng(seed)
    yes = rng.random(n) < 0.5
    p = lambda name: np.where(yes, *MARKED_P[name])
    has_marker, has_disk = rng.random(n) < p('marker'), rng.random(n) < p('disk')
    box = marker_box(size)
    radius = size / 7
    yy, xx = np.mgrid[:size, :size]
    images = []
    for i in range(n):
        base = rng.integers(60, 170, 3)
        img = np.clip(base + rng.normal(0, 12, (size, size, 3)), 0, 235)
        if has_disk[i]:
            lo = size / 4 + radius   # away from the top-left quarter (the marker's cell)
            cy, cx = rng.uniform(lo, size - radius, 2)
            img[(yy - cy) ** 2 + (xx - cx) ** 2 <= radius ** 2] = 250
        if has_marker[i]:
            t, l, b, r = box
            img[t:b, l:r] = MARKER_COLOUR
        images.append(img.astype(np.uint8))
    df = pd.DataFrame({'image': images, 'label': np.where(yes, 'yes', 'no'), 'has_marker': has_marker,
                       'has_disk': has_disk, 'marker_box': [box if m else None for m in has_marker]})
    if path is not None:
        from PIL import Image
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        names = [f'img_{seed}_{i:05d}.png' for i in range(n)]
        for name, img in zip(names, images): Image.fromarray(img).save(folder / name)
        df['path'] = names
    return df
