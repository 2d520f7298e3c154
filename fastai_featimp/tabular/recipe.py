"""Drop-column importance and recursive elimination: retrain the learner's own recipe without columns.

The learner keeps neither its raw data nor how it was built, so the recipe is read back from it: procs
(FillMissing settings included), columns, target, batch size, the architecture from `learn.model`, loss,
optimiser, weight decay, metrics, the length of the last fit and `learn.lr`. Each retraining runs in
`train_and_score`, a plain function of picklable arguments, so joblib can send it to local processes or a
cluster backend."""
from __future__ import annotations

import copy
import warnings
from collections import defaultdict
from dataclasses import dataclass

import pandas as pd
import torch
from fastai.data.block import CategoryBlock, MultiCategoryBlock, RegressionBlock
from fastai.layers import LinBnDrop
from fastai.tabular.core import Categorify, FillMissing, FillStrategy, Normalize
from fastai.tabular.model import TabularModel

from ..common.scoring import learner_scorers
from ..core.checks import check_int, check_number, warn
from ..core.forward import batched_forward, default_bs
from ..core.seeding import root_seed, stream
from ..core.state import eval_mode, preserved_state
from .data import load_tabular
from .schema import procs_of, tabular_schema

__all__ = ['Recipe', 'recipe_from_learner', 'build_learner', 'train_and_score', 'trained_and_scored',
           'validation_indices', 'score_learner', 'trained_lr']


@dataclass
class Recipe:
    "Everything needed to train the learner again, without its data."
    cat_names: list                # raw categorical columns (FillMissing adds the `_na` ones again)
    cont_names: list
    y_names: list
    y_kind: str                    # 'category', 'multi_label' or 'regression'
    fill_missing: dict | None      # FillMissing settings, or None when the learner had none
    categorify: bool
    normalize: bool
    bs: int
    layers: list
    out_sz: int
    model_config: dict             # ps, embed_p, y_range, use_bn, bn_final, bn_cont, act_cls, lin_first
    emb_szs: dict                  # categorical column (with `_na` ones) -> embedding size
    loss_func: object
    opt_func: object
    wd: object
    metrics: list
    epochs: int
    lr: float
    epochs_source: str = 'argument'    # where `epochs` came from
    lr_source: str = 'argument'        # where `lr` came from

    def summary(self) -> dict:
        "A readable, picklable description (for `attrs`)."
        return dict(layers=self.layers, emb_szs=self.emb_szs, epochs=self.epochs, epochs_source=self.epochs_source,
                    lr=self.lr, lr_source=self.lr_source, bs=self.bs,
                    loss=type(self.loss_func).__name__, opt=getattr(self.opt_func, '__name__', str(self.opt_func)),
                    wd=self.wd, **{k: v for k, v in self.model_config.items() if k != 'act_cls'})


def _architecture(model) -> dict:
    "Layer sizes, dropout, BatchNorm use, y_range, activation and embedding sizes of a fastai TabularModel."
    blocks = [m for m in getattr(model, 'layers', []) if isinstance(m, LinBnDrop)]
    if type(model) is not TabularModel or not blocks:
        # a subclass or a custom module may compute anything: rebuilding a plain TabularModel would retrain
        # another model and call the difference importance
        raise TypeError(f"drop-column importance rebuilds the learner from its recipe, which is possible for fastai's "
                        f"own TabularModel only; this learner's model is {type(model).__module__}."
                        f"{type(model).__name__}. Use permutation importance (learn.feature_importance), which "
                        "works for any model")
    def part(block, kind): return next((m for m in block if isinstance(m, kind)), None)
    linears = [part(b, torch.nn.Linear) for b in blocks]
    hidden = blocks[:-1]
    act = next((m for b in hidden for m in b if not isinstance(m, (torch.nn.Linear, torch.nn.BatchNorm1d,
                                                                   torch.nn.Dropout))), None)
    y_range = next(((m.low, m.high) for m in model.layers if type(m).__name__ == 'SigmoidRange'), None)
    config = dict(ps=[getattr(part(b, torch.nn.Dropout), 'p', 0.0) for b in hidden], embed_p=model.emb_drop.p,
                  y_range=y_range, use_bn=any(part(b, torch.nn.BatchNorm1d) is not None for b in hidden) or not hidden,
                  bn_final=part(blocks[-1], torch.nn.BatchNorm1d) is not None, bn_cont=model.bn_cont is not None,
                  act_cls=copy.deepcopy(act) if act is not None else torch.nn.ReLU(inplace=True),
                  lin_first=isinstance(blocks[0][0], torch.nn.Linear))
    return dict(layers=[l.out_features for l in linears[:-1]], out_sz=linears[-1].out_features, config=config)


