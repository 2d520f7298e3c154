"Permutation importance of a fastai tabular learner's input columns, on a labelled test set."
from __future__ import annotations

from ..common.progress import progress_for
from ..common.scoring import is_metric_list, learner_scorers
from ..core.association import associated_groups, association_of, conditional_strata
from ..core.checks import check_choice, check_int, check_threshold
from ..core.forward import default_bs
from ..core.permutation import permutation_scores
from ..core.results import importance_frame
from ..core.seeding import root_seed, stream
from ..core.state import eval_mode, preserved_state
from ..tabular.data import feature_arrays, load_tabular
from ..tabular.schema import tabular_schema
from ..tabular.variables import resolve_variables

__all__ = ['permutation_importance']

NO_TEST_SET = ("no test set given: importance is measured on the validation set, which guided training choices; a "
               "held-out labelled test set (test_dl=learn.dls.test_dl(test_df) or df=test_df) gives the unbiased estimate")


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
    max_rows:int|None=None,       # score a seeded sample of at most this many rows, drawn once
    greater_is_better=None,       # direction of a custom metric (bool, or a list aligned with `metric`)
    show_progress:bool=True,      # a fastprogress bar (never under `learn.no_bar()`)
):
    """Drop in quality when each column (or group) is permuted; a DataFrame, or a dict of them for a list of metrics.

    Categorical columns are permuted as integer codes before the embedding, continuous ones in their
    normalised form, each FillMissing `<col>_na` indicator together with `<col>`. Importance is positive
    when permuting hurts, whatever the metric's direction."""
    n_repeats = check_int('n_repeats', n_repeats)
    if bs is not None: bs = check_int('bs', bs)
    check_choice('strategy', strategy, ('marginal', 'conditional'))
    threshold = check_threshold(threshold)
    if isinstance(groups, str):
        if groups != 'auto': raise ValueError(f"groups must be a dict, 'auto' or None, got {groups!r}")
        groups, auto_groups = None, True
    if test_dl is not None and df is not None: raise ValueError("pass either test_dl or df, not both")
    schema = tabular_schema(learn)
    variables = resolve_variables(schema.cat_names, schema.cont_names, schema.na_parent, groups)   # check early
    scorers = learner_scorers(learn, schema, metric, greater_is_better)
    root = root_seed(seed)
    with preserved_state(), eval_mode(learn.model):
        data = load_tabular(learn, schema, df if test_dl is None else test_dl, labelled=True, warn=NO_TEST_SET,
                            max_rows=max_rows, rng=stream(root, 'subsample'), min_rows=2,
                            hint=': a learner from load_learner has no validation set: pass df= or test_dl=')
        extra = {}
        if auto_groups or strategy == 'conditional':   # both read the association on the scored rows
            cat, cont = feature_arrays(schema, *data.inputs)
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
            seed=root, bs=bs or default_bs(data.inputs[0].device), keys=[v.name for v in variables],
            progress=progress_for(learn, show_progress, 'permutation importance'), strata=strata)
    frames = {}
    for k, s in enumerate(scorers):
        drop = permuted[:, :, k] - baseline[k]
        if s.greater_is_better: drop = -drop
        frames[s.name] = importance_frame(
            variables, drop, method='permutation', baseline=float(baseline[k]), metric=s.name,
            greater_is_better=s.greater_is_better, n_repeats=n_repeats, seed=seed, n_rows=data.n_rows,
            source=data.source, strategy=strategy, **extra)
    return frames if is_metric_list(metric) else frames[scorers[0].name]
