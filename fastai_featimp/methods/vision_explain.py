"""Which regions of an image drove this prediction: attributions of a fastai image classifier's output to a grid of
regions of each image, by Shapley values (on a budget, exact on small grids), occlusion or Grad-CAM."""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from ..common.outputs import is_binary
from ..common.progress import counting
from ..common.setup import method_setup
from ..core.checks import plain
from ..core.params import Choice, Flag, Integer, Number, ParameterError, Seed, checked
from ..core.shapley_regression import budget_plan, budget_shapley_rows, check_budget
from ..vision.data import load_images
from ..vision.gradcam import default_layer, grad_cam, integrated_gradients, resolve_layer
from ..vision.kind import VISION
from ..vision.masking import default_bs, forward_pixels, masked_outputs
from ..vision.units import checked_grid, region_setup

__all__ = ['explain_images', 'VISION_METHODS']

VISION_METHODS = ('shapley', 'occlusion', 'gradcam', 'integrated_gradients')
COLUMNS = ['row', 'Variable', 'Top', 'Left', 'Bottom', 'Right', 'Contribution', 'Std']
# the default budget of method='shapley': 32 masked images per region, and never fewer than a 3x3 grid's 2^9 - 2
# coalitions (so grids up to 3x3 are exact)
EVALS_PER_REGION, EXACT_BUDGET = 32, 2 ** 9 - 2


@checked(method=Choice(*VISION_METHODS), max_evals=Integer(1, none=True), tolerance=Number(0, low_open=True, none=True),
         output=Choice('probability', 'raw'), seed=Seed(), bs=Integer(1, none=True), n_steps=Integer(1),
         show_progress=Flag())
