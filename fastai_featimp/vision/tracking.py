"""What the training callback scores on an image learner: region importance (each region of a 4x4 grid removed in
every image) on held-out images and on a fixed sample of training images, through the same scoring as
`feature_importance`: epoch by epoch, when a model starts to read a marker in a corner."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from ..common.ablation import Ablation, ablation_importance
from ..core.params import ParameterError
from .masking import default_bs, forward_pixels, region_variants
from .units import region_setup

__all__ = ['VisionTracker', 'DEFAULT_ROWS', 'GRID']

DEFAULT_ROWS = 200   # images per split: each costs a forward pass per region at every evaluation
GRID = (4, 4)


@dataclass
class _Region:
    "A region as the callback reports a variable."
    name: str
    kind: str = 'region'


class VisionTracker:
    "The images, regions and scoring of the callback on an image learner (see `methods/importance_callback.py`)."
    def __init__(self, setup, df, *, max_rows, train_rows, n_repeats, candidates, scorer, resamples):
        from .data import load_images   # imports torchvision: on first use only
        if candidates is not None or n_repeats != 1:
            raise ParameterError('candidates' if candidates is not None else 'n_repeats',
                                 "an image learner's callback tracks the regions of a 4x4 grid, each removed the same "
                                 "way every time: leave `candidates` and `n_repeats` out")
        learn, schema = setup.learn, setup.schema
        if schema.multi_label:
            raise TypeError("the callback scores single-label image classifiers and regressions")
        if df is None:
            raise ParameterError('df', "pass `df=`, a labelled held-out DataFrame of image paths and labels")
        self.scorer, self.loss_func = scorer, learn.loss_func
        held = df if max_rows is None or len(df) <= max_rows else \
            df.iloc[np.sort(setup.stream('subsample').choice(len(df), max_rows, replace=False))]
        train_ds = learn.dls.train_ds
        n_train = min(len(train_ds), DEFAULT_ROWS if train_rows is None else train_rows)
        if n_train < 2: raise ParameterError('train_rows', "the callback needs at least 2 training images to sample")
        picked = np.sort(setup.stream('train rows').choice(len(train_ds), n_train, replace=False))
        items = train_ds.items.iloc[picked] if isinstance(train_ds.items, pd.DataFrame) else \
            [train_ds.items[i] for i in picked]
        train = learn.dls.test_dl(items, with_labels=True)
        self.splits = {}
        for name, data, param in (('valid', held, 'df'), ('train', train, 'train_rows')):
            loaded = load_images(learn, schema, data, labelled=True, param=param, min_rows=2)
            setups = region_setup(loaded, GRID, 'blur')
            self.splits[name] = (loaded, setups, resamples(loaded.n_rows, name))
        self.variables = [_Region(n) for n in self.splits['valid'][1][0][0].names]

    def overlaps(self, a: str, b: str) -> bool: return False   # regions of a grid never share pixels

    def outputs(self, model, split: str):
        "`(predictions, target)` of one split: the metric is checked on them before training starts."
        data, _, _ = self.splits[split]
        return forward_pixels(model, data.model_input, data.pixels, default_bs(data.pixels)), data.target

    def evaluate(self, model, split: str) -> tuple:
        "`(importance, std (none: removal is not random), bootstrap SE, baseline)` per region on one split."
        data, setups, resamples = self.splits[split]
        n, R = data.n_rows, len(self.variables)
        base, variants = region_variants(model, data, setups, default_bs(data.pixels))
        ab = Ablation([v.name for v in self.variables], np.full(R, n), [None] * n, [],
                      torch.arange(R).repeat_interleave(n), torch.arange(n).repeat(R))
        full, reps = ablation_importance(self.scorer, self.loss_func, base, variants, ab, data.target, resamples)
        return full, np.full(R, np.nan), reps.std(1, ddof=1), float(self.scorer(base, data.target))
