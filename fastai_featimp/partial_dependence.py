"""Partial dependence, ICE curves and accumulated local effects of a fastai tabular learner, computed on
the processed tensors and reported in the units of the raw data."""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from fastai.learner import Learner
from fastai.tabular.core import Categorify
from fastcore.basics import patch
from fastcore.meta import delegates

from .checks import check_int
from .columns import CAT, CONT
from .engine import fixed_forward
from .outputs import output_activation, output_labels, target_index
from .permutation import default_bs
from .progress import progress_for
from .safety import eval_mode, preserved_global_rng
from .tabular_data import _gather, _procs, model_device, raw_inputs, tabular_schema

__all__ = ['PartialDependence', 'partial_dependence', 'accumulated_local_effects']

KINDS = ('average', 'individual', 'both')


@dataclass
class PartialDependence:
    "A dependence curve (or surface) in original units: PD, ICE or ALE."
    features: list
    grid_values: list            # one array per feature, original units (labels for categorical columns)
    average: np.ndarray          # (n_grid,) or (n_grid_1, n_grid_2)
    individual: np.ndarray | None  # (n_rows, n_grid) ICE curves, or None
    kind: str                    # 'average', 'individual', 'both' or 'ale'
    output: str
    target: object
    categorical: list = field(default_factory=list)   # per feature: True for a categorical column
    deciles: dict = field(default_factory=dict)        # continuous feature -> deciles of its values (the rug)

    def to_frame(self) -> pd.DataFrame:
        "Tidy table: one row per grid point (and per row for ICE), the value in a column named after the output."
        name = self.kind if self.kind == 'ale' else 'average'
        if len(self.features) == 2:
            g1, g2 = np.meshgrid(self.grid_values[0], self.grid_values[1], indexing='ij')
            return pd.DataFrame({self.features[0]: g1.ravel(), self.features[1]: g2.ravel(), name: self.average.ravel()})
        f = self.features[0]
        frame = pd.DataFrame({f: self.grid_values[0], name: self.average})
        if self.individual is not None:
            ice = pd.DataFrame(self.individual, columns=range(len(self.grid_values[0])))
            ice = ice.rename_axis('row').reset_index().melt(id_vars='row', var_name='grid_index', value_name='individual')
            ice[f] = np.asarray(self.grid_values[0], dtype=object)[ice['grid_index'].to_numpy(int)]
            frame = frame.merge(ice.drop(columns='grid_index'), on=f, how='left')
        return frame

    def plot(self, ax=None, **kwargs):
        from .dependence_plots import plot_partial_dependence
        return plot_partial_dependence(self, ax=ax, **kwargs)


def _categorify(learn):
    return next((p for p in _procs(learn.dls.train_ds) if isinstance(p, Categorify)), None)


def _target(learn, schema, target) -> tuple:
    "`(output index, label)`; a binary classifier defaults to its positive class."
    labels = output_labels(learn, schema)
    k = target_index(labels, target, 1 if schema.y_vocab is not None and len(labels) == 2 else None)
    return k, labels[k]


def _norm_stats(schema, name) -> tuple:
    "The learner's Normalize mean and std of a continuous column (identity without Normalize)."
    norm = schema.normalize
    return (norm.means[name], norm.stds[name]) if norm is not None else (0.0, 1.0)


def _data(learn, schema, df):
    "Processed inputs of `df` (labels optional), or of the validation set with a warning."
    if df is not None: return raw_inputs(learn, schema, df, 'df')
    warnings.warn("no df given: the dependence is computed on the validation set; pass df= (e.g. the test set or a "
                  "sample of the training set) to choose the rows", UserWarning, stacklevel=4)
    inputs, _ = _gather(learn.dls.valid)
    if inputs is None: raise ValueError("the validation set is empty (a learner from load_learner): pass df=")
    return [x.to(model_device(learn.model)) for x in inputs]


