"""Drop-column importance ("how much worse is the best model I can train without this column?") and
recursive elimination, by retraining the learner's own recipe, in parallel through joblib."""
from __future__ import annotations


import numpy as np
import pandas as pd

from ..common.kinds import implementation
from ..common.parallel import check_jobs, parallel_map
from ..common.setup import method_setup
from ..core.checks import check_int, warn
from ..core.params import Choice, Flag, Integer, ParameterError, Seed, checked
from ..core.results import importance_frame
from ..core.seeding import int_seed
from ..core.state import preserved_state
from .kind import TABULAR
from .recipe import (recipe_from_learner, score_learner, train_and_score, trained_and_scored,
                              validation_indices)

__all__ = ['drop_column_importance', 'recursive_elimination']


def _check_frames(schema, recipe, train_df, test_df):
    for what, df in (('train_df', train_df), ('test_df', test_df)):
        if not isinstance(df, pd.DataFrame):
            raise ParameterError(what, f"`{what}` must be a pandas DataFrame, got {type(df).__name__}")
        missing = [c for c in recipe.cat_names + recipe.cont_names + recipe.y_names if c not in df.columns]
        if missing: raise ParameterError(what, f"`{what}` lacks column(s) {missing} that the learner was trained on")


def _valid_rows(valid_idx, learn, train_df, root) -> list:
    "The validation rows: checked positions in `train_df`, or the learner's own split, else a seeded 20%."
    if valid_idx is None: return validation_indices(learn, train_df, root)
    valid = [check_int('valid_idx', i, minimum=0) for i in valid_idx]
    out = [i for i in valid if i >= len(train_df)]
    if out: raise ParameterError('valid_idx', f"`valid_idx` holds position(s) {out[:5]} beyond train_df's {len(train_df)} rows "
                             "(valid_idx lists row positions 0..len(train_df)-1)")
    if not valid or len(set(valid)) >= len(train_df):
        raise ParameterError('valid_idx', f"`valid_idx` must leave rows to train on and hold at least one row; it has {len(set(valid))} "
                         f"of train_df's {len(train_df)} rows")
    return valid


def _reproduces(original: float, reference: float, greater_is_better: bool, recipe, metric_name: str) -> bool:
    "Warn, with both numbers and the fix, when the reference retraining is clearly worse than the original model."
    worse = (original - reference) if greater_is_better else (reference - original)
    if worse <= RELATIVE_TOLERANCE * abs(original): return True
    warn(f"the reference retraining scores {metric_name} {reference:.4g} on test_df, clearly worse than the "
                  f"original model's {original:.4g}: the recipe (epochs={recipe.epochs} from {recipe.epochs_source}; "
                  f"lr={recipe.lr:.3g} from {recipe.lr_source}) does not reproduce how the model was trained, so the "
                  "importances measure the retraining more than the columns. Pass epochs= and lr= as you trained it "
                  "(learn.fit_one_cycle(epochs, lr))")
    return False


# the reference retraining is "clearly worse" than the original model when its score is worse by more than this
# share of the original score
RELATIVE_TOLERANCE = 0.1


def _task_seeds(root, n_repeats) -> list:
    "One training seed per repeat, shared by every configuration so differences measure the column."
    return [int_seed(root, 'retraining', r) for r in range(n_repeats)]


def _retrain(shared: dict, task: tuple) -> float:
    "One retraining without the columns `task[0]`, seeded with `task[1]`, scored on the test set (any worker runs it)."
    drop, seed = task
    return train_and_score(shared['recipe'], shared['train_df'], shared['valid'], shared['test_df'], drop, seed,
                           shared['metric'], shared['greater_is_better'])


def _retrainings(recipe, train_df, valid, test_df, metric, greater_is_better, tasks, n_jobs, learn, show_progress, comment):
    "The scores of `(dropped columns, seed)` retrainings, through joblib: the frames travel once per worker."
    shared = dict(recipe=recipe, train_df=train_df, valid=valid, test_df=test_df, metric=metric,
                  greater_is_better=greater_is_better)
    return parallel_map(_retrain, shared, tasks, n_jobs=n_jobs, learn=learn, show_progress=show_progress, comment=comment)