def trained_lr(learn) -> tuple:
    """`(lr, source)`: the peak of the last fit's recorded per-batch learning rates (one-cycle's `lr_max`, a
    constant fit's lr), else `learn.lr` (a loaded learner keeps no record; fit_one_cycle(n, lr) leaves
    `learn.lr` at its default)."""
    lrs = list(getattr(getattr(learn, 'recorder', None), 'lrs', None) or [])
    # the schedule is sampled once per batch, so its peak falls just short of lr_max (0.0099977 for 1e-2):
    # three significant digits give back the value that was typed
    if lrs: return float(f'{max(lrs):.3g}'), "the peak of the last fit's learning-rate schedule (learn.recorder.lrs)"
    return float(learn.lr), "learn.lr (no learning rates recorded: pass lr= to match the training)"


def recipe_from_learner(learn, epochs=None, lr=None) -> Recipe:
    "Read the recipe back from a trained fastai tabular learner."
    if epochs is not None: epochs = check_int('epochs', epochs)
    if lr is not None: lr = check_number('lr', lr, positive=True)
    schema = tabular_schema(learn)
    arch = _architecture(learn.model)
    procs = procs_of(learn.dls.train_ds)
    fill = next((p for p in procs if isinstance(p, FillMissing)), None)
    fill_settings = None if fill is None else dict(
        fill_strategy=getattr(fill.fill_strategy, '__name__', fill.fill_strategy), add_col=fill.add_col,
        fill_vals=dict(fill.fill_vals))
    y_kind = 'category' if schema.y_vocab is not None else 'multi_label' if schema.multi_label else 'regression'
    epochs_source = 'argument' if epochs is not None else "the last fit's length (learn.n_epoch)"
    epochs = epochs if epochs is not None else getattr(learn, 'n_epoch', None)
    if not epochs: raise ValueError("this learner has not been fitted (no fit length to repeat): pass epochs=")
    lr, lr_source = (lr, 'argument') if lr is not None else trained_lr(learn)
    if lr_source.startswith('learn.lr'):
        warn(f"the learner keeps no record of the learning rate it was trained with (fastai's recorder forgets "
                      f"it when validate, get_preds or predict run, and a loaded learner has none): retraining with "
                      f"learn.lr={lr:g}, fastai's default unless you set it. Pass lr= as you trained "
                      "(learn.fit_one_cycle(epochs, lr))")
    return Recipe(
        cat_names=[c for c in schema.cat_names if c not in schema.na_parent], cont_names=list(schema.cont_names),
        y_names=list(schema.y_names), y_kind=y_kind, fill_missing=fill_settings,
        categorify=any(isinstance(p, Categorify) for p in procs), normalize=schema.normalize is not None,
        bs=learn.dls.bs, layers=arch['layers'], out_sz=arch['out_sz'], model_config=arch['config'],
        emb_szs={n: e.embedding_dim for n, e in zip(schema.cat_names, learn.model.embeds)},
        loss_func=copy.deepcopy(learn.loss_func), opt_func=learn.opt_func, wd=learn.wd,
        metrics=copy.deepcopy(list(learn.metrics)), epochs=int(epochs), lr=float(lr),
        epochs_source=epochs_source, lr_source=lr_source)


