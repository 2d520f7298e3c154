"""Which regions a fastai image classifier relies on, over a labelled set of images: each region of the grid is removed
in every image, and the metric over the whole set is compared (dataset-level occlusion), with a paired bootstrap over
images for the spread (the same shared helpers as text's phrase importance)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..common.outputs import is_binary
from ..common.progress import counting
from ..common.scoring import is_metric_list
from ..common.setup import method_setup
from ..core.params import Choice, Flag, Integer, ParameterError, Seed, checked
from ..core.results import importance_frame
from ..core.stats import summarize_bootstrap
from ..common.ablation import Ablation, ablation_importance
from .data import load_images
from .kind import VISION
from .masking import default_bs, region_variants
from .units import checked_grid, region_setup

__all__ = ['region_importance']


@dataclass
class _Region:
    "A region as importance_frame reports a variable."
    name: str
    kind: str = 'region'

    @property
    def members(self) -> list: return [self.name]


@checked(n_bootstrap=Integer(0), seed=Seed(), bs=Integer(1, none=True), show_progress=Flag(),
         sort_by=Choice('Importance', 'MeanDelta'))
def region_importance(
    learn,                        # a fastai learner over images
    test_dl=None,                 # a labelled test_dl (learn.dls.test_dl(df, with_labels=True)), or a labelled DataFrame
    *,
    df=None,                      # labelled DataFrame with the image paths and labels (the learner's columns by default)
    grid=4,                       # regions: a rows x columns grid over the part of each image the model sees
    superpixels=None,             # refused: superpixels differ from image to image (a ranking needs the same regions)
    mask='blur',                  # what a removed region becomes, before Normalize: 'blur', 'mean' or a colour (0..255)
    metric=None,                  # None (the loss), a name, a fastai metric, a callable, or a list of them
    n_bootstrap:int=200,          # bootstrap resamples of the images for Std, the interval and the p-value (0: none)
    sort_by:str='Importance',     # 'Importance' (change in the metric) or 'MeanDelta' (effect on the target's probability)
    seed:int|None=None,           # same seed, same bootstrap
    bs:int|None=None,             # masked images per forward pass
    path_col:str|None=None,       # the path column of a DataFrame (default: the one the learner was built from)
    label_col:str|None=None,      # the label column (default: the one the learner was built from)
    greater_is_better=None,       # direction of a custom metric
    show_progress:bool=True,      # a fastprogress bar over the masked images
):
    """Global region importance: the drop in quality when one region of the grid is removed in every image. The
    importance table (`Variable`, `Importance`, `Std`, `CI_low`, `CI_high`, `p_value`) plus `Top`, `Left`, `Bottom`,
    `Right` (the region's box in the images' own pixels, when every image gives the same box; else in the model's input,
    as `attrs['coordinates']` says) and `MeanDelta` (mean change of the target's probability when the region is there
    rather than removed: positive when it pushes towards the target)."""
    if test_dl is not None and df is not None: raise ParameterError('df', "pass the images once: `df=` or `test_dl`")
    data_arg = df if df is not None else test_dl
    grid = checked_grid(grid)
    if superpixels is not None:
        raise ParameterError('superpixels', "region importance removes the same region from every image, and each "
                                            "image has superpixels of its own: rank the regions of a `grid=` here, and "
                                            "explain single images with learn.explain(images, superpixels=...)")
    s = method_setup(learn, VISION, seed=seed)
    schema = s.schema
    if schema.multi_label:
        raise TypeError("region importance scores single-label classifiers and regressions; explain a multi-label "
                        "model's images with learn.explain, one label at a time (target=)")
    scorers = s.scorers(metric, greater_is_better)
    model = learn.model
    with s.computing():
        data = load_images(learn, schema, data_arg, path_col=path_col, label_col=label_col, labelled=True,
                           param='df' if df is not None else 'test_dl', min_rows=2)
        n, R = data.n_rows, grid[0] * grid[1]
        setups = region_setup(data, grid, mask)
        bs = bs or default_bs(data.pixels)
        with counting(learn, show_progress, n * (R + 1), 'region importance') as progress:
            base, variants = region_variants(model, data, setups, bs, progress.add)
    names = setups[0][0].names
    ab = Ablation(names, np.full(R, n), [None] * n, [], torch.arange(R).repeat_interleave(n), torch.arange(n).repeat(R))
    target = data.target
    for sc in scorers: sc.check_responds(base, target)
    mean_delta = np.full(R, np.nan)
    if schema.y_vocab is not None:   # for the target: a binary model's positive class, else each image's true class
        classes = torch.full((n,), 1) if is_binary(schema) else target.long().view(-1)
        p_base = s.activation(base)[torch.arange(n), classes]
        p_var = s.activation(variants).reshape(R, n, -1)[:, torch.arange(n), classes]
        mean_delta = (p_base[None] - p_var).double().mean(1).numpy()
    boxes = np.stack([r.boxes for r, _, _ in setups])                     # (n, R, 4)
    same = bool((boxes == boxes[:1]).all())
    if not same:   # images of different sizes: the regions' boxes in the model's input instead
        H, W = data.pixels.shape[-2:]
        ys, xs = np.linspace(0, H, grid[0] + 1).round().astype(int), np.linspace(0, W, grid[1] + 1).round().astype(int)
        box = np.array([(ys[i], xs[j], ys[i + 1], xs[j + 1]) for i in range(grid[0]) for j in range(grid[1])])
    else: box = boxes[0]
    # what the ranking is drawn over: the images' mean, in the coordinates of the boxes
    shapes = {np.asarray(im).shape for im in data.images}
    if same and len(shapes) == 1:
        mean_image, size = np.mean([np.asarray(im, dtype=float) for im in data.images], 0), tuple(data.geometries[0].size)
    else:
        mean_image, size = data.pixels.mean(0).permute(1, 2, 0).cpu().numpy() * data.scale, tuple(data.pixels.shape[-2:])
    mean_image = np.clip(mean_image, 0, 255).astype(np.uint8)
    if max(mean_image.shape[:2]) > 64:   # a small copy: pandas copies attrs with the frame
        from PIL import Image
        scale = 64 / max(mean_image.shape[:2])
        small = Image.fromarray(mean_image).resize((max(1, round(mean_image.shape[1] * scale)),
                                                    max(1, round(mean_image.shape[0] * scale))))
        mean_image = np.asarray(small)
    rng = s.stream('bootstrap')
    resamples = [rng.integers(0, n, n) for _ in range(n_bootstrap)]
    frames = {}
    for sc in scorers:
        full, reps = ablation_importance(sc, learn.loss_func, base, variants, ab, target, resamples)
        frames[sc.name] = importance_frame(
            [_Region(v) for v in names], reps if n_bootstrap else full[:, None], summary=summarize_bootstrap(full, reps),
            columns=dict(Top=box[:, 0], Left=box[:, 1], Bottom=box[:, 2], Right=box[:, 3], MeanDelta=mean_delta),
            sort_by=sort_by, method='region occlusion', baseline=float(sc(base, target)), metric=sc.name,
            greater_is_better=sc.greater_is_better, n_bootstrap=n_bootstrap, seed=seed, n_rows=n, source=data.source,
            grid=grid, mask=mask if isinstance(mask, str) else list(mask), kind=VISION.name,
            coordinates='image' if same else 'model input (the images differ in size)',
            mean_image=mean_image, image_size=size,
            target=('positive class ' + str(schema.y_vocab[1])) if is_binary(schema) else "each image's true class",
            n_forward_images=n * (R + 1))
    return frames if is_metric_list(metric) else frames[scorers[0].name]
