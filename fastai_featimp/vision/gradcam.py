"""Grad-CAM (Selvaraju et al. 2017) on a fastai image model: the activations of one layer weighted by the spatial mean
of the explained output's gradient, summed over channels, rectified. A layer's output is a map when it is 4-d
(N, C, h, w) with more than one pixel and the input's aspect, or tokens (N, T, C) that fill a grid of the input's shape
after up to 8 leading ones (a vision transformer's blocks; the class token and registers dropped, as pytorch-grad-cam's
`reshape_transform` does). The layer defaults to the last module (not a linear layer) whose output is a map and
carries gradient: the body of a vision_learner (resnet, timm), the last convolution block of a plain CNN, and in a
vision transformer the last block's first norm, the last place that still mixes the tokens (its final blocks reach
the head only through the class token: their maps would be all zero). Hooks are
removed whatever happens, also on an error or Ctrl-C."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..core.params import ParameterError
from ..core.state import eval_mode

__all__ = ['as_map', 'default_layer', 'resolve_layer', 'grad_cam']


def as_map(output, size=None):
    """`output` as an (N, C, h, w) map when it is one (see the module's docstring), else None. With `size`, the (H, W)
    of the model's input, a map must keep its aspect: one stride for both sides (an attention block's (N, heads,
    tokens, dim) is 4-d but no map), and tokens after up to 8 leading ones (a class token, registers) must fill a
    grid of the input's shape."""
    if not isinstance(output, torch.Tensor): return None
    H, W = size if size is not None else (None, None)
    if output.dim() == 4:
        h, w = output.shape[-2:]
        if h * w <= 1: return None
        if size is not None and abs(H / h - W / w) > 0.15 * max(H / h, W / w): return None
        return output
    if output.dim() == 3:
        n, t, c = output.shape
        for skip in range(0, min(t - 4, 8) + 1):   # tokens alone, or after a class token (and registers)
            h = round(math.sqrt((t - skip) * (H / W if size is not None else 1.0)))
            if h > 1 and (t - skip) % h == 0 and (t - skip) // h > 1:
                w = (t - skip) // h
                if size is None and h != w: continue
                if size is not None and abs(H / h - W / w) > 0.15 * max(H / h, W / w): continue
                return output[:, skip:].reshape(n, h, w, c).permute(0, 3, 1, 2)
    return None


def default_layer(model, x: torch.Tensor):
    """The last module (in the order modules finish) whose output for input `x` is a map through which the output
    depends on the image: the gradient of the largest output there is not zero everywhere."""
    found, handles = [], []
    size = tuple(x.shape[-2:])
    def record(module, inputs, output):   # a linear layer's tokens mix features of other kinds (query, key, value)
        if not isinstance(module, torch.nn.Linear) and as_map(output, size) is not None: found.append((module, output))
    try:
        for m in model.modules():
            if m is not model: handles.append(m.register_forward_hook(record))
        with torch.enable_grad(), eval_mode(model):
            out = model(x.detach().clone().requires_grad_(True))
            if found:
                grads = torch.autograd.grad(out.reshape(len(out), -1).max(1).values.sum(), [o for _, o in found],
                                            allow_unused=True)
    finally:
        for h in handles: h.remove()
    for (module, _), g in reversed(list(zip(found, grads if found else []))):
        if g is not None and bool(as_map(g, size).abs().sum() > 0): return module
    raise ParameterError('layer', "this model has no layer with a spatial output (N, C, h, w), or tokens on a square "
                                  "grid, that the output depends on, for Grad-CAM: pass `layer=` (a module of "
                                  "learn.model), or use `method=`'occlusion' or 'shapley'")


def resolve_layer(model, layer):
    "`layer` as a module of `model`: a module, or its dotted name in `model.named_modules()`."
    if layer is None: return None
    if isinstance(layer, torch.nn.Module):
        if not any(m is layer for m in model.modules()):
            raise ParameterError('layer', f"`layer` ({type(layer).__name__}) is not a module of learn.model")
        return layer
    names = dict(model.named_modules())
    if isinstance(layer, str) and layer in names: return names[layer]
    raise ParameterError('layer', f"`layer` must be a module of learn.model or its name, one of "
                                  f"{', '.join(repr(n) for n in list(names)[1:8])}, ...; got {layer!r}")


def grad_cam(model, layer, x: torch.Tensor, explained) -> torch.Tensor:
    """(N, h, w) Grad-CAM maps at `layer`'s resolution for inputs `x` (already normalised), where `explained(out)` is
    the (N,) quantity explained (each image's target, after the output's activation or not)."""
    saved, size = {}, tuple(x.shape[-2:])
    def keep(module, inputs, output): saved['a'] = output
    handle = layer.register_forward_hook(keep)
    try:
        with torch.enable_grad(), eval_mode(model):
            x = x.detach().clone().requires_grad_(True)   # gradients reach the layer even in a frozen body
            y = explained(model(x))
            a = saved.get('a')
            if as_map(a, size) is None:
                raise ParameterError('layer', f"`layer` ({type(layer).__name__}) gives "
                                              f"{tuple(a.shape) if isinstance(a, torch.Tensor) else type(a).__name__}, "
                                              "not an image-like (N, C, h, w) activation nor tokens on a square grid "
                                              "(N, T, C): choose a convolutional layer or a transformer block")
            grads, = torch.autograd.grad(y.sum(), a)
    finally:
        handle.remove()
    a, grads = as_map(a, size), as_map(grads, size)
    weights = grads.mean((2, 3), keepdim=True)
    return F.relu((weights * a).sum(1)).detach()


def integrated_gradients(model, model_input, x: torch.Tensor, baseline: torch.Tensor, explained, n_steps: int,
                         bs: int) -> torch.Tensor:
    """(C, H, W) integrated gradients (Sundararajan et al. 2017) of `explained(out)` (per image) for `x` before
    Normalize, from `baseline` (the image with every region removed), by the midpoint rule on `n_steps` steps; the
    gradient goes through the learner's own Normalize (`model_input`)."""
    alphas = (torch.arange(n_steps, device=x.device, dtype=x.dtype) + 0.5) / n_steps
    total = torch.zeros_like(x)
    with torch.enable_grad(), eval_mode(model):
        for start in range(0, n_steps, bs):
            a = alphas[start:start + bs].view(-1, 1, 1, 1)
            path = (baseline[None] + a * (x - baseline)[None]).detach().requires_grad_(True)
            y = explained(model(model_input(path)))
            grads, = torch.autograd.grad(y.sum(), path)
            total += grads.sum(0)
    return ((x - baseline) * total / n_steps).detach()