def explain_images(
    learn,                          # a fastai learner over images (vision_learner, or Learner with ImageBlock dls)
    images,                         # image paths, PIL images, uint8 arrays, a DataFrame with a path column, or a test_dl
    *,
    method:str='shapley',           # 'shapley' (exact up to a 3x3 grid, else on a budget, with Std), 'occlusion' (each region removed alone), 'gradcam' or 'integrated_gradients' (from every region removed)
    grid=4,                         # regions: a rows x columns grid over the part of the image the model sees (4: 4x4)
    mask='blur',                    # what a removed region becomes, before Normalize: 'blur', 'mean' (the image's mean colour) or a colour (0..255 per channel)
    max_evals:int|None=None,        # method='shapley': masked images per image (default max(510, 32 per region)); exact where 2^regions fits
    tolerance:float|None=None,      # method='shapley': stop an image early once every value's standard error is below this
    target=None,                    # class to explain (default: a binary model's positive class, else the predicted class)
    output:str='probability',       # 'probability' (after the loss's activation) or 'raw' (logit)
    layer=None,                     # method='gradcam': the module (or its name in learn.model) whose activations are used; default the last one with a spatial output
    n_steps:int=50,                 # method='integrated_gradients': steps of the path from every region removed to the image
    seed:int|None=None,             # same seed, same coalitions
    bs:int|None=None,               # masked images per forward pass (default: about 16M values)
    path_col:str|None=None,         # the path column of a DataFrame (default: the one the learner was built from)
    show_progress:bool=True,        # a fastprogress bar over the masked images evaluated
):
    """Attributions of each image's output to its regions: a long DataFrame `row, Variable, Top, Left, Bottom, Right,
    Contribution, Std`, where `Variable` names a region of the grid ('r0c1': row 0, column 1) and Top/Left/Bottom/Right
    is its box in the pixels of the image as given (before any resize; bottom and right excluded). `attrs` hold
    `base_values` (the output with every region removed), `outputs` (the model's prediction, as get_preds makes it),
    `targets`, `method`, `grid`, `mask`, `images` (a copy of each image, for drawing), `sizes`. Shapley values add up:
    base + sum of contributions = output. A region that already equals the fill contributes exactly 0. Grad-CAM's
    contribution of a region is its share of the mean map (the map summed over its pixels, over all pixels)."""
    grid = checked_grid(grid)
    check_budget(method, max_evals, tolerance)
    if layer is not None and method != 'gradcam':
        raise ParameterError('layer', f"`layer` is for `method=`'gradcam', not {method!r}")
    s = method_setup(learn, VISION, output=output, seed=seed, target=target)
    model = learn.model
    layer = resolve_layer(model, layer)
    with s.computing():
        data = load_images(learn, s.schema, images, path_col=path_col, param='images')
        setups = region_setup(data, grid, mask)
        n, R = data.n_rows, grid[0] * grid[1]
        bs = bs or default_bs(data.pixels)
        raw = forward_pixels(model, data.model_input, data.pixels, bs)
        prob = s.activation(raw).reshape(n, -1)
        predicted = [int(p.argmax()) if len(s.labels) > 1 and not is_binary(s.schema) else None for p in prob]
        ks = [s.target(target, p) for p in predicted]
        outputs = [float(prob[i, k]) for i, k in enumerate(ks)]
        value = lambda i, keeps, progress=None: s.activation(masked_outputs(
            model, data.model_input, data.pixels[i], setups[i][1], setups[i][0].pixel_region, keeps, bs,
            progress)).reshape(len(keeps), -1)[:, ks[i]].double().numpy()
        budget = max_evals or max(EXACT_BUDGET, EVALS_PER_REGION * R)
        plans = [budget_plan(R, budget, s.stream('coalitions', i), (~setups[i][2]).numpy()) for i in range(n)] \
            if method == 'shapley' else None
        total = sum(len(p.masks) for p in plans) if plans else n * (R + 1) if method == 'occlusion' else \
            n * (n_steps + 1) if method == 'integrated_gradients' else n
        extra = {}
        with counting(learn, show_progress, total, 'explaining images') as progress:
            if method == 'shapley':
                evaluate = lambda masks: [value(i, torch.from_numpy(m), progress.add) if len(m) else np.zeros(0)
                                          for i, m in enumerate(masks)]
                solved = budget_shapley_rows(evaluate, plans, [s.stream('bootstrap', i) for i in range(n)], tolerance)
                phis, ses, bases = [r[0] for r in solved], [r[1] for r in solved], [r[2] for r in solved]
                # the whole image's value from the same batches as the coalitions (a region already the fill is the
                # same pixels either way): base + sum = output exactly, and within float32 noise of get_preds
                outputs = [float(r[3]) for r in solved]
                extra = dict(max_evals=budget, tolerance=tolerance, n_evals=[r[4] for r in solved],
                             exact=[bool(p.exact) for p in plans])
            elif method == 'occlusion':
                keeps = torch.ones(R + 1, R, dtype=torch.bool)
                keeps[0] = False                                     # every region removed: the base value
                keeps[torch.arange(1, R + 1), torch.arange(R)] = False
                phis, ses, bases = [], [], []
                for i in range(n):
                    v = value(i, keeps, progress.add)
                    phi = outputs[i] - v[1:]
                    phi[setups[i][2].numpy()] = 0.0                 # already the fill: removing it changes nothing
                    phis.append(phi); ses.append(np.full(R, np.nan)); bases.append(float(v[0]))
            elif method == 'integrated_gradients':
                phis, ses, bases, errors = [], [np.full(R, np.nan)] * n, [], []
                for i in range(n):
                    regions, fill, null = setups[i]
                    bases.append(float(value(i, torch.zeros(1, R, dtype=torch.bool))[0]))
                    explained = lambda out, k=ks[i]: s.activation(out).reshape(out.shape[0], -1)[:, k]
                    attr = integrated_gradients(model, data.model_input, data.pixels[i], fill, explained, n_steps, bs)
                    region = regions.pixel_region.reshape(-1).to(attr.device)
                    phi = torch.zeros(R, dtype=torch.double, device=attr.device).index_add_(
                        0, region, attr.sum(0).reshape(-1).double()).cpu().numpy()
                    phi[null.numpy()] = 0.0                          # x - baseline is 0 there: exactly 0
                    phis.append(phi); errors.append(float(phi.sum() - (outputs[i] - bases[i])))
                    progress.add(n_steps + 1)
                extra = dict(n_steps=n_steps, completeness_error=errors)
            else:
                phis, bases, cams, layer_used = _gradcam(model, layer, data, setups, s, ks, bs, progress)
                ses = [np.full(R, np.nan)] * n
                extra = dict(layer=layer_used, cams=cams)
    records = []
    for i in range(n):
        regions = setups[i][0]
        for j, name in enumerate(regions.names):
            t, l, b, r = (int(v) for v in regions.boxes[j])
            records.append(dict(row=i, Variable=name, Top=t, Left=l, Bottom=b, Right=r, Contribution=float(phis[i][j]),
                                Std=float(ses[i][j])))
    expl = pd.DataFrame.from_records(records, columns=COLUMNS)
    expl.attrs.update(method=method, kind=VISION.name, grid=grid, mask=plain(list(mask) if not isinstance(mask, str) else mask),
                      base_values=[float(b) for b in bases], outputs=outputs, targets=[plain(s.labels[k]) for k in ks],
                      output=s.output_kind, images=data.images, sizes=[tuple(g.size) for g in data.geometries],
                      visible=[tuple(float(v) for v in g.visible()) for g in data.geometries],
                      null=[[regions.names[j] for j in np.flatnonzero(null.numpy())] for regions, _, null in setups],
                      row_index=plain(data.index), seed=seed, **extra)
    return expl


def _gradcam(model, layer, data, setups, s, ks, bs, progress) -> tuple:
    "Grad-CAM per image: its regions' shares of the mean map, and the maps at the layer's resolution."
    n = data.n_rows
    H, W = data.pixels.shape[-2:]
    if layer is None: layer = default_layer(model, data.model_input(data.pixels[:1]))
    name = next((k for k, m in model.named_modules() if m is layer), type(layer).__name__)
    phis, cams = [], []
    for start in range(0, n, bs):
        rows = torch.arange(start, min(n, start + bs))
        k = torch.tensor([ks[int(i)] for i in rows])
        explained = lambda out: s.activation(out).reshape(len(rows), -1)[torch.arange(len(rows)), k.to(out.device)]
        cam = grad_cam(model, layer, data.model_input(data.pixels[rows]), explained)
        up = F.interpolate(cam[:, None], size=(H, W), mode='bilinear', align_corners=False)[:, 0].cpu().double()
        for j, i in enumerate(rows.tolist()):
            region = setups[i][0].pixel_region.reshape(-1)
            sums = torch.zeros(len(setups[i][0].names), dtype=torch.double).index_add_(0, region, up[j].reshape(-1))
            phis.append((sums / (H * W)).numpy())
            cams.append(cam[j].cpu().numpy())
        progress.add(len(rows))
    return phis, [float('nan')] * n, cams, name