def validation_indices(learn, train_df: pd.DataFrame, seed) -> list:
    "The learner's own validation rows where they refer to `train_df`, else a seeded 20% split."
    try:
        valid = learn.dls.valid_ds.items.index
        n_total = len(learn.dls.train_ds) + len(valid)
    except AttributeError:
        valid, n_total = [], 0
    if len(valid) and n_total == len(train_df) and pd.Index(valid).isin(train_df.index).all():
        return list(train_df.index.get_indexer(valid))
    rng = stream(root_seed(seed), 'validation split')
    return sorted(rng.choice(len(train_df), int(round(0.2 * len(train_df))), replace=False).tolist())


def build_learner(recipe: Recipe, train_df, valid_idx, drop=(), seed=0):
    "A new learner from `recipe` on `train_df` without the columns in `drop` (their `_na` indicators go too)."
    from fastai.tabular.all import TabularDataLoaders, set_seed, tabular_config, tabular_learner
    drop = set(drop)
    cat = [c for c in recipe.cat_names if c not in drop]
    cont = [c for c in recipe.cont_names if c not in drop]
    procs = []
    if recipe.fill_missing is not None:
        s = recipe.fill_missing
        procs.append(FillMissing(fill_strategy=getattr(FillStrategy, s['fill_strategy']), add_col=s['add_col'],
                                 fill_vals=defaultdict(int, s['fill_vals'])))
    if recipe.categorify: procs.append(Categorify)
    if recipe.normalize: procs.append(Normalize)
    y_block = {'category': CategoryBlock(), 'regression': RegressionBlock(),
               'multi_label': MultiCategoryBlock(encoded=True, vocab=recipe.y_names)}[recipe.y_kind]
    set_seed(seed, reproducible=True)
    dls = TabularDataLoaders.from_df(train_df, y_names=recipe.y_names if len(recipe.y_names) > 1 else recipe.y_names[0],
                                     cat_names=cat, cont_names=cont, procs=procs, valid_idx=valid_idx, bs=recipe.bs,
                                     y_block=y_block)
    cfg = copy.deepcopy(recipe.model_config)
    y_range = cfg.pop('y_range')
    emb = {n: d for n, d in recipe.emb_szs.items() if n in dls.cat_names}
    return tabular_learner(dls, layers=list(recipe.layers), emb_szs=emb, config=tabular_config(**cfg), y_range=y_range,
                           n_out=recipe.out_sz, loss_func=copy.deepcopy(recipe.loss_func), opt_func=recipe.opt_func,
                           wd=recipe.wd, metrics=copy.deepcopy(recipe.metrics))


def score_learner(learn, test_df, metric=None, greater_is_better=None) -> float:
    "One metric (default: the loss) of `learn` over the whole labelled `test_df`, computed as importance is."
    schema = tabular_schema(learn)
    scorer, = learner_scorers(learn, schema, metric, greater_is_better)
    with eval_mode(learn.model):
        data = load_tabular(learn, schema, test_df, labelled=True, min_rows=2)
        return scorer(batched_forward(learn.model, data.inputs, default_bs(data.inputs[0].device)), data.target)


def trained_and_scored(recipe: Recipe, train_df, valid_idx, test_df, drop, seed, metric, greater_is_better) -> tuple:
    """`(learner, score on test_df)` after training `recipe` without `drop`, seeded.

    Every retraining runs on one torch thread: parallel workers do not fight over cores, and the float
    arithmetic (reductions split across threads) is the same whatever `n_jobs`, so results are identical.
    The thread count, the random states, cuDNN flags and warning filters are restored afterwards."""
    with preserved_state():
        torch.set_num_threads(1)
        warnings.simplefilter('ignore')
        learn = build_learner(recipe, train_df, valid_idx, drop, seed)
        with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(recipe.epochs, recipe.lr)
        return learn, score_learner(learn, test_df, metric, greater_is_better)


def train_and_score(*args) -> float:
    "The score alone (what a joblib worker sends back): see `trained_and_scored`."
    return trained_and_scored(*args)[1]
