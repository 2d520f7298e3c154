"""Superpixels: regions that follow an image's colours instead of a grid. Computed by SLIC (simple linear iterative
clustering: k-means over colour in CIELAB and position, each pixel compared only with the centres of its own and the
eight neighbouring grid cells; Achanta et al., 2012) on the copy of the image kept for drawing (at most
`THUMBNAIL` pixels a side), or given by the user as one label map per image (e.g. `skimage.segmentation.slic`'s) in
the image's own pixels. A label map is read at any resolution: a point of the image maps to the label under it."""
from __future__ import annotations

import numbers

import numpy as np
import torch

from ..core.params import ParameterError
from ..core.results import labels_under, own_labels
from .geometry import Geometry, Regions

__all__ = ['slic', 'checked_superpixels', 'segment_maps', 'superpixel_regions']

# the weight of position against colour (CIELAB): 20 keeps superpixels whole on noisy images (10, skimage's default,
# breaks a 32-pixel image with pixel noise into specks); and the rounds of k-means
COMPACTNESS, ITERATIONS = 20.0, 10


def _lab(image: np.ndarray) -> torch.Tensor:
    "(h, w, 3) CIELAB of an RGB uint8 image (D65); a grey image's lightness alone, as (h, w, 1)."
    x = torch.tensor(np.asarray(image), dtype=torch.double) / 255
    if x.ndim == 2 or x.shape[-1] == 1: return (x.reshape(*x.shape[:2], 1) * 100)
    rgb = torch.where(x[..., :3] > 0.04045, ((x[..., :3] + 0.055) / 1.055) ** 2.4, x[..., :3] / 12.92)
    xyz = rgb @ torch.tensor([[0.412453, 0.212671, 0.019334], [0.357580, 0.715160, 0.119193],
                              [0.180423, 0.072169, 0.950227]], dtype=torch.double)
    xyz = xyz / torch.tensor([0.950456, 1.0, 1.088754], dtype=torch.double)
    f = torch.where(xyz > 0.008856, xyz ** (1 / 3), 7.787 * xyz + 16 / 116)
    return torch.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


def slic(image: np.ndarray, n_segments: int, compactness: float = COMPACTNESS, iterations: int = ITERATIONS) -> np.ndarray:
    """(h, w) int labels 0..K-1 of about `n_segments` connected superpixels of `image` (uint8, h x w [x channels])."""
    lab = _lab(image)
    h, w, _ = lab.shape
    step = max(1.0, (h * w / n_segments) ** 0.5)
    ny, nx = max(1, min(h, round(h / step))), max(1, min(w, round(w / step)))
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.double), torch.arange(w, dtype=torch.double), indexing='ij')
    cell_y = (ys * ny / h).long().reshape(-1)
    cell_x = (xs * nx / w).long().reshape(-1)
    cy = ((torch.arange(ny, dtype=torch.double) + 0.5) * h / ny)[:, None].expand(ny, nx).reshape(-1)
    cx = ((torch.arange(nx, dtype=torch.double) + 0.5) * w / nx)[None, :].expand(ny, nx).reshape(-1)
    colour = lab[cy.long(), cx.long()]
    pixels, py, px = lab.reshape(h * w, -1), ys.reshape(-1), xs.reshape(-1)
    # each pixel's candidate centres: its own grid cell's and the eight around it (clipped at the borders)
    offsets = torch.tensor([(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)])
    cand = ((cell_y[:, None] + offsets[:, 0]).clamp(0, ny - 1) * nx + (cell_x[:, None] + offsets[:, 1]).clamp(0, nx - 1))
    weight = (compactness / step) ** 2
    for _ in range(iterations):
        d = ((pixels[:, None] - colour[cand]) ** 2).sum(-1) + weight * ((py[:, None] - cy[cand]) ** 2 + (px[:, None] - cx[cand]) ** 2)
        label = cand.gather(1, d.argmin(1, keepdim=True))[:, 0]
        count = torch.zeros(ny * nx, dtype=torch.double).index_add_(0, label, torch.ones(h * w, dtype=torch.double))
        seen = count > 0            # a centre no pixel chose keeps its place
        mean = lambda v: torch.zeros(ny * nx, *v.shape[1:], dtype=torch.double).index_add_(0, label, v)
        colour[seen] = (mean(pixels) / count.clamp(min=1)[:, None])[seen]
        cy[seen], cx[seen] = (mean(py) / count.clamp(min=1))[seen], (mean(px) / count.clamp(min=1))[seen]
    return _connected(label.reshape(h, w).numpy())


