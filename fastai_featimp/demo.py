"The fastai tabular tutorial's learner on UCI Adult, trained reproducibly: the demo, notebook and benchmark share it."
from __future__ import annotations

__all__ = ['train_adult_learner', 'adult_dls', 'adult_report', 'DEMO_FLAGGED']

# The demo's reliance audit: does the model rest on race? (a column a lender must not decide on)
DEMO_FLAGGED = ['race']


def adult_dls(train_df, bs:int=64, seed:int=42, valid_pct:float=0.2):
    "The tutorial's DataLoaders: its six categorical and three continuous columns, FillMissing, Normalize."
    from fastai.tabular.all import Categorify, FillMissing, Normalize, RandomSplitter, TabularDataLoaders
    from .datasets import ADULT_CAT_NAMES, ADULT_CONT_NAMES
    splits = RandomSplitter(valid_pct=valid_pct, seed=seed)(range(len(train_df)))
    return TabularDataLoaders.from_df(train_df, y_names='salary', cat_names=ADULT_CAT_NAMES,
                                      cont_names=ADULT_CONT_NAMES, procs=[Categorify, FillMissing, Normalize],
                                      valid_idx=list(splits[1]), bs=bs)


def train_adult_learner(train_df, epochs:int=3, seed:int=42, bs:int=64, show_progress:bool=False):
    "The tutorial's `tabular_learner(dls, metrics=accuracy)` after `fit_one_cycle(epochs)`."
    from fastai.tabular.all import accuracy, set_seed, tabular_learner
    set_seed(seed, reproducible=True)
    learn = tabular_learner(adult_dls(train_df, bs=bs, seed=seed), metrics=accuracy)
    if show_progress: learn.fit_one_cycle(epochs)
    else:
        with learn.no_bar(): learn.fit_one_cycle(epochs)
    return learn


def adult_report(learn, test_df, path, seed:int=42, show_progress:bool=False):
    "The demo's HTML report of the Adult learner on the test set, auditing its reliance on `DEMO_FLAGGED`."
    return learn.report(test_df, path, flagged=DEMO_FLAGGED, seed=seed, show_progress=show_progress)
