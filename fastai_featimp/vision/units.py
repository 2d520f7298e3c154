"""The units of an image: a grid of regions over the part of it the model sees (or its superpixels), what a removed
region becomes, and which regions already are that (removing them changes nothing)."""
from __future__ import annotations

import numbers

import numpy as np

from ..core.params import ParameterError
from .geometry import grid_regions
from .masking import fill_image, null_regions
from .superpixels import superpixel_regions

__all__ = ['checked_grid', 'region_setup', 'mean_image_of']


GRID_RULE = 'a whole number >= 2 (a square grid) or (rows, columns)'   # what `grid` takes, in words


def checked_grid(grid) -> tuple:
    "`grid` as (rows, columns): one whole number for a square grid, or two."
    values = (grid, grid) if isinstance(grid, numbers.Integral) and not isinstance(grid, bool) else grid
    ok = isinstance(values, (tuple, list)) and len(values) == 2 and all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1 for v in values)
    if not ok or values[0] * values[1] < 2:
        raise ParameterError('grid', f"`grid` must be {GRID_RULE}, got {grid!r}")
    return int(values[0]), int(values[1])


def region_setup(data, grid: tuple, mask, segments: list | None = None) -> list:
    """Per image `(regions, fill, null)`: its regions (the grid, or the superpixels of its label map in `segments`),
    what a removed pixel becomes, the regions already the fill."""
    out = []
    for i in range(data.n_rows):
        try: regions = grid_regions(data.geometries[i], grid) if segments is None else \
            superpixel_regions(data.geometries[i], segments[i])
        except ParameterError as e: raise ParameterError(e.name, f"image {i}: {e.message}") from None
        except ValueError as e: raise ParameterError('grid', f"image {i}: {e}") from None
        x = data.pixels[i]
        fill = fill_image(x, mask, data.scale)
        out.append((regions, fill, null_regions(x, fill, regions.pixel_region, len(regions.names))))
    return out


def mean_image_of(data, same_boxes: bool) -> tuple:
    """`(mean image, its size)`: the images' mean in their own pixels when they share their size and their regions'
    boxes, else the mean of what the model reads; at most 64 pixels a side (pandas copies attrs with a frame)."""
    shapes = {np.asarray(im).shape for im in data.images}
    if same_boxes and len(shapes) == 1:
        mean, size = np.mean([np.asarray(im, dtype=float) for im in data.images], 0), tuple(data.geometries[0].size)
    else:
        mean, size = data.pixels.mean(0).permute(1, 2, 0).cpu().numpy() * data.scale, tuple(data.pixels.shape[-2:])
    mean = np.clip(mean, 0, 255).astype(np.uint8)
    if max(mean.shape[:2]) > 64:
        from PIL import Image
        scale = 64 / max(mean.shape[:2])
        mean = np.asarray(Image.fromarray(mean).resize((max(1, round(mean.shape[1] * scale)),
                                                        max(1, round(mean.shape[0] * scale)))))
    return mean, size