def _connected(label: np.ndarray) -> np.ndarray:
    """Each superpixel made one connected piece: its largest piece keeps the label, smaller pieces join a neighbouring
    superpixel. Labels renumbered 0..K-1 in raster order."""
    from scipy import ndimage
    out = np.full(label.shape, -1)
    for k in np.unique(label):
        pieces, _ = ndimage.label(label == k)
        out[pieces == 1 + int(np.bincount(pieces.reshape(-1))[1:].argmax())] = k
    while (out < 0).any():          # orphan pixels take a labelled neighbour's label, growing inwards from the edges
        for axis, shift in ((0, 1), (0, -1), (1, 1), (1, -1)):
            moved = np.roll(out, shift, axis)
            edge = [slice(None)] * 2
            edge[axis] = 0 if shift == 1 else -1
            moved[tuple(edge)] = -1  # no wrapping around the border
            take = (out < 0) & (moved >= 0)
            out[take] = moved[take]
    _, first, inverse = np.unique(out.reshape(-1), return_index=True, return_inverse=True)
    return np.argsort(np.argsort(first))[inverse].reshape(label.shape)


def checked_superpixels(superpixels):
    "`superpixels` as None, a whole number of superpixels (>= 2), or a list of label maps (one per image)."
    if superpixels is None: return None
    if isinstance(superpixels, numbers.Integral) and not isinstance(superpixels, bool):
        if superpixels < 2: raise ParameterError('superpixels', f"`superpixels` must be at least 2, got {superpixels}")
        return int(superpixels)
    if isinstance(superpixels, np.ndarray) and superpixels.ndim == 2: superpixels = [superpixels]
    if not isinstance(superpixels, (list, tuple)) or not superpixels:
        raise ParameterError('superpixels', "`superpixels` must be None (the grid), a whole number (about that many "
                                            "superpixels per image, by SLIC) or a list of integer label maps, one per "
                                            "image (height x width of the image as given); got "
                                            f"{type(superpixels).__name__}{' (empty)' if isinstance(superpixels, (list, tuple)) else ''}")
    for i, m in enumerate(superpixels):
        what = f"label map {i} of `superpixels`"
        if not isinstance(m, np.ndarray) or m.ndim != 2 or m.size == 0 or not np.issubdtype(m.dtype, np.integer):
            shown = f"a {m.dtype} array of shape {m.shape}" if isinstance(m, np.ndarray) else f"a {type(m).__name__}"
            raise ParameterError('superpixels', f"{what} is {shown}: give integer label maps (height x width, one "
                                                "label per pixel), as numpy arrays")
        if m.min() < 0: raise ParameterError('superpixels', f"{what} holds negative labels: give one label >= 0 per pixel")
    return [np.asarray(m) for m in superpixels]


def segment_maps(data, superpixels) -> list:
    "Per image, its label map: SLIC on the copy kept for drawing, or the user's (checked against the image's size)."
    if not isinstance(superpixels, list): return [slic(img, superpixels) for img in data.images]
    if len(superpixels) != data.n_rows:
        raise ParameterError('superpixels', f"`superpixels` holds {len(superpixels)} label map(s) for {data.n_rows} "
                                            "image(s): give one per image, in order")
    for i, (m, g) in enumerate(zip(superpixels, data.geometries)):
        if tuple(m.shape) != tuple(g.size):
            raise ParameterError('superpixels', f"label map {i} of `superpixels` is {m.shape[0]}x{m.shape[1]} but image "
                                                f"{i} is {g.size[0]}x{g.size[1]} pixels: give maps in the image's own pixels")
    return superpixels


def superpixel_regions(geometry: Geometry, segments: np.ndarray) -> Regions:
    """The superpixels the model sees (a label no pixel of the model's input falls on is no region), named by their
    label ('sp3'), each boxed by the pixels of it inside the visible part of the image."""
    cy, cx = geometry.pixel_centres()
    under = labels_under(segments, geometry.size, cy, cx)
    labels = np.unique(under)
    if len(labels) < 2:
        raise ParameterError('superpixels', f"the model sees only {len(labels)} superpixel of this image: at least 2 "
                                            "are needed (more superpixels, or a label map with more labels)")
    lookup = np.full(int(segments.max()) + 1, -1)
    lookup[labels] = np.arange(len(labels))
    own, inside = own_labels(segments, geometry.size, geometry.visible())
    boxes = []
    for k in labels:
        rows, cols = np.nonzero((own == k) & inside)
        if len(rows) == 0: rows, cols = np.nonzero(own == k)   # a sliver seen only at the crop's edge
        boxes.append((rows.min(), cols.min(), rows.max() + 1, cols.max() + 1))
    return Regions([f'sp{k}' for k in labels], np.array(boxes, dtype=int), torch.from_numpy(lookup[under]).long())
