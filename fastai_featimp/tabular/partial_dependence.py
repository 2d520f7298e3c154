"""Partial dependence, ICE curves and accumulated local effects of a fastai tabular learner, computed on
the processed tensors and reported in the units of the raw data."""
from __future__ import annotations

import numpy as np
import torch


from ..common.parallel import check_jobs, parallel_map
from ..common.setup import method_setup
from ..core.association import level_distances
from ..core.checks import plain, warn
from ..core.forward import default_bs, fixed_forward
from ..core.params import Choice, Flag, Integer, ParameterError, Seed, checked
from ..core.results import PartialDependence
from ..core.stats import bootstrap_band, order_by_similarity
from .data import feature_arrays, load_tabular, training_codes
from .kind import TABULAR
from .variables import CAT, CONT

__all__ = ['PartialDependence', 'partial_dependence', 'accumulated_local_effects']

KINDS = ('average', 'individual', 'both')


NO_DF = ("no df given: the dependence is computed on the validation set; pass df= (e.g. the test set or a sample "
         "of the training set) to choose the rows")


def _data(learn, schema, df, subsample=None, rng=None) -> list:
    "Processed inputs of `df` (labels optional), or of the validation set with a warning."
    return load_tabular(learn, schema, df, fallback_warning=NO_DF, param='df', max_rows=subsample, rng=rng, dataloader_ok=False,
                        cap_name='subsample',
                        hint=' (a learner from load_learner has no validation set): pass `df=`').inputs


def _feature_grid(schema, name, inputs, df, grid_resolution, percentiles, seen=None) -> dict:
    "Grid of one feature: original-unit values, the processed values to set, and rug deciles."
    if name in schema.cont_names:
        j = schema.cont_names.index(name)
        mean, std = schema.norm_stats(name)
        raw = (df[name].dropna().to_numpy(float) if df is not None
               else inputs[CONT][:, j].double().cpu().numpy() * std + mean)
        if not len(raw): raise ParameterError('df', f"column {name!r} has no values in `df` (all missing): no grid to draw")
        lo, hi = percentiles
        grid = np.unique(np.quantile(raw, np.linspace(lo, hi, grid_resolution)))
        slots = [[((CONT, j), float((g - mean) / std))] for g in grid]
        na = f'{name}_na'
        if na in schema.na_parent:   # FillMissing's indicator: the grid rows are marked as present
            present = schema.levels(na).index(False)
            slots = [s + [((CAT, schema.cat_names.index(na)), present)] for s in slots]
        return dict(values=grid, slots=slots, categorical=False, deciles=np.quantile(raw, np.linspace(0.1, 0.9, 9)))
    if name in schema.cat_names and name not in schema.na_parent:
        j = schema.cat_names.index(name)
        levels = schema.levels(name)
        codes = range(1, len(levels))
        if (inputs[CAT][:, j] == 0).any(): codes = range(len(levels))   # '#na#' only where it occurs
        if seen is not None: codes = [c for c in codes if c in seen]    # and levels the model met in training
        return dict(values=[levels[c] for c in codes], slots=[[((CAT, j), c)] for c in codes], categorical=True)
    known = [c for c in schema.cat_names if c not in schema.na_parent] + schema.cont_names
    raise ParameterError('features', f"unknown column {name!r}; the learner's columns are {', '.join(map(repr, known))}")


def _features(features) -> list:
    feats = [features] if isinstance(features, str) else list(features)
    if not 1 <= len(feats) <= 2 or not all(isinstance(f, str) for f in feats):
        raise ParameterError('features', f"`features` must be one column name or a pair of names, got {features!r}")
    if len(feats) == 2 and feats[0] == feats[1]:
        raise ParameterError('features', f"a two-way dependence needs two columns, got {feats}")
    return feats


