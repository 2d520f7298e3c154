"""Flagged regions of images (boxes known to be shortcuts: a hospital's marker, a ruler, a watermark): checked against
each image's own size, and turned into the pixels of the model's input they cover."""
from __future__ import annotations

import numbers

import numpy as np
import torch

from ..core.params import ParameterError
from .geometry import box_pixels, mask_pixels

__all__ = ['flagged_boxes', 'flagged_pixels']


def flagged_boxes(flagged) -> tuple:
    """`(boxes, mask)`: `flagged` as a list of (top, left, bottom, right) boxes (whole numbers, bottom and right
    excluded), or as a boolean mask (an array of the images' size, or a list of one per image)."""
    if isinstance(flagged, np.ndarray) and flagged.dtype == bool: return None, [flagged]
    if isinstance(flagged, list) and flagged and all(isinstance(m, np.ndarray) and m.dtype == bool for m in flagged):
        return None, flagged
    boxes = [flagged] if isinstance(flagged, tuple) and len(flagged) == 4 and \
        all(isinstance(v, numbers.Number) for v in flagged) else flagged
    try: boxes = [tuple(b) for b in boxes]
    except TypeError: boxes = None
    ok = boxes and all(len(b) == 4 and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in b)
                       for b in boxes)
    if not ok:
        raise ParameterError('flagged', "`flagged` must be boxes (top, left, bottom, right) in the images' own pixels, "
                                        f"e.g. [(0, 0, 8, 8)], or a boolean mask of the images' size; got {flagged!r}")
    bad = [b for b in boxes if not (0 <= b[0] < b[2] and 0 <= b[1] < b[3])]
    if bad:
        raise ParameterError('flagged', f"the box {bad[0]} in `flagged` is empty or negative: a box is (top, left, "
                                        "bottom, right) with top < bottom and left < right")
    return [tuple(int(v) for v in b) for b in boxes], None


def flagged_pixels(geometries: list, boxes, masks) -> tuple:
    "`(pixels, found)`: per image the (H, W) bool pixels of the model's input flagged, and the boxes found in it."
    pixels, found = [], []
    for i, g in enumerate(geometries):
        h, w = g.size
        if boxes is not None:
            outside = [b for b in boxes if b[2] > h or b[3] > w]
            if outside:
                raise ParameterError('flagged', f"the box {outside[0]} in `flagged` reaches outside image {i}, which "
                                                f"is {h} x {w} pixels (height x width): boxes are (top, left, bottom, "
                                                "right) in each image's own pixels")
            px = torch.zeros(g.model_size, dtype=torch.bool)
            for b in boxes: px |= box_pixels(g, b)
            found.append([list(b) for b in boxes if box_pixels(g, b).any()])
        else:
            if len(masks) not in (1, len(geometries)):
                raise ParameterError('flagged', f"`flagged` holds {len(masks)} masks for {len(geometries)} images: give "
                                                "one mask for all, or one per image")
            m = masks[0] if len(masks) == 1 else masks[i]
            if m.shape != (h, w):
                raise ParameterError('flagged', f"the mask in `flagged` is {m.shape[0]} x {m.shape[1]} but image {i} is "
                                                f"{h} x {w} pixels: a mask has the image's own size")
            px = mask_pixels(g, m)
            found.append(['mask'] if px.any() else [])
        pixels.append(px)
    return pixels, found
