"""What the training callback scores on a tabular learner: permutation importance of its columns on held-out rows
and on a fixed sample of training rows, through the same permutation service as `feature_importance`."""
from __future__ import annotations

import numpy as np

from ..core.forward import batched_forward, default_bs
from ..core.params import ParameterError
from ..core.permutation import permutation_drops
from .data import load_tabular

__all__ = ['TabularTracker', 'DEFAULT_ROWS']

DEFAULT_ROWS = 2000   # rows per split scored at each evaluation


class TabularTracker:
    "The rows, variables and scoring of the callback on a tabular learner (see `methods/importance_callback.py`)."
    def __init__(self, setup, df, *, max_rows, train_rows, n_repeats, candidates, scorer, resamples):
        if candidates is not None:
            raise ParameterError('candidates', "`candidates` are phrases to track, for a text learner; this is a tabular "
                                               "learner, whose columns are all tracked (use `groups=` to join some)")
        learn, schema = setup.learn, setup.schema
        self.variables, self.scorer, self.n_repeats, self.root = setup.variables, scorer, n_repeats, setup.root
        held = load_tabular(learn, schema, df, labelled=True, max_rows=DEFAULT_ROWS if max_rows is None else max_rows,
                            rng=setup.stream('subsample'), min_rows=2, param='df',
                            hint=': pass `df=`, a labelled held-out DataFrame')
        train = load_tabular(learn, schema, None, labelled=True, split='train', min_rows=2, cap_name='train_rows',
                             max_rows=DEFAULT_ROWS if train_rows is None else train_rows, rng=setup.stream('train rows'))
        self.splits = {name: (d.inputs, d.target, resamples(d.n_rows, name)) for name, d in (('valid', held), ('train', train))}

    def overlaps(self, a: str, b: str) -> bool: return False   # columns and groups never share members

    def outputs(self, model, split: str):
        "`(predictions, target)` of one split: the metric is checked on them before training starts."
        inputs, target, _ = self.splits[split]
        return batched_forward(model, inputs, default_bs(inputs[0].device)), target

    def evaluate(self, model, split: str) -> tuple:
        """`(importance, std over repeats, bootstrap SE, baseline)` per variable on one split: permutation drops of the
        whole split and of each bootstrap resample of its rows (the same permuted predictions)."""
        inputs, target, resamples = self.splits[split]
        s = self.scorer
        score = lambda preds, t: [s(preds, t)] + [s(preds[r], t[r]) for r in resamples]
        baseline, drop = permutation_drops(model, inputs, target, [v.group for v in self.variables], score,
                                           [s.greater_is_better], self.n_repeats, seed=self.root,
                                           bs=default_bs(inputs[0].device), keys=[v.name for v in self.variables])
        per_repeat = drop[:, :, 0]                               # (variables, repeats)
        std = per_repeat.std(1, ddof=1) if self.n_repeats > 1 else np.full(len(per_repeat), np.nan)
        return per_repeat.mean(1), std, drop[:, :, 1:].mean(1).std(1, ddof=1), float(baseline[0])
