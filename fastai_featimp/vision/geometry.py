"""Where each pixel the model reads comes from in the image as given. fastai's validation item transforms (`Resize` with
crop, pad or squish; `RandomResizedCrop`, which at validation squishes then crops the centre) are, per axis, an affine
map `model = scale * original + offset` followed by a crop or a pad to the model's size; this module reads that map off
the learner's own transforms, so that regions, boxes and maps are in the image's own pixels. Pixels of a pad lie outside
the image: they belong to the nearest pixel inside it (a reflection pad mirrors it)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ['Geometry', 'geometry_of', 'check_item_tfms', 'Regions', 'grid_regions', 'box_pixels', 'mask_pixels']


@dataclass
class Geometry:
    "One image's map to the model's input: per axis `model = scale * original + offset` (x: width, y: height)."
    size: tuple                  # (height, width) of the image as given
    model_size: tuple            # (height, width) the model reads
    scale: tuple                 # (y, x)
    offset: tuple                # (y, x)

    def visible(self) -> tuple:
        "`(top, left, bottom, right)`: the part of the image the model sees (all of it, unless a crop cut some off)."
        lo = [max(0.0, -o / s) for o, s in zip(self.offset, self.scale)]
        hi = [min(float(n), (m - o) / s) for n, m, o, s in zip(self.size, self.model_size, self.offset, self.scale)]
        return lo[0], lo[1], hi[0], hi[1]

    def pixel_centres(self) -> tuple:
        """`(ys, xs)`: for each row and each column of the model's input, the coordinate in the image as given of its
        centre, clamped into the visible part (so a pad's pixels belong to the nearest pixel of the image)."""
        top, left, bottom, right = self.visible()
        out = []
        for n, s, o, lo, hi in zip(self.model_size, self.scale, self.offset, (top, left), (bottom, right)):
            centres = (np.arange(n) + 0.5 - o) / s
            out.append(np.clip(centres, lo, np.nextafter(hi, lo)))
        return out[0], out[1]


def _augment():
    "fastai's item transforms, imported when needed: fastai.vision.augment imports torchvision, which sets environment variables."
    from fastai.vision import augment
    return augment


def check_item_tfms(item_tfms) -> None:
    "Refuse item transforms whose geometry the package cannot map back (any but Resize, RandomResizedCrop, ToTensor)."
    a = _augment()
    known = (a.Resize, a.RandomResizedCrop)
    unknown = [type(t).__name__ for t in item_tfms if not isinstance(t, known) and type(t).__name__ != 'ToTensor']
    if unknown:
        raise TypeError(f"this learner's validation item transforms include {', '.join(unknown)}, whose geometry the "
                        "package cannot map back to the image's own pixels (it knows Resize and RandomResizedCrop): "
                        "explanations would put regions in the wrong place")


def _step(t, size: tuple) -> tuple:
    "`(scale, offset, new size)` per axis (y, x) of one validation item transform on an image of `size` (h, w)."
    h, w = size
    a = _augment()
    if isinstance(t, a.Resize):
        W, H = t.size                                   # fastai keeps sizes as (width, height)
        if t.method == a.ResizeMethod.Squish: cw, ch, tlx, tly = w, h, 0, 0
        else:
            pad = t.method == a.ResizeMethod.Pad
            m = w / W if ((w / W > h / H) if pad else (w / W < h / H)) else h / H
            cw, ch = int(m * W), int(m * H)
            tlx, tly = int(0.5 * (w - cw)), int(0.5 * (h - ch))   # at validation fastai crops or pads the centre
        sy, sx = H / ch, W / cw
        return (sy, sx), (-tly * sy, -tlx * sx), (H, W)
    if isinstance(t, a.RandomResizedCrop):
        W, H = t.size
        xtra = math.ceil(max(*t.size[:2]) * t.val_xtra / 8) * 8
        fw, fh = W + xtra, H + xtra                     # squished to the final size, then its centre cropped
        sy, sx = fh / h, fw / w
        return (sy, sx), (-((fh - H) // 2), -((fw - W) // 2)), (H, W)
    return (1.0, 1.0), (0.0, 0.0), (h, w)


def geometry_of(item_tfms, size: tuple, model_size: tuple) -> Geometry:
    "The composed map of `item_tfms` (in order) for an image of `size` (h, w); `model_size` is what came out."
    scale, offset, cur = (1.0, 1.0), (0.0, 0.0), tuple(size)
    for t in item_tfms:
        s, o, cur = _step(t, cur)
        scale = (scale[0] * s[0], scale[1] * s[1])
        offset = (offset[0] * s[0] + o[0], offset[1] * s[1] + o[1])
    if tuple(cur) != tuple(model_size):
        raise TypeError(f"the learner's item transforms turn a {size[0]}x{size[1]} image into {model_size[0]}x"
                        f"{model_size[1]} pixels, not the {cur[0]}x{cur[1]} the package computed: it cannot place "
                        "regions in this image's pixels")
    return Geometry(tuple(size), tuple(model_size), scale, offset)


@dataclass
class Regions:
    "One image's regions: names, boxes in the image's own pixels, and the region of each pixel the model reads."
    names: list                  # 'r0c1': row 0, column 1 of the grid
    boxes: np.ndarray            # (R, 4) int: top, left, bottom, right (bottom and right excluded)
    pixel_region: torch.Tensor   # (H, W) long: the region of each pixel of the model's input


def grid_regions(geometry: Geometry, grid: tuple) -> Regions:
    """A `grid` (rows, columns) of regions over the visible part of the image, with integer boundaries in its own
    pixels; each pixel of the model's input belongs to the region holding its centre."""
    rows, cols = grid
    top, left, bottom, right = geometry.visible()
    ys = np.round(np.linspace(math.ceil(top - 1e-9), math.floor(bottom + 1e-9), rows + 1)).astype(int)
    xs = np.round(np.linspace(math.ceil(left - 1e-9), math.floor(right + 1e-9), cols + 1)).astype(int)
    if (np.diff(ys) <= 0).any() or (np.diff(xs) <= 0).any():
        raise ValueError(f"a {rows}x{cols} grid is finer than the {int(bottom - top)}x{int(right - left)} pixels of the "
                         "image the model sees: choose a smaller `grid`")
    cy, cx = geometry.pixel_centres()
    ry = np.clip(np.searchsorted(ys, cy, side='right') - 1, 0, rows - 1)
    rx = np.clip(np.searchsorted(xs, cx, side='right') - 1, 0, cols - 1)
    pixel_region = torch.from_numpy(ry[:, None] * cols + rx[None, :]).long()
    if len(torch.unique(pixel_region)) < rows * cols:
        raise ValueError(f"a {rows}x{cols} grid has regions that no pixel of the model's {geometry.model_size[0]}x"
                         f"{geometry.model_size[1]} input falls in: choose a smaller `grid`")
    names = [f'r{i}c{j}' for i in range(rows) for j in range(cols)]
    boxes = np.array([(ys[i], xs[j], ys[i + 1], xs[j + 1]) for i in range(rows) for j in range(cols)], dtype=int)
    return Regions(names, boxes, pixel_region)


def box_pixels(geometry: Geometry, box) -> torch.Tensor:
    "(H, W) bool: the pixels of the model's input whose centre lies in `box` (top, left, bottom, right) of the image."
    t, l, b, r = box
    cy, cx = geometry.pixel_centres()
    return torch.from_numpy(((cy >= t) & (cy < b))[:, None] & ((cx >= l) & (cx < r))[None, :])


def mask_pixels(geometry: Geometry, mask: np.ndarray) -> torch.Tensor:
    "(H, W) bool: the pixels of the model's input whose centre falls on a True pixel of `mask` (the image's size)."
    cy, cx = geometry.pixel_centres()
    return torch.from_numpy(np.asarray(mask, bool)[np.floor(cy).astype(int)[:, None], np.floor(cx).astype(int)[None, :]])