@checked(n_repeats=Integer(1), seed=Seed(), show_progress=Flag())
def drop_column_importance(
    learn,                        # a trained fastai tabular Learner
    train_df,                     # the raw training frame (the learner does not keep it)
    test_df,                      # labelled raw frame to score every retrained model on
    *,
    valid_idx=None,               # validation rows of train_df (default: the learner's own split, else a seeded 20%)
    columns=None,                 # columns to drop one at a time (default: every input column)
    groups:dict|None=None,        # `{name: [columns]}` dropped together
    epochs:int|None=None,         # fit_one_cycle length (default: the learner's last fit length)
    lr:float|None=None,           # fit_one_cycle lr_max (default: the peak of the last fit's recorded lr schedule)
    n_repeats:int=1,              # seeds per configuration
    metric=None,                  # None (the loss), a name, a fastai metric or a callable
    greater_is_better=None,       # direction of a custom metric
    seed:int|None=None,           # seeds every retraining
    n_jobs:int=1,                 # parallel retrainings through joblib (-1: all cores; a joblib backend decides where)
    show_progress:bool=True,      # a progress bar over finished retrainings
):
    """Importance as the loss of quality when the learner's recipe is retrained without each column, against a
    retraining with all columns under the same recipe and seeds. Same DataFrame as `feature_importance`."""
    n_jobs = check_jobs(n_jobs)
    s = method_setup(learn, TABULAR, seed=seed, groups=groups)
    schema, variables, root = s.schema, s.variables, s.root
    recipe = recipe_from_learner(learn, epochs, lr)
    _check_frames(schema, recipe, train_df, test_df)
    scorer, = s.scorers(metric, greater_is_better)
    if columns is not None:
        columns = [columns] if isinstance(columns, str) else list(columns)
        unknown = [c for c in columns if c not in {v.name for v in variables}]
        if unknown: raise ParameterError('columns', f"column(s) {unknown} are not inputs of this learner (or are inside "
                                                    f"a group); the learner's inputs are {[v.name for v in variables]}")
        variables = [v for v in variables if v.name in set(columns)]
    valid = _valid_rows(valid_idx, learn, train_df, root)
    seeds = _task_seeds(root, n_repeats)
    configs = [()] + [tuple(v.members) for v in variables]   # the reference first, then one per variable
    tasks = [(drop, sd) for drop in configs for sd in seeds]
    with preserved_state():
        original = score_learner(learn, test_df, metric, greater_is_better)
        scores = np.array(_retrainings(recipe, train_df, valid, test_df, metric, greater_is_better, tasks, n_jobs, learn,
                                       show_progress, 'drop-column retrainings'), dtype=float)
    scores = scores.reshape(len(configs), len(seeds))
    reproduces = _reproduces(original, float(scores[0].mean()), scorer.greater_is_better, recipe, scorer.name)
    drop = scores[1:] - scores[:1]
    if scorer.greater_is_better: drop = -drop
    return importance_frame(variables, drop, method='drop-column', reference=float(scores[0].mean()),
                            reference_scores=scores[0].tolist(), original_score=original, reproduces=reproduces,
                            baseline=float(scores[0].mean()), metric=scorer.name,
                            greater_is_better=scorer.greater_is_better, n_repeats=n_repeats, seed=seed,
                            n_rows=len(test_df), epochs=recipe.epochs, epochs_source=recipe.epochs_source,
                            lr=recipe.lr, lr_source=recipe.lr_source, recipe=recipe.summary())


@checked(importance=Choice('permutation', 'drop-column'), step=Integer(1), n_repeats=Integer(1), score_repeats=Integer(1),
         min_features=Integer(1), seed=Seed(), show_progress=Flag())
