"""Permutation importance over a labelled set, for kinds whose units are columns of the model's input tensors (a
table's columns, a sequence's positions): each unit's values taken from other items (a masker that draws from the
data itself), the whole set run again and its metric compared, several permutations per unit. The kind gives its
`Columns` (`Adapter.columns`: which tensor columns hold each unit, and the strata a unit's values may move within);
the permutations, their parallel runs and the scoring are `core/permutation.py`'s."""
from __future__ import annotations

from ..common.kinds import kind_of
from ..common.parallel import check_jobs, parallel_map
from ..common.scoring import is_metric_list
from ..common.setup import method_setup
from ..core.forward import default_bs
from ..core.params import Flag, Integer, ParameterError, Seed, checked
from ..core.permutation import permutation_drops
from ..core.results import importance_frame

__all__ = ['permutation_of_units', 'column_drops', 'NO_TEST_SET']

NO_TEST_SET = ("no test set given: importance is measured on the validation set, which guided training choices; a "
               "held-out labelled test set (test_dl=learn.dls.test_dl(test_df) or df=test_df) gives the unbiased estimate")


def _check_units(cols, kind: str) -> None:
    "Every unit says what the engine reads of it (a kind's own `columns` may build them by hand)."
    for u in cols.units:
        missing = [a for a in ('name', 'group', 'kind', 'members') if not hasattr(u, a)]
        if missing:
            raise TypeError(f"the {kind} kind's Adapter.columns gave a unit without {', '.join(missing)}: give each "
                            "unit as fastai_featimp.ColumnUnit(name, group=ColumnGroup(((input, column),)))")


def column_drops(model, cols, score, greater_is_better, n_repeats: int, root: int, bs=None, **options) -> tuple:
    "`core.permutation.permutation_drops` of a kind's `Columns`: each unit on its own stream (its name), in its strata."
    return permutation_drops(model, cols.inputs, cols.target, [u.group for u in cols.units], score, greater_is_better,
                             n_repeats, seed=root, bs=bs or default_bs(cols.inputs[0].device),
                             keys=[u.name for u in cols.units], strata=cols.strata, **options)


@checked(n_repeats=Integer(1), seed=Seed(), bs=Integer(1, none=True), max_rows=Integer(2, none=True),
         show_progress=Flag())
def permutation_of_units(
    learn,                        # a fastai learner of a kind whose units are columns (`tabular_learner`, `load_learner`)
    test_dl=None,                 # labelled DataLoader from `learn.dls.test_dl(df)`; None: `df`, else the validation set
    *,
    df=None,                      # labelled raw DataFrame, read as the kind reads one (a table's: with the learner's procs)
    metric=None,                  # None (the loss), a name, a fastai metric, a callable `(preds, targs)`, or a list
    n_repeats:int=5,              # permutations of the whole set per column (per unit)
    seed:int|None=None,           # same seed, same result; the global random state is left untouched
    bs:int|None=None,             # rows (items) per forward pass (default: a throughput-tuned size for the device)
    max_rows:int|None=None,       # score a seeded sample of at most this many rows (items), drawn once
    greater_is_better=None,       # direction of a custom metric (bool, or a list aligned with `metric`)
    n_jobs:int=1,                 # columns (units) scored in parallel through joblib (-1: all cores; a joblib backend decides where)
    show_progress:bool=True,      # a fastprogress bar (never under `learn.no_bar()`)
    _kind=None,                   # the learner's kind (set by its door)
    **options,                    # the kind's own arguments (a table's groups and conditional strategy)
):
    """Drop in quality when each column (or group) is permuted over the rows; a DataFrame, or a dict of them for a list
    of metrics. Importance is positive when permuting hurts, whatever the metric's direction.

    A table's categorical columns are permuted as integer codes before the embedding, continuous ones in their
    normalised form, each FillMissing `<col>_na` indicator together with `<col>`; another kind's units as its
    `Adapter.columns` says."""
    if test_dl is not None and df is not None: raise ParameterError('df', "pass either `test_dl=` or `df=`, not both")
    check_jobs(n_jobs)
    kind = _kind or kind_of(learn)
    adapter = kind.adapter()
    s = method_setup(learn, kind, seed=seed, **adapter.setup_options(options))   # a table's groups: its units
    scorers = s.scorers(metric, greater_is_better)
    with s.computing():
        cols = adapter.columns(s, df if test_dl is None else test_dl, param='df' if test_dl is None else 'test_dl',
                               max_rows=max_rows, rng=s.stream('subsample'), fallback_warning=NO_TEST_SET,
                               hint=': a learner from load_learner has no validation set: pass `df=` or `test_dl=`',
                               **options)
        _check_units(cols, s.kind.name)
        score = lambda preds, targ: [sc(preds, targ) for sc in scorers]   # one forward pass serves every metric
        baseline, drops = column_drops(
            learn.model, cols, score, [sc.greater_is_better for sc in scorers], n_repeats, s.root, bs,
            run_pieces=lambda fn, shared, pieces: parallel_map(fn, shared, pieces, n_jobs=n_jobs, learn=learn,
                                                               show_progress=show_progress,
                                                               comment='permutation importance'),
            check=lambda preds, target: [sc.check_responds(preds, target) for sc in scorers])
    frames = {sc.name: importance_frame(
                  cols.units, drops[:, :, k], method='permutation', baseline=float(baseline[k]), metric=sc.name,
                  greater_is_better=sc.greater_is_better, n_repeats=n_repeats, seed=seed, n_rows=cols.n_rows,
                  source=cols.source, **cols.attrs, kind=s.kind.name)
              for k, sc in enumerate(scorers)}
    return frames if is_metric_list(metric) else frames[scorers[0].name]
