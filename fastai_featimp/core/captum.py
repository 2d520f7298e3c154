"""What captum's attribution methods need from a model, in one object (no captum import here): a forward function
on plain tensors, the inputs, the baselines, the feature mask that groups input positions into this package's
variables, the target, and the way back from captum's attributions to this package's explanation frame."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

__all__ = ['CaptumInputs', 'grouped_attributions', 'pixel_attributions']


@dataclass
class CaptumInputs:
    """`captum.attr.FeatureAblation(ci.forward_func).attribute(ci.inputs, baselines=ci.baselines,
    feature_mask=ci.feature_mask, target=ci.target)`, then `ci.to_frame(attributions)`. `layer` is the module
    whose output gradient methods interpolate (`LayerIntegratedGradients(ci.forward_func, ci.layer)`), and
    `embedding()` gives the same problem one level up, on float embeddings, for `IntegratedGradients`."""
    forward_func: Callable
    inputs: tuple
    baselines: tuple
    feature_mask: tuple
    target: object
    variables: list                         # the name of each feature-mask group, in group order (first_group, ...)
    frame: Callable                         # (per-variable attributions (rows x variables), forward) -> the frame
    layer: object = None
    embedding_fn: Callable | None = field(default=None, repr=False)
    summed: bool = False                    # the groups' positions carry parts of an attribution (embedding level)
    first_group: int = 1                    # the first variable's group: 0 where every position is a variable (a
                                            # table; captum wants the groups numbered 0..n-1), 1 where 0 is none (xxbos)
    per_pixel: bool = False                 # the feature mask is (N, 1, H, W), shared by an image's channels

    def embedding(self) -> 'CaptumInputs':
        "The same inputs as embeddings (float, differentiable), for captum's gradient methods."
        if self.embedding_fn is None:
            raise TypeError("this model has no embedding layer the package knows: gradient methods need one; use "
                            "FeatureAblation or ShapleyValueSampling on `inputs`")
        return self.embedding_fn()

    def to_frame(self, attributions, reduce: str = 'auto'):
        """captum's attributions (a tensor or a tuple like `inputs`) as this package's explanation frame, one value per
        variable: `reduce='first'` takes one position of each group (perturbation methods give every position of a
        group the group's value), 'sum' adds them up (gradient methods attribute each position), 'auto' decides."""
        if self.per_pixel: return self.frame(pixel_attributions(attributions, self.feature_mask[0], len(self.variables),
                                                                reduce))
        attributions = attributions if isinstance(attributions, (tuple, list)) else (attributions,)
        values = grouped_attributions(attributions, self.feature_mask, len(self.variables),
                                      'sum' if self.summed and reduce == 'auto' else reduce, first=self.first_group)
        return self.frame(values)


def grouped_attributions(attributions, feature_mask, n_groups: int, reduce: str = 'auto', first: int = 1) -> np.ndarray:
    """`(rows, n_groups)`: the attribution of each feature-mask group first..first+n_groups-1 (a group below `first`,
    positions that are no variable, is left out), summed over its positions, or one position's value where they are
    all equal."""
    if reduce not in ('auto', 'first', 'sum'): raise ValueError(f"reduce must be 'auto', 'first' or 'sum', got {reduce!r}")
    n = attributions[0].shape[0]
    sums, counts, lo, hi = np.zeros((n, n_groups)), np.zeros(n_groups), np.full((n, n_groups), np.inf), \
        np.full((n, n_groups), -np.inf)
    for attr, mask in zip(attributions, feature_mask):
        if mask.shape[-1] == 0: continue   # an input with no positions (a table without categorical columns)
        a = attr.detach().double().cpu().reshape(n, mask.shape[-1], -1).sum(-1).numpy()   # embedding dims summed
        groups = mask.reshape(-1).cpu().numpy()
        for pos, g in enumerate(groups - (first - 1)):   # the first variable's group as 1
            if g < 1: continue
            sums[:, g - 1] += a[:, pos]; counts[g - 1] += 1
            lo[:, g - 1], hi[:, g - 1] = np.minimum(lo[:, g - 1], a[:, pos]), np.maximum(hi[:, g - 1], a[:, pos])
    if reduce == 'sum': return sums
    first = sums / np.maximum(counts, 1)   # all positions equal: the mean is that value
    if reduce == 'first': return first
    equal = np.all(hi - lo <= 1e-9 * np.maximum(np.abs(hi), 1))
    return first if equal else sums


def pixel_attributions(attributions, mask: torch.Tensor, n_groups: int, reduce: str = 'auto') -> np.ndarray:
    """`(images, n_groups)` from attributions (N, C, H, W) and a feature mask (N or 1, 1, H, W) of regions 0..n-1:
    each region's pixels and channels added up, or (perturbation methods give every pixel of a region, in each
    channel, one value) one of them ('auto': when they are all equal)."""
    if reduce not in ('auto', 'first', 'sum'): raise ValueError(f"reduce must be 'auto', 'first' or 'sum', got {reduce!r}")
    a = (attributions[0] if isinstance(attributions, (tuple, list)) else attributions).detach().double().cpu()
    mask = mask.cpu()
    n = a.shape[0]
    sums, first, equal = np.zeros((n, n_groups)), np.zeros((n, n_groups)), True
    for i in range(n):
        groups = mask[i if mask.shape[0] > 1 else 0, 0].reshape(-1)
        per_pixel = a[i].reshape(a.shape[1], -1)                          # (C, H * W)
        sums[i] = torch.zeros(n_groups, dtype=torch.double).index_add_(0, groups, per_pixel.sum(0)).numpy()
        for r in range(n_groups):
            values = per_pixel[:, groups == r]
            if values.numel() == 0: continue   # a group this image does not have (fewer superpixels than another)
            first[i, r] = float(values[0, 0])
            equal = equal and bool(torch.allclose(values, values[0, 0], rtol=1e-9, atol=1e-12))
    return first if reduce == 'first' or reduce == 'auto' and equal else sums