def _feature_grid(learn, schema, name, inputs, df, grid_resolution, percentiles) -> dict:
    "Grid of one feature: original-unit values, the processed values to set, and rug deciles."
    if name in schema.cont_names:
        j = schema.cont_names.index(name)
        mean, std = _norm_stats(schema, name)
        raw = (df[name].dropna().to_numpy(float) if df is not None
               else inputs[CONT][:, j].double().cpu().numpy() * std + mean)
        lo, hi = percentiles
        grid = np.unique(np.quantile(raw, np.linspace(lo, hi, grid_resolution)))
        slots = [[((CONT, j), float((g - mean) / std))] for g in grid]
        na = f'{name}_na'
        if na in schema.na_parent:   # FillMissing's indicator: the grid rows are marked as present
            present = list(_categorify(learn).classes[na]).index(False)
            slots = [s + [((CAT, schema.cat_names.index(na)), present)] for s in slots]
        return dict(values=grid, slots=slots, categorical=False, deciles=np.quantile(raw, np.linspace(0.1, 0.9, 9)))
    if name in schema.cat_names and name not in schema.na_parent:
        j = schema.cat_names.index(name)
        levels = list(_categorify(learn).classes[name])
        codes = range(1, len(levels))
        if (inputs[CAT][:, j] == 0).any(): codes = range(len(levels))   # '#na#' only where it occurs
        return dict(values=[levels[c] for c in codes], slots=[[((CAT, j), c)] for c in codes], categorical=True)
    known = [c for c in schema.cat_names if c not in schema.na_parent] + schema.cont_names
    raise ValueError(f"unknown column {name!r}; the learner's columns are {', '.join(map(repr, known))}")


def _features(features) -> list:
    feats = [features] if isinstance(features, str) else list(features)
    if not 1 <= len(feats) <= 2 or not all(isinstance(f, str) for f in feats):
        raise ValueError(f"features must be one column name or a pair of names, got {features!r}")
    if len(feats) == 2 and feats[0] == feats[1]: raise ValueError(f"a two-way dependence needs two columns, got {feats}")
    return feats


def partial_dependence(
    learn,                         # a fastai tabular Learner
    features,                      # a column name, or a pair of names for a two-way dependence
    df=None,                       # raw DataFrame of rows to average over (labels optional); None: validation set
    *,
    kind:str='average',            # 'average' (PD), 'individual' (ICE) or 'both'
    grid_resolution:int=20,        # at most this many grid values per continuous column
    percentiles:tuple=(0.05, 0.95),# the continuous grid spans these quantiles of the data
    target=None,                   # class or target column (default: the positive class of a binary model)
    output:str='probability',      # 'probability' (after the loss's activation) or 'raw'
    centered:bool=False,           # start every ICE curve (and so the PD) at 0
    subsample:int|None=None,       # use a seeded sample of this many rows
    seed:int|None=None,            # seed for the subsample
    bs:int|None=None,              # rows per forward pass
    show_progress:bool=True,       # a fastprogress bar over grid values
) -> PartialDependence:
    "Partial dependence (and ICE curves) of the model's output on one or two columns, in original units."
    feats = _features(features)
    if kind not in KINDS: raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if len(feats) == 2 and kind != 'average': raise ValueError("ICE curves are for one column: use kind='average' for a pair")
    grid_resolution = check_int('grid_resolution', grid_resolution, minimum=2)
    lo, hi = percentiles
    if not 0 <= lo < hi <= 1: raise ValueError(f"percentiles must satisfy 0 <= low < high <= 1, got {percentiles!r}")
    schema = tabular_schema(learn)
    act = output_activation(learn, output)
    k, target_label = _target(learn, schema, target)
    with preserved_global_rng(), eval_mode(learn.model):
        inputs = _data(learn, schema, df)
        if subsample is not None:
            n = inputs[0].shape[0]
            subsample = check_int('subsample', subsample)
            if subsample < n:
                idx = torch.from_numpy(np.sort(np.random.default_rng(seed).choice(n, int(subsample), replace=False)))
                inputs = [x[idx.to(x.device)] for x in inputs]
        grids = [_feature_grid(learn, schema, f, inputs, df, int(grid_resolution), (lo, hi)) for f in feats]
        points = [a + b for a in grids[0]['slots'] for b in (grids[1]['slots'] if len(grids) == 2 else [[]])]
        bs = int(bs or default_bs(inputs[0].device))
        curves = []
        for fixed in progress_for(learn, show_progress, 'partial dependence')(points):
            out = act(fixed_forward(learn.model, inputs, dict(fixed), bs))
            curves.append(out.reshape(out.shape[0], -1)[:, k].double().cpu())
    ice = torch.stack(curves, 1).numpy()   # (n_rows, n_points)
    if centered: ice = ice - ice[:, :1]
    average = ice.mean(0)
    if len(feats) == 2: average = average.reshape(len(grids[0]['values']), len(grids[1]['values']))
    return PartialDependence(
        features=feats, grid_values=[g['values'] for g in grids], average=average,
        individual=ice if kind != 'average' else None, kind=kind, output=output, target=target_label,
        categorical=[g['categorical'] for g in grids],
        deciles={f: g['deciles'] for f, g in zip(feats, grids) if 'deciles' in g})


