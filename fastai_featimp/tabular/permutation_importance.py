"Permutation importance of a fastai tabular learner's input columns, on a labelled test set."
from __future__ import annotations

from ..common.parallel import check_jobs, parallel_map
from ..common.scoring import is_metric_list
from ..common.setup import method_setup
from ..core.association import associated_groups, association_of, conditional_strata
from ..core.forward import default_bs
from ..core.params import Choice, Flag, Integer, Number, ParameterError, Seed, checked
from ..core.permutation import permutation_drops
from ..core.results import importance_frame
from .data import feature_arrays, load_tabular
from .kind import TABULAR

__all__ = ['permutation_importance']

NO_TEST_SET = ("no test set given: importance is measured on the validation set, which guided training choices; a "
               "held-out labelled test set (test_dl=learn.dls.test_dl(test_df) or df=test_df) gives the unbiased estimate")


@checked(n_repeats=Integer(1), auto_groups=Flag(), threshold=Number(0, 1, low_open=True),
         strategy=Choice('marginal', 'conditional'), seed=Seed(), bs=Integer(1, none=True),
         max_rows=Integer(2, none=True), show_progress=Flag())
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
    n_jobs:int=1,                 # columns scored in parallel through joblib (-1: all cores; a joblib backend decides where)
    show_progress:bool=True,      # a fastprogress bar (never under `learn.no_bar()`)
):
    """Drop in quality when each column (or group) is permuted; a DataFrame, or a dict of them for a list of metrics.

    Categorical columns are permuted as integer codes before the embedding, continuous ones in their
    normalised form, each FillMissing `<col>_na` indicator together with `<col>`. Importance is positive
    when permuting hurts, whatever the metric's direction."""
    if isinstance(groups, str):
        if groups != 'auto': raise ParameterError('groups', f"`groups` must be a dict, 'auto' or None, got {groups!r}")
        groups, auto_groups = None, True
    if test_dl is not None and df is not None: raise ParameterError('df', "pass either `test_dl=` or `df=`, not both")
    check_jobs(n_jobs)
    s = method_setup(learn, TABULAR, seed=seed, groups=groups)
    schema, variables = s.schema, s.variables
    scorers = s.scorers(metric, greater_is_better)
    with s.computing():
        data = load_tabular(learn, schema, df if test_dl is None else test_dl, labelled=True, fallback_warning=NO_TEST_SET,
                            max_rows=max_rows, rng=s.stream('subsample'), min_rows=2,
                            param='df' if test_dl is None else 'test_dl',
                            hint=': a learner from load_learner has no validation set: pass `df=` or `test_dl=`')
        extra = {}
        if auto_groups or strategy == 'conditional':   # both read the association on the scored rows
            cat, cont = feature_arrays(schema, *data.inputs)
            assoc = association_of(cat, cont)
            extra = dict(threshold=threshold) if auto_groups else {}
        if auto_groups:
            grouped = [m for v in variables if v.kind == 'group' for m in v.members]
            found = associated_groups(assoc, threshold, exclude=grouped)
            variables = s.kind.variables(schema, {**(groups or {}), **found})
        strata = None
        if strategy == 'conditional':
            strata, info = zip(*[conditional_strata(v.members, assoc, cat, cont) for v in variables])
            extra['conditional'] = {v.name: i for v, i in zip(variables, info)}
        score = lambda preds, targ: [s(preds, targ) for s in scorers]   # one forward pass serves every metric
        baseline, drops = permutation_drops(
            learn.model, data.inputs, data.target, [v.group for v in variables], score,
            [sc.greater_is_better for sc in scorers], n_repeats, seed=s.root, bs=bs or default_bs(data.inputs[0].device),
            keys=[v.name for v in variables], strata=strata,
            run_pieces=lambda fn, shared, pieces: parallel_map(fn, shared, pieces, n_jobs=n_jobs, learn=learn,
                                                               show_progress=show_progress,
                                                               comment='permutation importance'), check=lambda preds, target: [sc.check_responds(preds, target) for sc in scorers])
    frames = {sc.name: importance_frame(
                  variables, drops[:, :, k], method='permutation', baseline=float(baseline[k]), metric=sc.name,
                  greater_is_better=sc.greater_is_better, n_repeats=n_repeats, seed=seed, n_rows=data.n_rows,
                  source=data.source, strategy=strategy, **extra)
              for k, sc in enumerate(scorers)}
    return frames if is_metric_list(metric) else frames[scorers[0].name]
