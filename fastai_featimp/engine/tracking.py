"""What the training callback scores, epoch by epoch, on held-out items and on a fixed sample of training items, through
the same estimator as the kind's `feature_importance`: each unit removed in every item (`UnitTracker`: images' regions,
a registered kind's units; when a model starts to read a marker in a corner) or permuted over the items
(`PermutationTracker`: a table's columns). Written once on the adapter; a kind with an estimator of its own (text's
phrases, found over the set) declares its own tracker."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..common.ablation import ablation_importance
from ..core.forward import batched_forward, default_bs
from ..core.params import ParameterError
from .importance import removal_outputs
from .permutation import column_drops

__all__ = ['UnitTracker', 'PermutationTracker', 'DEFAULT_ROWS', 'DEFAULT_PERMUTED_ROWS']

DEFAULT_ROWS = 200            # training items sampled: each costs a forward pass per unit at every evaluation
DEFAULT_PERMUTED_ROWS = 2000  # items per split when units are permuted (a forward pass of the split per unit and repeat)


@dataclass
class _Unit:
    "A unit as the callback reports a variable."
    name: str
    kind: str


class UnitTracker:
    "The items, units and scoring of the callback (see `methods/importance_callback.py`) for a kind's adapter."
    def __init__(self, setup, df, *, max_rows, train_rows, n_repeats, candidates, scorer, resamples):
        adapter = setup.kind.adapter()
        if candidates is not None or n_repeats != 1:
            raise ParameterError('candidates' if candidates is not None else 'n_repeats',
                                 f"a {setup.kind.name} learner's callback tracks its {adapter.unit}s, each removed "
                                 "the same way every time: leave `candidates` and `n_repeats` out")
        learn, schema = setup.learn, setup.schema
        if schema.multi_label:
            raise TypeError(f"the callback scores single-label {adapter.item} classifiers and regressions")
        if df is None:
            raise ParameterError('df', f"pass `df=`, labelled held-out {adapter.items} (as feature_importance takes them)")
        self.scorer, self.loss_func = scorer, learn.loss_func
        held = df.iloc[np.sort(setup.stream('subsample').choice(len(df), max_rows, replace=False))] \
            if isinstance(df, pd.DataFrame) and max_rows is not None and len(df) > max_rows else df
        # the data of each split is fixed for the run; its items are loaded again at every evaluation (items serve one
        # call and may keep their outputs: the model has changed since)
        self.adapter, self.splits = adapter, {}
        for name, data, param in (('valid', held, 'df'), ('train', self._training_sample(setup, train_rows), 'train_rows')):
            items = self._load(setup, data, param)
            self.splits[name] = (setup, data, param, resamples(items.n_rows, name))
        self.variables = [_Unit(n, adapter.unit) for n in items.units(0).names]

    def _load(self, setup, data, param):
        items = self.adapter.load(setup, data, param=param, labelled=True, show_progress=False)
        if items.target is None or items.n_rows < 2:
            raise ParameterError(param, f"the callback needs at least 2 labelled {self.adapter.items} in `{param}`")
        return items

    @staticmethod
    def _training_sample(setup, train_rows):
        "A fixed seeded sample of the training items, labelled, as the learner's own test_dl reads them."
        learn = setup.learn
        train_ds = learn.dls.train_ds
        n_train = min(len(train_ds), DEFAULT_ROWS if train_rows is None else train_rows)
        if n_train < 2: raise ParameterError('train_rows', "the callback needs at least 2 training items to sample")
        picked = np.sort(setup.stream('train rows').choice(len(train_ds), n_train, replace=False))
        items = getattr(train_ds, 'items', None)
        if items is None:
            raise ParameterError('train_rows', f"the training data ({type(train_ds).__name__}) has no `items` to sample "
                                               "training items from: the callback tracks a kind whose training set is "
                                               "fastai's (Datasets with `items`) and whose adapter reads a labelled "
                                               "learn.dls.test_dl(items, with_labels=True)")
        chosen = items.iloc[picked] if isinstance(items, pd.DataFrame) else [items[i] for i in picked]
        return learn.dls.test_dl(chosen, with_labels=True)

    def overlaps(self, a: str, b: str) -> bool: return False   # the units of an item never share its parts

    def outputs(self, model, split: str):
        "`(predictions, target)` of one split: the metric is checked on them before training starts."
        items = self._load(*self.splits[split][:3])
        return items.forward(), items.target

    def evaluate(self, model, split: str) -> tuple:
        "`(importance, std (none: removal is not random), bootstrap SE, baseline)` per unit on one split."
        setup, data, param, resamples = self.splits[split]
        items = self._load(setup, data, param)
        _, ab, base, variants = removal_outputs(items)
        full, reps = ablation_importance(self.scorer, self.loss_func, base, variants, ab, items.target, resamples)
        return full, np.full(len(full), np.nan), reps.std(1, ddof=1), float(self.scorer(base, items.target))


class PermutationTracker:
    "The items, units and scoring of the callback for a kind whose units are permuted (`Adapter.columns`)."
    def __init__(self, setup, df, *, max_rows, train_rows, n_repeats, candidates, scorer, resamples):
        adapter = setup.kind.adapter()
        if candidates is not None:
            joined = ' (use `groups=` to join some)' if setup.kind.variables is not None else ''   # a table's groups
            raise ParameterError('candidates', f"`candidates` are phrases to track, for a text learner; this is a "
                                               f"{setup.kind.name} learner, whose {adapter.unit}s are all tracked{joined}")
        self.scorer, self.n_repeats, self.root = scorer, n_repeats, setup.root
        held = adapter.columns(setup, df, param='df', max_rows=DEFAULT_PERMUTED_ROWS if max_rows is None else max_rows,
                               rng=setup.stream('subsample'), hint=': pass `df=`, a labelled held-out DataFrame')
        train = adapter.columns(setup, None, param='df', split='train', rng=setup.stream('train rows'),
                                max_rows=DEFAULT_PERMUTED_ROWS if train_rows is None else train_rows)
        self.variables = held.units
        self.splits = {name: (c, resamples(c.n_rows, name)) for name, c in (('valid', held), ('train', train))}

    def overlaps(self, a: str, b: str) -> bool: return False   # columns and groups never share members

    def outputs(self, model, split: str):
        "`(predictions, target)` of one split: the metric is checked on them before training starts."
        cols, _ = self.splits[split]
        return batched_forward(model, cols.inputs, default_bs(cols.inputs[0].device)), cols.target

    def evaluate(self, model, split: str) -> tuple:
        """`(importance, std over repeats, bootstrap SE, baseline)` per unit on one split: permutation drops of the
        whole split and of each bootstrap resample of its items (the same permuted predictions)."""
        cols, resamples = self.splits[split]
        s = self.scorer
        score = lambda preds, t: [s(preds, t)] + [s(preds[r], t[r]) for r in resamples]
        baseline, drop = column_drops(model, cols, score, [s.greater_is_better], self.n_repeats, self.root)
        per_repeat = drop[:, :, 0]                               # (units, repeats)
        std = per_repeat.std(1, ddof=1) if self.n_repeats > 1 else np.full(len(per_repeat), np.nan)
        return per_repeat.mean(1), std, drop[:, :, 1:].mean(1).std(1, ddof=1), float(baseline[0])