def recursive_elimination(
    learn,                        # a trained fastai tabular Learner
    train_df,                     # the raw training frame
    test_df,                      # labelled raw frame to score on
    *,
    step:int=1,                   # columns dropped per round
    min_features:int=1,           # stop when this many columns remain
    importance:str='permutation', # how to rank the columns each round: 'permutation' or 'drop-column'
    valid_idx=None, epochs:int|None=None, lr:float|None=None, metric=None, greater_is_better=None,
    seed:int|None=None, n_jobs:int=1, n_repeats:int=3, score_repeats:int=1, show_progress:bool=True,
):
    """Retrain, score on `test_df`, drop the `step` least important columns, repeat. Returns one row per round
    (`n_features`, `features`, `score`, `score_se`, `dropped`); `attrs['best']` is the number of columns of the
    best round (ties: fewest columns). `score_repeats` retrains each round with that many seeds: `score` is their
    mean and `score_se` its standard error; `n_repeats` is for the permutation ranking."""
    n_jobs = check_jobs(n_jobs)
    s = method_setup(learn, TABULAR, seed=seed)
    schema, root = s.schema, s.root
    recipe = recipe_from_learner(learn, epochs, lr)
    _check_frames(schema, recipe, train_df, test_df)
    if min_features > len(recipe.cat_names + recipe.cont_names):
        raise ParameterError('min_features', f"`min_features` must be between 1 and the number of columns "
                                             f"({len(recipe.cat_names + recipe.cont_names)}), got {min_features!r}")
    scorer, = s.scorers(metric, greater_is_better)
    valid = _valid_rows(valid_idx, learn, train_df, root)
    kept = recipe.cat_names + recipe.cont_names
    rounds = []
    seeds = _task_seeds(root, score_repeats)
    with preserved_state():
        while True:
            dropped_so_far = [c for c in recipe.cat_names + recipe.cont_names if c not in kept]
            model, score = trained_and_scored(recipe, train_df, valid, test_df, dropped_so_far, seeds[0], metric,
                                              greater_is_better)   # this round's ranking uses the first seed's model
            scores = [score] + _retrainings(recipe, train_df, valid, test_df, metric, greater_is_better,
                                            [(tuple(dropped_so_far), sd) for sd in seeds[1:]], n_jobs, learn, False, '')
            se = float(np.std(scores, ddof=1) / np.sqrt(len(scores))) if len(scores) > 1 else float('nan')
            rounds.append(dict(n_features=len(kept), features=list(kept), score=float(np.mean(scores)), score_se=se))
            if len(kept) <= min_features: break
            # the ranking is the method's function, found through the registry: methods do not import each other
            if importance == 'permutation':
                fi = implementation(model, 'feature_importance')(
                    model, df=test_df, metric=metric, greater_is_better=greater_is_better, n_repeats=n_repeats,
                    seed=seed, show_progress=False)
            else:
                fi = drop_column_importance(model, train_df.drop(columns=dropped_so_far), test_df, valid_idx=valid,
                                            metric=metric, greater_is_better=greater_is_better, seed=root,
                                            n_jobs=n_jobs, show_progress=False, epochs=recipe.epochs, lr=recipe.lr)
            n_drop = min(step, len(kept) - min_features)
            weakest = list(fi.sort_values('Importance', kind='stable')['Variable'][:n_drop])
            rounds[-1]['dropped'] = weakest
            kept = [c for c in kept if c not in weakest]
    table = pd.DataFrame(rounds).reindex(columns=['n_features', 'features', 'score', 'score_se', 'dropped'])
    better = table['score'] if scorer.greater_is_better else -table['score']
    best = table.assign(b=better).sort_values(['b', 'n_features'], ascending=[False, True])['n_features'].iloc[0]
    table.attrs.update(best=int(best), metric=scorer.name, greater_is_better=scorer.greater_is_better,
                       importance=importance, score_repeats=score_repeats, recipe=recipe.summary())
    return table
