"""captum's attribution methods on a fastai image learner: the model (after the learner's own Normalize) as a forward
function of normalised images, the images as the model reads them, baselines that are the images with every region
removed (the package's `mask`, applied before Normalize and then normalised: not captum's zero, which after
Normalize means 'the mean image'), a feature mask of the regions, and captum's attributions back as this package's
explanation frame (regions with their boxes in the images' own pixels)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from ..common.setup import method_setup
from ..core.captum import CaptumInputs
from ..core.checks import plain
from ..core.params import Choice, checked
from ..core.state import eval_mode
from ..vision.data import load_images
from ..vision.gradcam import default_layer
from ..vision.kind import VISION
from ..vision.units import checked_grid, region_setup

__all__ = ['vision_captum_inputs', 'ImageCaptumInputs']


@dataclass
class ImageCaptumInputs(CaptumInputs):
    "CaptumInputs whose feature mask is (N, 1, H, W): `to_frame` adds up (or reads) each region's pixels and channels."
    def to_frame(self, attributions, reduce: str = 'auto'):
        if reduce not in ('auto', 'first', 'sum'): raise ValueError(f"reduce must be 'auto', 'first' or 'sum', got {reduce!r}")
        a = (attributions[0] if isinstance(attributions, (tuple, list)) else attributions).detach().double().cpu()
        mask = self.feature_mask[0].cpu()
        n, R = a.shape[0], len(self.variables)
        sums, first, equal = np.zeros((n, R)), np.zeros((n, R)), True
        for i in range(n):
            groups = mask[i if mask.shape[0] > 1 else 0, 0].reshape(-1)
            per_pixel = a[i].reshape(a.shape[1], -1)                          # (C, H * W)
            sums[i] = torch.zeros(R, dtype=torch.double).index_add_(0, groups, per_pixel.sum(0)).numpy()
            for r in range(R):   # perturbation methods give every pixel of a region, in each channel, one value
                values = per_pixel[:, groups == r]
                first[i, r] = float(values[0, 0])
                equal = equal and bool(torch.allclose(values, values[0, 0], rtol=1e-9, atol=1e-12))
        return self.frame(first if reduce == 'first' or reduce == 'auto' and equal else sums)


@checked(output=Choice('probability', 'raw'))
def vision_captum_inputs(
    learn,                       # a fastai learner over images
    images,                      # image paths, PIL images, uint8 arrays, a DataFrame with a path column, or a test_dl
    *,
    target=None,                 # class to attribute (default: a binary model's positive class, else each image's predicted class)
    output:str='probability',    # 'probability' (after the loss's activation) or 'raw'
    grid=4,                      # feature-mask groups: a rows x columns grid of regions, as learn.explain's
    mask='blur',                 # the baseline: every region removed this way ('blur', 'mean' or a colour), before Normalize
    path_col:str|None=None,      # the path column of a DataFrame
) -> CaptumInputs:
    """Everything captum needs to attribute this image learner's predictions: `forward_func(x)` on normalised images,
    `inputs` (N x C x H x W, as get_preds feeds the model), `baselines` (each image with every region removed, then
    normalised), `feature_mask` (N x 1 x H x W: region j is group j, as `explain`'s regions), `target` (one class per
    image), `layer` (the Grad-CAM default layer, for LayerGradCam) and `to_frame(attributions)`."""
    grid = checked_grid(grid)
    s = method_setup(learn, VISION, output=output, target=target)
    model = learn.model
    with s.computing():
        data = load_images(learn, s.schema, images, path_col=path_col, param='images')
        setups = region_setup(data, grid, mask)
        x = data.model_input(data.pixels)
        baselines = data.model_input(torch.stack([fill for _, fill, _ in setups]))
        regions = torch.stack([r.pixel_region for r, _, _ in setups])[:, None].to(x.device)
        layer = default_layer(model, x[:1])

    def forward_func(inputs):
        with eval_mode(model): return s.activation(model(inputs)).reshape(inputs.shape[0], -1)

    with torch.no_grad(): out = forward_func(x)
    ks = [s.target(target, int(o.argmax())) for o in out]

    def frame(values):
        with torch.no_grad(): full, base = forward_func(x), forward_func(baselines)
        records = [dict(row=i, Variable=name, Top=int(b[0]), Left=int(b[1]), Bottom=int(b[2]), Right=int(b[3]),
                        Contribution=float(values[i, j]), Std=float('nan'))
                   for i, (r, _, _) in enumerate(setups) for j, (name, b) in enumerate(zip(r.names, r.boxes))]
        expl = pd.DataFrame.from_records(records)
        expl.attrs.update(method='captum', kind=VISION.name, grid=grid, mask=mask if isinstance(mask, str) else list(mask),
                          base_values=[float(base[i, k]) for i, k in enumerate(ks)],
                          outputs=[float(full[i, k]) for i, k in enumerate(ks)], targets=[plain(s.labels[k]) for k in ks],
                          output=s.output_kind, images=data.images, sizes=[tuple(g.size) for g in data.geometries],
                          visible=[tuple(float(v) for v in g.visible()) for g in data.geometries],
                          row_index=plain(data.index))
        return expl

    return ImageCaptumInputs(forward_func, (x.detach(),), (baselines.detach(),), (regions,), ks,
                             list(setups[0][0].names), frame, layer=layer, first_group=0)
