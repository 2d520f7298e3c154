"""Removing regions from an image: each removed pixel takes the value of a fill image (a blurred copy, the image's mean
colour, or a colour), before Normalize, so that 'removed' means what the user chose and not 'the mean image' (what a
zero baseline after Normalize means). Masked copies are built as tensors on the model's device, many per forward pass."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..core.params import ParameterError
from ..core.state import eval_mode

__all__ = ['MASKS', 'fill_image', 'null_regions', 'masked_outputs', 'forward_pixels', 'default_bs']

MASKS = ('blur', 'mean')


def _blurred(x: torch.Tensor) -> torch.Tensor:
    "A Gaussian blur of `x` (C, H, W) with sigma an eighth of the longer side: shapes gone, colours kept."
    sigma = max(x.shape[-2:]) / 8
    radius = max(1, min(int(math.ceil(3 * sigma)), min(x.shape[-2:]) - 1))
    t = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    k = torch.exp(-t ** 2 / (2 * sigma ** 2)); k = k / k.sum()
    c = x.shape[0]
    y = F.pad(x[None], (radius, radius, radius, radius), mode='reflect')
    y = F.conv2d(y, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(y, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)[0]


def fill_image(x: torch.Tensor, mask, scale: float) -> torch.Tensor:
    """What a removed pixel of `x` (C, H, W, before Normalize) becomes: 'blur', 'mean' (the image's mean colour), or a
    colour as 0..255 values (one per channel, or one for all), divided like the image by `scale` (IntToFloatTensor)."""
    if isinstance(mask, str):
        if mask == 'blur': return _blurred(x)
        if mask == 'mean': return x.mean((1, 2), keepdim=True).expand_as(x).clone()
        raise ParameterError('mask', f"`mask` must be 'blur', 'mean' or a colour (0..255 per channel), got {mask!r}")
    values = [mask] if isinstance(mask, (int, float)) and not isinstance(mask, bool) else mask
    try: values = [float(v) for v in values]
    except (TypeError, ValueError):
        raise ParameterError('mask', f"`mask` must be 'blur', 'mean' or a colour (0..255 per channel), got {mask!r}") from None
    if len(values) == 1: values = values * x.shape[0]
    if len(values) != x.shape[0] or not all(0 <= v <= 255 for v in values):
        raise ParameterError('mask', f"`mask` as a colour needs {x.shape[0]} value(s) in 0..255 (one per channel of this "
                                     f"model's images), got {mask!r}")
    return (torch.tensor(values, device=x.device, dtype=x.dtype) / scale).view(-1, 1, 1).expand_as(x).clone()


def null_regions(x: torch.Tensor, fill: torch.Tensor, pixel_region: torch.Tensor, n_regions: int) -> torch.Tensor:
    "(R,) bool: regions whose every pixel already equals the fill (removing them changes nothing: exactly 0)."
    differs = (x != fill).any(0).reshape(-1).long()
    counts = torch.zeros(n_regions, dtype=torch.long, device=x.device).index_add_(0, pixel_region.reshape(-1).to(x.device), differs)
    return (counts == 0).cpu()


def default_bs(x: torch.Tensor) -> int:
    """Masked copies per forward pass: about 1M values on the CPU (a 32-pixel RGB image: 341 copies, 128 pixels: 21),
    where larger batches of a convolutional net outgrow the caches and run slower (`benchmarks/bench_images.py`);
    64M on a GPU."""
    budget = 2 ** 26 if x.device.type == 'cuda' else 2 ** 20
    return max(1, min(4096, budget // max(1, x[0].numel())))


def forward_pixels(model, model_input, pixels: torch.Tensor, bs: int, progress=None) -> torch.Tensor:
    "Raw outputs (N, n_out) on the CPU of images given before Normalize (`model_input` applies the rest)."
    outs = []
    with torch.inference_mode(), eval_mode(model):
        for start in range(0, len(pixels), bs):
            chunk = pixels[start:start + bs]
            outs.append(model(model_input(chunk)).float().reshape(len(chunk), -1).cpu())
            if progress is not None: progress(len(chunk))
    return torch.cat(outs) if outs else torch.zeros(0)


def masked_outputs(model, model_input, x: torch.Tensor, fill: torch.Tensor, pixel_region: torch.Tensor,
                   keeps: torch.Tensor, bs: int, progress=None) -> torch.Tensor:
    """Raw outputs (K, n_out) of one image `x` (C, H, W) with, for each row of `keeps` (K, R; True = present), the
    absent regions replaced by `fill`: built on the model's device in chunks of `bs` masked copies."""
    region = pixel_region.to(x.device)
    keeps = keeps.to(x.device)
    outs = []
    with torch.inference_mode(), eval_mode(model):
        for start in range(0, len(keeps), bs):
            present = keeps[start:start + bs][:, region]                     # (k, H, W)
            copies = torch.where(present[:, None], x[None], fill[None])
            outs.append(model(model_input(copies)).float().reshape(len(copies), -1).cpu())
            if progress is not None: progress(len(copies))
    return torch.cat(outs) if outs else torch.zeros(0)
