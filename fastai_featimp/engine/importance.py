"""Importance over a labelled set by removing a unit in every item that holds it (dataset-level occlusion): the metric
over the whole set with the unit removed, against the metric of the items as given, with a paired bootstrap over the
items for the spread, for kinds whose items share their units (a grid's regions, a sequence's positions): the removal
is the kind's masker, the scoring `common/ablation.py`'s. Text's phrases (found over the set, not given per item)
build their own removals and score them with the same module; kinds whose units are columns of the model's inputs (a
table's) are permuted instead (`permutation.py`)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..common.ablation import Ablation, removal_importance, mean_delta_target
from ..common.progress import counting
from ..common.scoring import is_metric_list
from ..common.setup import method_setup
from ..core.params import Choice, Flag, Integer, ParameterError, Seed, checked
from ..core.results import importance_frame
from .protocol import Units

__all__ = ['removal_outputs', 'importance_of_units']


def _shared_units(items) -> list:
    "Each item's units, checked to be the same units in the same order (importance removes each from every item)."
    units = [items.units(i) for i in range(items.n_rows)]
    for i, u in enumerate(units[1:], 1):
        if u.names != units[0].names:
            raise ParameterError('data', f"item {i} has other units than item 0 ({u.names[:4]}... against "
                                         f"{units[0].names[:4]}...): importance over a set removes the same unit from "
                                         "every item, so every item needs the same units")
    return units


def removal_outputs(items, progress=None) -> tuple:
    """`(units, ablation, base, variants)`: the units the items share (item 0's), the raw outputs (n, n_out) of the items as given
    and (R * n, n_out) of each item with each unit removed alone, unit-major (unit 0 of every item first). A unit that
    cannot change an item (already what removal makes it) keeps the item's own output exactly."""
    units = _shared_units(items)
    n, R = items.n_rows, len(units[0])
    alone = ~torch.eye(R, dtype=torch.bool)   # each unit removed alone
    base = items.forward(progress)
    removed = items.values([alone] * n, lambda i, raw: raw, progress)
    per_item = []
    for i, raw in enumerate(removed):
        raw = torch.as_tensor(raw, dtype=base.dtype).reshape(R, -1)
        raw[~torch.as_tensor(units[i].changes())] = base[i]
        per_item.append(raw)
    variants = torch.stack(per_item, 1).reshape(R * n, -1)
    ab = Ablation(units[0].names, np.full(R, n), [None] * n, [], torch.arange(R).repeat_interleave(n),
                  torch.arange(n).repeat(R))
    return units[0], ab, base, variants


@dataclass
class _Unit:
    "A unit as importance_frame reports a variable."
    name: str
    kind: str

    @property
    def members(self) -> list: return [self.name]


@checked(n_bootstrap=Integer(0), seed=Seed(), bs=Integer(1, none=True), show_progress=Flag(),
         sort_by=Choice('Importance', 'MeanDelta'))
def importance_of_units(
    learn,                         # a fastai learner of a kind with an adapter
    test_dl=None,                  # a labelled test_dl (learn.dls.test_dl(df, with_labels=True)), or the labelled items
    *,
    df=None,                       # a labelled DataFrame, read as the kind reads one
    metric=None,                   # None (the loss), a name, a fastai metric, a callable, or a list of them
    n_bootstrap:int=200,           # bootstrap resamples of the items for Std, the interval and the p-value (0: none)
    sort_by:str='Importance',      # 'Importance' (change in the metric) or 'MeanDelta' (effect on the target's probability)
    seed:int|None=None,            # same seed, same bootstrap
    bs:int|None=None,              # masked items per forward pass
    label_col:str|None=None,       # the label column (default: the learner's)
    greater_is_better=None,        # direction of a custom metric
    show_progress:bool=True,       # a fastprogress bar over the items run with each unit removed
    _kind=None,                    # the learner's kind (set by its door)
    **options,                     # the kind's own arguments (its units, how a unit is removed)
):
    """Global importance of each unit: the drop in quality when it is removed from every item, as the kind removes a
    unit (dataset-level occlusion). The importance table (`Variable`, `Importance`, `Std`, `CI_low`, `CI_high`,
    `p_value`), where each unit is in the items, and `MeanDelta` (the mean change of the target's probability when the
    unit is there rather than removed: positive when it pushes towards the target)."""
    if test_dl is not None and df is not None:
        raise ParameterError('df', "pass the labelled data once: `df=` or `test_dl`")
    param, data = ('df', df) if df is not None else ('test_dl', test_dl)
    s = method_setup(learn, _kind, seed=seed)
    adapter = s.kind.adapter()
    if s.schema.multi_label:
        raise TypeError(f"importance scores single-label classifiers and regressions; explain a multi-label model's "
                        f"{adapter.items} with learn.explain, one label at a time (target=)")
    scorers = s.scorers(metric, greater_is_better)
    with s.computing():
        items = adapter.load(s, data, param=param, labelled=True, label_col=label_col, bs=bs,
                             show_progress=show_progress, **options)
        if items.target is None:
            raise ParameterError(param, f"importance needs the labels, and the {adapter.items} loaded from `{param}` "
                                        "hold none: pass labelled data")
        if items.n_rows < 2:
            raise ParameterError(param, f"`{param}` holds {items.n_rows} {adapter.item}: importance over a set needs "
                                        "at least 2")
        n, R = items.n_rows, len(items.units(0))
        with counting(learn, show_progress, n * (R + 1), f'{adapter.unit} importance') as progress:
            units, ab, base, variants = removal_outputs(items, progress.add)
    scored, mean_delta = removal_importance(s, scorers, base, variants, ab, items.target, n_bootstrap)
    columns, attrs = adapter.importance_columns(items)
    frames = {name: importance_frame(
                  [_Unit(v, adapter.unit) for v in units.names], r.replicates if n_bootstrap else r.full[:, None],
                  summary=r.summary, columns={**columns, 'MeanDelta': mean_delta}, sort_by=sort_by,
                  method=f'{adapter.unit} occlusion', baseline=r.baseline, metric=name, greater_is_better=gib,
                  n_bootstrap=n_bootstrap, seed=seed, n_rows=n, source=getattr(items, 'source', param),
                  kind=s.kind.name, target=mean_delta_target(s, adapter.item), n_forward=n * (R + 1), **attrs)
              for (name, r), gib in zip(scored.items(), (sc.greater_is_better for sc in scorers))}
    return frames if is_metric_list(metric) else frames[scorers[0].name]
