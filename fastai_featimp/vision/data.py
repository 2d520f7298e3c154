"""The one way user images become what the model reads: each image is read by the learner's own `create` (a file path,
a PIL image, a uint8 array, a DataFrame's path column, or a fastai `test_dl`), then goes through the learner's own
validation item transforms (Resize ...) and the batch transforms before `Normalize` (IntToFloatTensor), exactly as
`get_preds` runs them. Masking happens there, on the model's device; `VisionData.model_input` applies the rest
(Normalize) to masked copies."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from fastai.data.load import DataLoader
from fastai.torch_core import TensorImage, to_device
from PIL import Image

from ..core.checks import shown
from ..core.forward import model_device
from ..core.params import ParameterError
from .geometry import Geometry, check_item_tfms, geometry_of
from .schema import VisionSchema

__all__ = ['VisionData', 'load_images', 'THUMBNAIL']

THUMBNAIL = 256   # the longest side of the copy of each image kept for drawing (maps stay in the image's own pixels)


@dataclass
class VisionData:
    "Images as the model reads them before Normalize, with where each came from."
    pixels: torch.Tensor          # (N, C, H, W) float on the model's device: after the item transforms and IntToFloatTensor
    geometries: list              # per image, its Geometry (the image's own pixels <-> the model's input)
    images: list                  # per image, a uint8 copy (H x W x C, at most THUMBNAIL pixels a side) for drawing
    target: torch.Tensor | None
    n_rows: int
    source: str
    index: list
    post: list                    # the batch transforms from Normalize on
    split_idx: int | None
    scale: float                  # IntToFloatTensor's divisor: a colour in 0..255 is colour / scale in `pixels`

    def model_input(self, x: torch.Tensor) -> torch.Tensor:
        "The model's input from pixels before Normalize (masked copies): the learner's own remaining batch transforms."
        b = (TensorImage(x),)
        for f in self.post: b = f(b, split_idx=self.split_idx)
        return b[0].as_subclass(torch.Tensor)


def _label_col(schema: VisionSchema, label_col):
    return label_col if label_col is not None else (schema.y_names[0] if schema.y_names else None)


def _items(schema: VisionSchema, data, path_col, label_col, labelled: bool, param: str) -> tuple:
    "`(items to read, labels or None, index, source)` from what the user passed."
    if isinstance(data, DataLoader):
        ds = data.dataset
        tls = getattr(ds, 'tls', None)
        if tls is None: raise ParameterError(param, f"`{param}` is a DataLoader over {type(ds).__name__}; pass the "
                                                    "learner's own `learn.dls.test_dl(items)`")
        images = [tls[0][i] for i in range(len(ds))]
        labels = [tls[1][i] for i in range(len(ds))] if len(tls) > 1 else None
        if labelled and labels is None:
            raise ParameterError(param, f"`{param}` holds no labels: make it with `learn.dls.test_dl(df, with_labels="
                                        "True)`, or pass the labelled DataFrame as `df=`")
        return images, labels, list(range(len(images))), 'test_dl'
    if isinstance(data, pd.DataFrame):
        col = path_col if path_col is not None else schema.path_col
        if col is None or col not in data.columns:
            raise ParameterError('path_col', f"`{param}` has no column of image paths {col!r}; it has "
                                             f"{shown(data.columns, 10)}: pass `path_col=`")
        prefix = schema.path_prefix if col == schema.path_col else ''
        # relative paths are relative to the learner's folder, as its ColReader reads them; absolute ones stand
        items = [Path(p if Path(p).is_absolute() else f'{prefix}{p}') if isinstance(p, (str, Path)) else p
                 for p in data[col]]
        labels = None
        if labelled:
            lc = _label_col(schema, label_col)
            if lc is None or lc not in data.columns:
                raise ParameterError('label_col', f"`{param}` has no label column {lc!r}: importance needs the true "
                                                  f"labels; it has {shown(data.columns, 10)}")
            labels = list(data[lc])
        return items, labels, list(data.index), 'df'
    if labelled:
        raise ParameterError(param, f"`{param}` must be a DataFrame with the image paths and labels, or a labelled "
                                    "`learn.dls.test_dl(df, with_labels=True)`: importance needs the true labels")
    if path_col is not None:
        raise ParameterError('path_col', f"`path_col` names a column of a DataFrame, but `{param}` is a "
                                         f"{type(data).__name__}")
    if isinstance(data, (str, Path, Image.Image)) or (isinstance(data, np.ndarray) and data.dtype == np.uint8
                                                      and data.ndim in (2, 3) and data.shape[-1] <= 4 or
                                                      isinstance(data, np.ndarray) and data.ndim == 2):
        data = [data]
    if isinstance(data, pd.Series): return list(data), None, list(data.index), 'images'
    if isinstance(data, (list, tuple)) or isinstance(data, np.ndarray) and data.ndim == 4:
        return list(data), None, list(range(len(data))), 'images'
    raise ParameterError(param, f"`{param}` must be image file paths, PIL images, uint8 arrays (height x width x "
                                f"channels), a DataFrame with a column of paths, or a test_dl; got {type(data).__name__}")


def _read(schema: VisionSchema, item, i: int, param: str):
    "One image read by the learner's own `create`, as get_preds reads it; a clear error for anything else."
    what = f"image {i} of `{param}`"
    if isinstance(item, np.ndarray) and item.dtype != np.uint8:
        raise ParameterError(param, f"{what} is a {item.dtype} array: give images as uint8 arrays (0..255, height x "
                                    "width x channels), as PIL reads them")
    if isinstance(item, (str, Path)):
        if not Path(item).is_file(): raise ParameterError(param, f"{what}: no file {str(item)!r}")
    elif not isinstance(item, (Image.Image, np.ndarray)):
        raise ParameterError(param, f"{what} is a {type(item).__name__}: give file paths, PIL images or uint8 arrays")
    # fastai wraps a PIL image by changing its class in place (and loses a lazily opened file's data): give it a copy
    if isinstance(item, Image.Image): item = item.copy()
    try: img = schema.create(item)
    except Exception as e:
        raise ParameterError(param, f"{what} cannot be read as an image ({str(item)[:80]!r}): "
                                    f"{type(e).__name__}: {e}") from None
    if img.mode != schema.mode:   # a file is converted by fastai; a PIL image or an array is not
        raise ParameterError(param, f"{what} is a {img.mode!r} image but this model reads {schema.mode!r} images "
                                    f"({schema.channels} channel(s)); convert it first, e.g. img.convert({schema.mode!r})")
    return img


def _split(after_batch) -> tuple:
    "The batch transforms before and from the first Normalize (masking happens between them)."
    from fastai.vision.augment import Normalize   # here: it imports torchvision, which sets environment variables
    fs = list(after_batch.fs)
    at = next((i for i, f in enumerate(fs) if isinstance(f, Normalize)), len(fs))
    return fs[:at], fs[at:]


def _thumbnail(img) -> np.ndarray:
    small = img.copy()
    small.thumbnail((THUMBNAIL, THUMBNAIL))
    return np.asarray(small, dtype=np.uint8)


def _encode_labels(schema: VisionSchema, labels, param: str) -> torch.Tensor:
    if all(isinstance(l, torch.Tensor) for l in labels):   # from a test_dl: already encoded
        return torch.stack([l.as_subclass(torch.Tensor) for l in labels])
    if schema.y_vocab is None:
        values = pd.to_numeric(pd.Series(labels), errors='coerce').to_numpy(float)
        if not np.isfinite(values).all():
            raise ParameterError(param, "the label column holds values that are not finite numbers: drop those rows")
        return torch.tensor(values, dtype=torch.float32)
    unseen = sorted({str(l) for l in labels if l not in schema.y_vocab})
    if unseen: raise ParameterError(param, f"labels never seen in training: {shown(unseen)}; the learner knows "
                                           f"{shown(schema.y_vocab, 10)}")
    return torch.tensor([list(schema.y_vocab).index(l) for l in labels], dtype=torch.long)


def load_images(learn, schema: VisionSchema, data, *, path_col=None, label_col=None, labelled: bool = False,
                param: str = 'images', min_rows: int = 1) -> VisionData:
    "Read `data` (the argument `param`) and run it through the learner's item and pre-Normalize batch transforms."
    if data is None:
        raise ParameterError(param, f"`{param}` is required: image paths, PIL images, uint8 arrays, a DataFrame or a test_dl")
    items, labels, index, source = _items(schema, data, path_col, label_col, labelled, param)
    if len(items) < min_rows:
        raise ParameterError(param, f"`{param}` holds {len(items)} image(s); at least {min_rows} are needed")
    images = [_read(schema, item, i, param) for i, item in enumerate(items)]
    target = _encode_labels(schema, labels, param) if labelled else None
    device = model_device(learn.model)
    dl = learn.dls.test_dl(images, rm_type_tfms=None, bs=max(1, len(images)), num_workers=0, device=device)
    item_tfms = [f for f in dl.after_item.fs]
    check_item_tfms(item_tfms)
    pre, post = _split(dl.after_batch)
    # the validation transforms, as fastai runs them when it iterates the test_dl (its pipelines are shared with the
    # learner's validation DataLoader: each transform is called with the split, none is changed)
    split_idx = getattr(dl.dataset, 'split_idx', 1)
    done = []
    for i in range(len(images)):
        item = dl.create_item(i)
        for f in dl.after_item.fs: item = f(item, split_idx=split_idx)
        done.append(item)
    shapes = {tuple(d[0].shape) for d in done}
    if len(shapes) > 1:
        raise ParameterError(param, f"the learner's item transforms leave these images at different sizes "
                                    f"({shown(sorted(shapes))}): the learner has no Resize, so they cannot be batched")
    for f in dl.before_batch.fs: done = f(done, split_idx=split_idx)
    b = to_device(dl.create_batch(done), device)
    for f in pre: b = f(b, split_idx=split_idx)
    pixels = b[0].as_subclass(torch.Tensor).float()
    H, W = pixels.shape[-2:]
    geometries = [geometry_of(item_tfms, (img.size[1], img.size[0]), (H, W)) for img in images]
    scale = next((float(getattr(f, 'div', 255.0)) for f in pre if type(f).__name__ == 'IntToFloatTensor'), 255.0)
    return VisionData(pixels, geometries, [_thumbnail(img) for img in images], target, len(images), source, index,
                      post, split_idx, scale)