@checked(kind=Choice(*KINDS), grid_resolution=Integer(2), output=Choice('probability', 'raw'), centered=Flag(),
         subsample=Integer(2, none=True), seed=Seed(), bs=Integer(1, none=True), n_bootstrap=Integer(0),
         show_progress=Flag())
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
    seed:int|None=None,            # seed for the subsample and the bootstrap
    bs:int|None=None,              # rows per forward pass
    n_bootstrap:int=0,             # resamples of the rows for a 95% band around the average (0: none)
    n_jobs:int=1,                  # grid points run in parallel through joblib (-1: all cores; a joblib backend decides where)
    show_progress:bool=True,       # a fastprogress bar over grid values
) -> PartialDependence:
    """Partial dependence (and ICE curves) of the model's output on one or two columns, in original units; with
    `n_bootstrap`, a percentile band over resamples of the rows (no extra forward pass: the ICE curves are kept)."""
    feats = _features(features)
    check_jobs(n_jobs)
    if len(feats) == 2 and kind != 'average':
        raise ParameterError('kind', "ICE curves are for one column: use `kind=`'average' for a pair")
    lo, hi = _percentiles(percentiles)
    s = method_setup(learn, TABULAR, output=output, seed=seed)
    schema, k = s.schema, s.target(target)
    with s.computing():
        inputs = _data(learn, schema, df, subsample, s.stream('subsample'))
        seen = {f: training_codes(learn, f) for f in feats if f in schema.cat_names}
        grids = [_feature_grid(schema, f, inputs, df, grid_resolution, (lo, hi), seen.get(f)) for f in feats]
        for f, g in zip(feats, grids):
            if len(g['values']) < 2:
                warn(f"{f!r} takes a single value ({plain(g['values'][0])!r}) in these rows: its partial "
                              "dependence has one grid point and shows no dependence; pass rows where it varies")
        points = [a + b for a in grids[0]['slots'] for b in (grids[1]['slots'] if len(grids) == 2 else [[]])]
        bs = int(bs or default_bs(inputs[0].device))
        shared = dict(model=learn.model, inputs=inputs, activation=s.activation, k=k, bs=bs)
        curves = parallel_map(_curve_at, shared, points, n_jobs=n_jobs, learn=learn, show_progress=show_progress,
                              comment='partial dependence')
    ice = torch.stack(curves, 1).numpy()   # (n_rows, n_points)
    if centered: ice = ice - ice[:, :1]
    shape = (len(grids[0]['values']), len(grids[1]['values'])) if len(feats) == 2 else (-1,)
    lower, upper = bootstrap_band(lambda rows: ice[rows].mean(0).reshape(shape), len(ice), n_bootstrap,
                                  s.stream('bootstrap'))
    return PartialDependence(
        features=feats, grid_values=[g['values'] for g in grids], average=ice.mean(0).reshape(shape),
        individual=ice if kind != "average" else None, kind=kind, output=s.output_kind, target=plain(s.labels[k]),
        categorical=[g['categorical'] for g in grids],
        deciles={f: g['deciles'] for f, g in zip(feats, grids) if 'deciles' in g},
        lower=lower, upper=upper, n_bootstrap=n_bootstrap)


def _curve_at(shared: dict, fixed) -> torch.Tensor:
    "Every row's output with the grid point's columns set (`fixed`: `[((tensor, column), value)]`): one ICE column."
    out = shared['activation'](fixed_forward(shared['model'], shared['inputs'], dict(fixed), shared['bs']))
    return out.reshape(out.shape[0], -1)[:, shared['k']].double().cpu()


def _percentiles(percentiles) -> tuple:
    try: lo, hi = percentiles; ok = 0 <= lo < hi <= 1
    except (TypeError, ValueError): ok = False
    if not ok: raise ParameterError('percentiles', f"`percentiles` must be (low, high) with 0 <= low < high <= 1, got "
                                                   f"{percentiles!r}")
    return lo, hi


@checked(bins=Integer(2), output=Choice('probability', 'raw'), bs=Integer(1, none=True), n_bootstrap=Integer(0),
         seed=Seed())
