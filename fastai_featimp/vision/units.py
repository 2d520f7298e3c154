"""The units of an image: a grid of regions over the part of it the model sees, what a removed region becomes, and
which regions already are that (removing them changes nothing)."""
from __future__ import annotations

import numbers

from ..core.params import ParameterError
from .geometry import grid_regions
from .masking import fill_image, null_regions

__all__ = ['checked_grid', 'region_setup']


def checked_grid(grid) -> tuple:
    "`grid` as (rows, columns): one whole number for a square grid, or two."
    values = (grid, grid) if isinstance(grid, numbers.Integral) and not isinstance(grid, bool) else grid
    ok = isinstance(values, (tuple, list)) and len(values) == 2 and all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1 for v in values)
    if not ok or values[0] * values[1] < 2:
        raise ParameterError('grid', f"`grid` must be a whole number >= 2 (a square grid) or (rows, columns), got {grid!r}")
    return int(values[0]), int(values[1])


def region_setup(data, grid: tuple, mask) -> list:
    "Per image `(regions, fill, null)`: its grid of regions, what a removed pixel becomes, the regions already the fill."
    out = []
    for i in range(data.n_rows):
        try: regions = grid_regions(data.geometries[i], grid)
        except ValueError as e: raise ParameterError('grid', f"image {i}: {e}") from None
        x = data.pixels[i]
        fill = fill_image(x, mask, data.scale)
        out.append((regions, fill, null_regions(x, fill, regions.pixel_region, len(regions.names))))
    return out
