"""The units of an image: a grid of regions over the part of it the model sees (or its superpixels), what a removed
region becomes, and which regions already are that (removing them changes nothing)."""
from __future__ import annotations

import numbers

from ..core.params import ParameterError
from .geometry import grid_regions
from .masking import fill_image, null_regions
from .superpixels import superpixel_regions

__all__ = ['checked_grid', 'region_setup']


def checked_grid(grid) -> tuple:
    "`grid` as (rows, columns): one whole number for a square grid, or two."
    values = (grid, grid) if isinstance(grid, numbers.Integral) and not isinstance(grid, bool) else grid
    ok = isinstance(values, (tuple, list)) and len(values) == 2 and all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1 for v in values)
    if not ok or values[0] * values[1] < 2:
        raise ParameterError('grid', f"`grid` must be a whole number >= 2 (a square grid) or (rows, columns), got {grid!r}")
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