def accumulated_local_effects(
    learn,                         # a fastai tabular Learner
    feature:str,                   # a continuous column
    df=None,                       # raw DataFrame of rows (labels optional); None: the validation set
    *,
    bins:int=20,                   # quantile bins of the column (fewer where values repeat)
    target=None,                   # class or target column (default: the positive class of a binary model)
    output:str='probability',      # 'probability' (after the loss's activation) or 'raw'
    bs:int|None=None,              # rows per forward pass
) -> PartialDependence:
    """First-order ALE (Apley & Zhu 2020): within each quantile bin, the mean change of the output when the
    column moves from the bin's lower to its upper edge, accumulated and centred to mean zero."""
    feats = _features(feature)
    if len(feats) != 1: raise ValueError("accumulated_local_effects takes one continuous column")
    name = feats[0]
    schema = tabular_schema(learn)
    if name in schema.cat_names:
        raise ValueError(f"{name!r} is categorical: ALE needs an ordered, continuous column; use "
                         "partial_dependence for categorical columns")
    bins = check_int('bins', bins)
    act = output_activation(learn, output)
    k, target_label = _target(learn, schema, target)
    with preserved_global_rng(), eval_mode(learn.model):
        inputs = _data(learn, schema, df)
        grid = _feature_grid(learn, schema, name, inputs, None, 2, (0, 1))   # validates the name; gives slots
        j = schema.cont_names.index(name)
        mean, std = _norm_stats(schema, name)
        raw = inputs[CONT][:, j].double().cpu().numpy() * std + mean   # decoded: float32 rounding shows
        if df is not None:   # the values as written, where there are any (rows are in df's order)
            written = df[name].to_numpy(float)
            raw = np.where(np.isnan(written), raw, written)
        edges = np.unique(np.quantile(raw, np.linspace(0, 1, int(bins) + 1)))
        if len(edges) < 2: raise ValueError(f"{name!r} takes a single value in these rows: no local effect to measure")
        which = np.clip(np.searchsorted(edges, raw, side='left') - 1, 0, len(edges) - 2)   # bin of each row
        extra = grid['slots'][0][1:]   # the `_na` indicator set to 'present', where there is one
        bs = int(bs or default_bs(inputs[0].device))
        effects, counts = np.zeros(len(edges) - 1), np.zeros(len(edges) - 1)
        for b in range(len(edges) - 1):
            rows = torch.from_numpy(np.nonzero(which == b)[0])
            if len(rows) == 0: continue
            sub = [x[rows.to(x.device)] for x in inputs]
            ends = [act(fixed_forward(learn.model, sub, dict([((CONT, j), float((e - mean) / std))] + extra), bs))
                    .reshape(len(rows), -1)[:, k].double() for e in (edges[b], edges[b + 1])]
            effects[b], counts[b] = float((ends[1] - ends[0]).mean()), len(rows)
    ale = np.concatenate([[0.0], np.cumsum(effects)])
    mids = (ale[:-1] + ale[1:]) / 2   # centre: the count-weighted mean over the bins is zero
    ale -= (mids * counts).sum() / counts.sum()
    return PartialDependence(features=[name], grid_values=[edges], average=ale, individual=None, kind='ale',
                             output=output, target=target_label, categorical=[False],
                             deciles={name: np.quantile(raw, np.linspace(0.1, 0.9, 9))})


@patch
@delegates(partial_dependence, but=['learn', 'features'])
def partial_dependence(self:Learner, features, df=None, **kwargs):
    "Partial dependence / ICE of the output on one or two columns (see `fastai_featimp.partial_dependence`)."
    return partial_dependence(self, features, df, **kwargs)   # @patch leaves the module's free function in place


@patch
@delegates(accumulated_local_effects, but=['learn', 'feature'])
def accumulated_local_effects(self:Learner, feature, df=None, **kwargs):
    "Accumulated local effects of a continuous column (see `fastai_featimp.accumulated_local_effects`)."
    return accumulated_local_effects(self, feature, df, **kwargs)


@patch
def plot_partial_dependence(self:Learner, features, df=None, *, ax=None, **kwargs):
    "Compute `partial_dependence` (kind='both' for one continuous column by default) and plot it; returns the Axes."
    if 'kind' not in kwargs: kwargs['kind'] = 'both' if isinstance(features, str) else 'average'
    return self.partial_dependence(features, df, **kwargs).plot(ax=ax)