def accumulated_local_effects(
    learn,                         # a fastai tabular Learner
    feature:str,                   # a column: continuous (quantile bins) or categorical (levels ordered by similarity)
    df=None,                       # raw DataFrame of rows (labels optional); None: the validation set
    *,
    bins:int=20,                   # quantile bins of a continuous column (fewer where values repeat)
    target=None,                   # class or target column (default: the positive class of a binary model)
    output:str='probability',      # 'probability' (after the loss's activation) or 'raw'
    bs:int|None=None,              # rows per forward pass
    n_bootstrap:int=0,             # resamples of the rows for a 95% band (0: none); no extra forward pass
    seed:int|None=None,            # seed for the bootstrap
) -> PartialDependence:
    """First-order ALE (Apley & Zhu 2020), centred to mean zero. A continuous column: within each quantile bin, the
    mean change of the output when the column moves from the bin's lower to its upper edge, accumulated. A
    categorical column: its levels ordered by how alike their rows are on the other columns, then the mean
    change between neighbouring levels (rows of either level moved to the other), accumulated."""
    feats = _features(feature)
    if len(feats) != 1: raise ParameterError('feature', "accumulated_local_effects takes one column")
    name = feats[0]
    s = method_setup(learn, TABULAR, output=output, seed=seed)
    schema, k, act = s.schema, s.target(target), s.activation
    target_label, rng = plain(s.labels[k]), s.stream('bootstrap')
    with s.computing():
        inputs = _data(learn, schema, df)
        grid = _feature_grid(schema, name, inputs, None, 2, (0, 1))   # validates the name; gives slots
        out_at = lambda sub, fixed: (act(fixed_forward(learn.model, sub, dict(fixed), int(bs or default_bs(sub[0].device))))
                                     .reshape(sub[0].shape[0], -1)[:, k].double().cpu().numpy())
        if grid['categorical']:
            return _categorical_ale(schema, name, inputs, out_at, n_bootstrap, rng, s.output_kind, target_label)
        j = schema.cont_names.index(name)
        mean, std = schema.norm_stats(name)
        raw = inputs[CONT][:, j].double().cpu().numpy() * std + mean   # decoded: float32 rounding shows
        if df is not None:   # the values as written, where there are any (rows are in df's order)
            written = df[name].to_numpy(float)
            raw = np.where(np.isnan(written), raw, written)
        edges = np.unique(np.quantile(raw, np.linspace(0, 1, bins + 1)))
        if len(edges) < 2: raise ParameterError('df', f"{name!r} takes a single value in these rows: no local effect to measure")
        which = np.clip(np.searchsorted(edges, raw, side='left') - 1, 0, len(edges) - 2)   # bin of each row
        extra = grid['slots'][0][1:]   # the `_na` indicator set to 'present', where there is one
        local = np.zeros(len(raw))     # each row's change across its bin
        for b in range(len(edges) - 1):
            rows = torch.from_numpy(np.nonzero(which == b)[0])
            if len(rows) == 0: continue
            sub = [x[rows.to(x.device)] for x in inputs]
            lo, hi = (out_at(sub, [((CONT, j), float((e - mean) / std))] + extra) for e in (edges[b], edges[b + 1]))
            local[rows.numpy()] = hi - lo
    curve = lambda rows: _accumulate(local[rows], which[rows], len(edges) - 1)
    lower, upper = bootstrap_band(curve, len(local), n_bootstrap, rng)
    return PartialDependence(features=[name], grid_values=[edges], average=curve(np.arange(len(local))), individual=None,
                             kind='ale', output=s.output_kind, target=target_label, categorical=[False],
                             deciles={name: np.quantile(raw, np.linspace(0.1, 0.9, 9))}, lower=lower, upper=upper,
                             n_bootstrap=n_bootstrap)


def _accumulate(local: np.ndarray, which: np.ndarray, n_bins: int) -> np.ndarray:
    "ALE at the bin edges: the bins' mean local changes accumulated, centred so the count-weighted mean is zero."
    counts = np.bincount(which, minlength=n_bins).astype(float)
    effects = np.bincount(which, weights=local, minlength=n_bins) / np.maximum(counts, 1)
    ale = np.concatenate([[0.0], np.cumsum(effects)])
    mids = (ale[:-1] + ale[1:]) / 2
    return ale - (mids * counts).sum() / counts.sum()


def _categorical_ale(schema, name, inputs, out_at, n_bootstrap, rng, output, target_label) -> PartialDependence:
    "ALE of a categorical column over the levels present, ordered by similarity on the other columns."
    j = schema.cat_names.index(name)
    codes = inputs[CAT][:, j].cpu().numpy()
    present = [int(c) for c in np.unique(codes)]
    if len(present) < 2: raise ParameterError('df', f"{name!r} takes a single level in these rows: no local effect to measure")
    cat, cont = feature_arrays(schema, *inputs)
    cat.pop(name, None)
    order = [present[i] for i in order_by_similarity(level_distances(codes, present, cat, cont))]
    n = len(codes)
    up, down = np.zeros(n), np.zeros(n)   # each row's change to the next / from the previous level
    position = {c: p for p, c in enumerate(order)}
    for p, c in enumerate(order):
        rows = np.nonzero(codes == c)[0]
        sub = [x[torch.from_numpy(rows).to(x.device)] for x in inputs]
        here = out_at(sub, [((CAT, j), c)])
        if p + 1 < len(order): up[rows] = out_at(sub, [((CAT, j), order[p + 1])]) - here
        if p > 0: down[rows] = here - out_at(sub, [((CAT, j), order[p - 1])])
    level = np.array([position[c] for c in codes])

    def curve(rows):
        lv, counts = level[rows], np.bincount(level[rows], minlength=len(order)).astype(float)
        # the jump from level p to p+1: rows of level p moved up, rows of level p+1 moved down
        jump = (np.bincount(lv, weights=up[rows], minlength=len(order))[:-1]
                + np.bincount(lv, weights=down[rows], minlength=len(order))[1:])
        pair = counts[:-1] + counts[1:]
        ale = np.concatenate([[0.0], np.cumsum(jump / np.maximum(pair, 1))])
        return ale - (ale * counts).sum() / counts.sum()

    lower, upper = bootstrap_band(curve, n, n_bootstrap, rng)
    labels = schema.levels(name)
    return PartialDependence(features=[name], grid_values=[[labels[c] for c in order]], average=curve(np.arange(n)),
                             individual=None, kind='ale', output=output, target=target_label, categorical=[True],
                             lower=lower, upper=upper, n_bootstrap=n_bootstrap)
