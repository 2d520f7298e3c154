"""Grad-CAM (Selvaraju et al. 2017) on a fastai image model: the activations of one layer weighted by the spatial mean
of the explained output's gradient, summed over channels, rectified. The layer defaults to the last module whose
output is still an image (4-d, more than one pixel): the body of a vision_learner (resnet, timm), the last convolution
block of a plain CNN. Its hook is removed whatever happens, also on an error or Ctrl-C."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..core.params import ParameterError
from ..core.state import eval_mode

__all__ = ['default_layer', 'resolve_layer', 'grad_cam']


def default_layer(model, x: torch.Tensor):
    "The last module (in the order modules finish) whose output is (N, C, h, w) with h * w > 1, for input `x`."
    found, handles = [], []
    def record(module, inputs, output):
        if isinstance(output, torch.Tensor) and output.dim() == 4 and output.shape[-1] * output.shape[-2] > 1:
            found.append(module)
    try:
        for m in model.modules():
            if m is not model: handles.append(m.register_forward_hook(record))
        with torch.no_grad(), eval_mode(model): model(x)
    finally:
        for h in handles: h.remove()
    if not found:
        raise ParameterError('layer', "this model has no layer with a spatial output (N, C, h, w) for Grad-CAM: pass "
                                      "`layer=` (a module of learn.model), or use `method=`'occlusion' or 'shapley'")
    return found[-1]


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
    saved = {}
    def keep(module, inputs, output): saved['a'] = output
    handle = layer.register_forward_hook(keep)
    try:
        with torch.enable_grad(), eval_mode(model):
            x = x.detach().clone().requires_grad_(True)   # gradients reach the layer even in a frozen body
            y = explained(model(x))
            a = saved.get('a')
            if not isinstance(a, torch.Tensor) or a.dim() != 4:
                raise ParameterError('layer', f"`layer` ({type(layer).__name__}) gives "
                                              f"{tuple(a.shape) if isinstance(a, torch.Tensor) else type(a).__name__}, "
                                              "not an image-like (N, C, h, w) activation: choose a convolutional layer")
            grads, = torch.autograd.grad(y.sum(), a)
    finally:
        handle.remove()
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
