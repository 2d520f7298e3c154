"What a fastai tabular learner expects as input: its columns, FillMissing's `_na` pairs, label vocabulary, outputs."
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from fastai.data.transforms import Categorize, EncodedMultiCategorize, MultiCategorize
from fastai.learner import Learner
from fastai.losses import BCEWithLogitsLossFlat
from fastai.tabular.core import Categorify, FillMissing, Normalize, Tabular

from ..core.forward import model_device
from ..core.state import eval_mode

__all__ = ['TabularSchema', 'tabular_schema', 'check_tabular', 'is_tabular', 'procs_of', 'ATTRIBUTE_NAMES']

# Column names that fastai resolves as attributes of its DataLoaders/TabularPandas before looking at the
# data; a column with one of these names breaks fastai in places this package cannot reach.
ATTRIBUTE_NAMES = frozenset({'c', 'vocab', 'loss_func', 'n_inp', 'train', 'valid', 'device', 'bs', 'dataset',
                             'items', 'procs', 'cats', 'conts', 'classes', 'xs', 'ys', 'targ', 'n_subsets'})


def procs_of(to) -> list:
    "The procs of a TabularPandas, as a list."
    return list(getattr(to.procs, 'fs', to.procs))


@dataclass
class TabularSchema:
    "What the learner's data pipeline expects: columns, `_na` pairs, label vocabulary, output kind."
    cat_names: list
    cont_names: list
    y_names: list
    na_parent: dict               # '<col>_na' -> '<col>' for FillMissing's indicators
    fill_missing: object          # the FillMissing proc, or None
    normalize: object             # the Normalize proc, or None
    categorify: object            # the Categorify proc, or None
    y_vocab: list | None          # labels of a single-label classifier, else None
    multi_label: bool
    n_out: int
    feature_names: list = field(init=False)

    def __post_init__(self):
        # the raw columns a test DataFrame must hold (FillMissing makes the `_na` ones itself)
        self.feature_names = [n for n in self.cat_names if n not in self.na_parent] + list(self.cont_names)

    def norm_stats(self, name) -> tuple:
        "The learner's Normalize mean and std of a continuous column (identity without Normalize)."
        return (self.normalize.means[name], self.normalize.stds[name]) if self.normalize is not None else (0.0, 1.0)

    def levels(self, name) -> list:
        "The training vocabulary of a categorical column (`#na#` first)."
        return list(self.categorify.classes[name])


def is_tabular(learn) -> bool:
    return isinstance(learn, Learner) and isinstance(getattr(learn.dls, 'train_ds', None), Tabular)


def check_tabular(learn) -> None:
    "Raise a TypeError naming the type when `learn` is not a fastai learner on tabular data."
    if not isinstance(learn, Learner):
        raise TypeError(f"expected a fastai tabular Learner, got {type(learn).__module__}.{type(learn).__name__}")
    if not is_tabular(learn):
        train_ds = getattr(learn.dls, 'train_ds', None)
        raise TypeError(f"feature importance needs a tabular learner (tabular_learner or load_learner of one); "
                        f"this {type(learn).__name__} has {type(learn.dls).__name__} over "
                        f"{type(train_ds).__name__}, not fastai tabular data")


def _output_width(model, n_cat: int, n_cont: int) -> int:
    """The model's number of outputs, from one forward pass on one row (codes 0, values 0) in eval mode: the last
    Linear module registered need not be the output layer of a custom model."""
    device = model_device(model)
    row = (torch.zeros(1, n_cat, dtype=torch.long, device=device), torch.zeros(1, n_cont, device=device))
    try:
        with eval_mode(model), torch.inference_mode(): out = model(*row)
    except Exception:   # a model that cannot read fastai's (codes, values): the methods say so with their own words
        linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
        return linears[-1].out_features if linears else 1
    out = out[0] if isinstance(out, (tuple, list)) else out
    return int(out.reshape(1, -1).shape[1])


def tabular_schema(learn) -> TabularSchema:
    check_tabular(learn)
    to = learn.dls.train_ds
    procs = procs_of(to)
    cat_names, cont_names, y_names = list(to.cat_names), list(to.cont_names), list(to.y_names)
    first = lambda kind: next((p for p in procs if isinstance(p, kind)), None)
    na_parent = {f'{c}_na': c for c in cont_names if f'{c}_na' in cat_names}
    multi = [p for p in procs if isinstance(p, (MultiCategorize, EncodedMultiCategorize))]
    single = [p for p in procs if isinstance(p, Categorize) and not isinstance(p, (MultiCategorize, EncodedMultiCategorize))]
    y_vocab = list(single[0].vocab) if single and single[0].vocab is not None else None
    multi_label = bool(multi) or isinstance(learn.loss_func, BCEWithLogitsLossFlat)
    n_out = _output_width(learn.model, len(cat_names), len(cont_names))
    return TabularSchema(cat_names, cont_names, y_names, na_parent, first(FillMissing), first(Normalize),
                         first(Categorify), y_vocab, multi_label, n_out)
