"Permutation importance of a fastai tabular learner's input columns, on a labelled test set."
from __future__ import annotations

import numpy as np
import pandas as pd
from fastai.learner import Learner
from fastcore.basics import patch
from fastcore.meta import delegates

from .columns import resolve_variables
from .dependence import associated_groups, association_of, check_threshold, conditional_strata
from .engine import permutation_scores
from .progress import progress_for
from .safety import eval_mode, preserved_global_rng
from .checks import check_int
from .scoring import learner_scorers
from .stats import summarize_repeats
from .tabular_data import feature_arrays, load_test_set, model_device, tabular_schema

__all__ = ['permutation_importance', 'default_bs', 'importance_frame', 'score_learner']


def default_bs(device) -> int:
    "Rows per forward pass: the throughput plateau measured in benchmarks/bench_permutation.py."
    return 16384 if getattr(device, 'type', str(device)) == 'cuda' else 4096


def importance_frame(variables, per_repeat: np.ndarray, **attrs) -> pd.DataFrame:
    "The result table, most important first; `per_repeat` has shape `(n_variables, n_repeats)`."
    summary = summarize_repeats(per_repeat)
    fi = pd.DataFrame({'Variable': [v.name for v in variables], 'Type': [v.kind for v in variables], **summary,
                       'Members': [list(v.members) for v in variables]})
    fi = fi.sort_values('Importance', ascending=False, kind='stable').reset_index(drop=True)
    fi.attrs.update(attrs, importances={v.name: [float(x) for x in row] for v, row in zip(variables, per_repeat)})
    return fi


def permutation_importance(
    learn,                        # a fastai tabular Learner (from `tabular_learner` or `load_learner`)
    test_dl=None,                 # labelled DataLoader from `learn.dls.test_dl(df)`; None: `df`, else the validation set
    *,
    df=None,                      # labelled raw DataFrame, converted with the learner's own procs
    metric=None,                  # None (the loss), a name, a fastai metric, a callable `(preds, targs)`, or a list
    n_repeats:int=5,              # permutations of the whole set per column
    groups:dict|str|None=None,    # `{name: [columns]}` permuted jointly and reported as one row; 'auto': associated columns
    auto_groups:bool=False,       # add automatic groups of associated columns to the `groups` given
    threshold:float=0.7,          # association at which columns join an automatic group, in (0, 1]
    strategy:str='marginal',      # 'marginal', or 'conditional': permute within strata of the most associated columns
    seed:int|None=None,           # same seed, same result; the global random state is left untouched
    bs:int|None=None,             # rows per forward pass (default: a throughput-tuned size for the device)
    max_rows:int|None=None,       # score a seeded subsample of this many rows, drawn once
    greater_is_better=None,       # direction of a custom metric (bool, or a list aligned with `metric`)
    show_progress:bool=True,      # a fastprogress bar (never under `learn.no_bar()`)
):
    """Drop in quality when each column (or group) is permuted; a DataFrame, or a dict of them for a list of metrics.

    Categorical columns are permuted as integer codes before the embedding, continuous ones in their
    normalised form, each FillMissing `<col>_na` indicator together with `<col>`. Importance is positive
    when permuting hurts, whatever the metric's direction."""
    n_repeats = check_int('n_repeats', n_repeats)
    if bs is not None: bs = check_int('bs', bs)
    if strategy not in ('marginal', 'conditional'):
        raise ValueError(f"strategy must be 'marginal' or 'conditional', got {strategy!r}")
    threshold = check_threshold(threshold)
    if isinstance(groups, str):
        if groups != 'auto': raise ValueError(f"groups must be a dict, 'auto' or None, got {groups!r}")
        groups, auto_groups = None, True
    schema = tabular_schema(learn)
    variables = resolve_variables(schema.cat_names, schema.cont_names, schema.na_parent, groups)   # check early
    scorers = learner_scorers(learn, schema, metric, greater_is_better)
    subsample_rng, perm_seed = _seeds(seed)
    device = model_device(learn.model)
    bs = bs or default_bs(device)
    with preserved_global_rng(), eval_mode(learn.model):
        data = load_test_set(learn, schema, test_dl, df, max_rows, subsample_rng)
        extra = {}
        if auto_groups or strategy == 'conditional':   # both read the association on the scored rows
            cat, cont = feature_arrays(schema, *[x.cpu() for x in data.inputs])
            assoc = association_of(cat, cont)
            extra = dict(threshold=threshold) if auto_groups else {}
        if auto_groups:
            grouped = [m for v in variables if v.kind == 'group' for m in v.members]
            found = associated_groups(assoc, threshold, exclude=grouped)
            variables = resolve_variables(schema.cat_names, schema.cont_names, schema.na_parent,
                                          {**(groups or {}), **found})
        strata = None
        if strategy == 'conditional':
            strata, info = zip(*[conditional_strata(v.members, assoc, cat, cont) for v in variables])
            extra['conditional'] = {v.name: i for v, i in zip(variables, info)}
        score = lambda preds, targ: [s(preds, targ) for s in scorers]   # one forward pass serves every metric
        baseline, permuted = permutation_scores(
            learn.model, data.inputs, data.target, [v.group for v in variables], score, n_repeats,
            seed=perm_seed, bs=bs, progress=progress_for(learn, show_progress, 'permutation importance'),
            strata=strata)
    frames = {}
    for k, s in enumerate(scorers):
        drop = permuted[:, :, k] - baseline[k]
        if s.greater_is_better: drop = -drop
        frames[s.name] = importance_frame(
            variables, drop, method='permutation', baseline=float(baseline[k]), metric=s.name,
            greater_is_better=s.greater_is_better, n_repeats=n_repeats, seed=seed, n_rows=data.n_rows,
            source=data.source, strategy=strategy, **extra)
    return frames if isinstance(metric, (list, tuple)) else frames[scorers[0].name]


def score_learner(learn, test_df, metric=None, greater_is_better=None) -> float:
    "One metric (default: the loss) of `learn` over the whole labelled `test_df`, computed as importance does."
    from .engine import batched_forward
    schema = tabular_schema(learn)
    scorer, = learner_scorers(learn, schema, metric, greater_is_better)
    with preserved_global_rng(), eval_mode(learn.model):
        data = load_test_set(learn, schema, df=test_df)
        preds = batched_forward(learn.model, data.inputs, default_bs(data.inputs[0].device))
        return scorer(preds, data.target)


def _seeds(seed):
    "Independent streams for the subsample and the permutations, both from `seed`."
    if seed is not None: seed = check_int('seed', seed, minimum=0)
    sub, perm = np.random.SeedSequence(seed).spawn(2)
    return np.random.default_rng(sub), int(perm.generate_state(1)[0])


@patch
@delegates(permutation_importance, but=['learn'])
def feature_importance(self:Learner, test_dl=None, **kwargs):
    "Permutation importance of each input column on a labelled test set (see `permutation_importance`)."
    return permutation_importance(self, test_dl, **kwargs)
