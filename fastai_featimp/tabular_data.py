"""The fastai side of the package: what a tabular learner expects as input, checking a test set against
it, and gathering the processed tensors `(codes, continuous values, targets)` once for the engine."""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from fastai.data.transforms import Categorize, EncodedMultiCategorize, MultiCategorize
from fastai.learner import Learner
from fastai.losses import BCEWithLogitsLossFlat
from fastai.tabular.core import FillMissing, Normalize, Tabular

from .checks import check_int

__all__ = ['TabularSchema', 'TestSet', 'tabular_schema', 'load_test_set', 'model_device', 'ATTRIBUTE_NAMES']

# Column names that fastai resolves as attributes of its DataLoaders/TabularPandas before looking at the
# data; a column with one of these names breaks fastai in places this package cannot reach.
ATTRIBUTE_NAMES = frozenset({'c', 'vocab', 'loss_func', 'n_inp', 'train', 'valid', 'device', 'bs', 'dataset',
                             'items', 'procs', 'cats', 'conts', 'classes', 'xs', 'ys', 'targ', 'n_subsets'})


def _procs(to) -> list:
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
    y_vocab: list | None          # labels of a single-label classifier, else None
    multi_label: bool
    n_out: int
    feature_names: list = field(init=False)

    def __post_init__(self):
        # the raw columns a test DataFrame must hold (FillMissing makes the `_na` ones itself)
        self.feature_names = [n for n in self.cat_names if n not in self.na_parent] + list(self.cont_names)


def check_tabular(learn) -> None:
    "Raise a TypeError naming the type when `learn` is not a fastai learner on tabular data."
    if not isinstance(learn, Learner):
        raise TypeError(f"expected a fastai tabular Learner, got {type(learn).__module__}.{type(learn).__name__}")
    train_ds = getattr(learn.dls, 'train_ds', None)
    if not isinstance(train_ds, Tabular):
        raise TypeError(f"feature importance needs a tabular learner (tabular_learner or load_learner of one); "
                        f"this {type(learn).__name__} has {type(learn.dls).__name__} over "
                        f"{type(train_ds).__name__}, not fastai tabular data")


def model_device(model) -> torch.device:
    p = next(iter(model.parameters()), None)
    return p.device if p is not None else torch.device('cpu')


def tabular_schema(learn) -> TabularSchema:
    check_tabular(learn)
    to = learn.dls.train_ds
    procs = _procs(to)
    cat_names, cont_names, y_names = list(to.cat_names), list(to.cont_names), list(to.y_names)
    fill = next((p for p in procs if isinstance(p, FillMissing)), None)
    norm = next((p for p in procs if isinstance(p, Normalize)), None)
    na_parent = {f'{c}_na': c for c in cont_names if f'{c}_na' in cat_names}
    multi = [p for p in procs if isinstance(p, (MultiCategorize, EncodedMultiCategorize))]
    single = [p for p in procs if isinstance(p, Categorize) and not isinstance(p, (MultiCategorize, EncodedMultiCategorize))]
    y_vocab = list(single[0].vocab) if single and single[0].vocab is not None else None
    multi_label = bool(multi) or isinstance(learn.loss_func, BCEWithLogitsLossFlat)
    last = [m for m in learn.model.modules() if isinstance(m, torch.nn.Linear)]
    n_out = last[-1].out_features if last else (len(y_vocab) if y_vocab else len(y_names))
    return TabularSchema(cat_names, cont_names, y_names, na_parent, fill, norm, y_vocab, multi_label, n_out)


def _examples(values, k=5) -> str:
    values = list(values)
    shown = ', '.join(repr(v) for v in values[:k])
    return shown + (f' and {len(values) - k} more' if len(values) > k else '')


def _check_rows(n: int, what: str) -> None:
    if n == 0: raise ValueError(f"the {what} is empty: permutation importance needs labelled rows "
                                "(a learner from load_learner has no validation set: pass df= or test_dl=)")
    if n == 1: raise ValueError(f"the {what} has a single row: a permutation of one row changes nothing; "
                                "give at least 2 rows (hundreds for a useful estimate)")


def prepare_test_df(schema: TabularSchema, df, labelled: bool = True) -> pd.DataFrame:
    "Check a raw (labelled) DataFrame against the learner and return the frame to process (never the caller's)."
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df must be a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in schema.feature_names if c not in df.columns]
    if missing:
        raise ValueError(f"the test DataFrame lacks feature column(s) {_examples(missing)} that the learner was "
                         f"trained on; it has {_examples(df.columns, 10)}")
    no_label = [c for c in schema.y_names if c not in df.columns] if labelled else []
    if no_label:
        raise ValueError(f"the test DataFrame has no label column {_examples(no_label)}: permutation importance "
                         "needs the true labels (fastai's test_dl would silently drop them)")
    bad_cont = [c for c in schema.cont_names if not (pd.api.types.is_numeric_dtype(df[c]) or pd.api.types.is_bool_dtype(df[c]))]
    if bad_cont:
        raise ValueError(f"continuous column(s) {_examples(bad_cont)} are not numeric in the test DataFrame "
                         f"(dtypes: {_examples(str(df[c].dtype) for c in bad_cont)})")
    na_cont = [c for c in schema.cont_names if df[c].isna().any()]
    fillable = set(getattr(schema.fill_missing, 'na_dict', {}) or {})
    unfillable = [c for c in na_cont if c not in fillable]
    if unfillable:
        raise ValueError(f"continuous column(s) {_examples(unfillable)} have missing values in the test set but had "
                         "none in training, so the learner's FillMissing cannot fill them; fill or drop those rows")
    labels = df[[c for c in schema.y_names if c in df.columns]] if labelled else df.iloc[:, :0]
    if labels.isna().any().any():
        raise ValueError(f"the label column(s) {_examples(schema.y_names)} have missing values in "
                         f"{int(labels.isna().any(axis=1).sum())} row(s); drop those rows")
    out = df.copy()
    for c in out.columns:
        # fastai encodes a pandas `category` column by its own codes, not the training vocabulary
        if isinstance(out[c].dtype, pd.CategoricalDtype): out[c] = out[c].astype(object)
    if schema.y_vocab is not None and labelled:
        y = out[schema.y_names[0]]
        unseen = pd.unique(y[~y.isin(schema.y_vocab)])
        if len(unseen):
            raise ValueError(f"the label column {schema.y_names[0]!r} holds label(s) never seen in training: "
                             f"{_examples(unseen)}; the learner knows {_examples(schema.y_vocab, 10)}")
    return out


@dataclass
class TestSet:
    "Processed tensors of a labelled test set, on the model's device."
    inputs: list          # [x_cat] or [x_cat, x_cont]
    target: torch.Tensor
    n_rows: int
    source: str


def _gather(dl, rows=None) -> tuple:
    "`rows` (default: the whole dataset of `dl`) as one batch: `(inputs, target or None)`."
    to = dl.dataset if rows is None else rows
    if len(to) == 0: return None, None
    # The DataLoader's own batch transforms (fastai's ReadTabBatch) applied to all rows at once: the
    # same tensors as iterating it, without a per-batch copy of the frame or a second concatenated copy.
    batch = dl.after_batch(to)
    n_inp = 2 if getattr(to, 'with_cont', True) else 1
    # plain tensors: fastai's tensor subclasses add dispatch overhead to every later index and forward
    plain = [torch.as_tensor(t).as_subclass(torch.Tensor) for t in batch]
    return plain[:n_inp], (plain[n_inp] if len(plain) > n_inp else None)


def _named_attribute_error(schema: TabularSchema, error: Exception) -> Exception:
    clash = [n for n in schema.cat_names + schema.cont_names + schema.y_names if n in ATTRIBUTE_NAMES]
    if not clash: return error
    return ValueError(f"fastai could not process the test set ({type(error).__name__}: {error}); column name(s) "
                      f"{_examples(clash)} collide with fastai attribute names: rename them in the training and "
                      "test DataFrames and retrain")


def load_test_set(learn, schema: TabularSchema, test_dl=None, df=None, max_rows=None, rng=None) -> TestSet:
    "Gather the labelled test set once, checked, optionally subsampled to `max_rows`, on the model's device."
    if test_dl is not None and df is not None:
        raise ValueError("pass either test_dl or df, not both")
    if isinstance(test_dl, pd.DataFrame): test_dl, df = None, test_dl   # a raw frame passed positionally
    if df is not None:
        frame = prepare_test_df(schema, df)
        _check_rows(len(frame), 'test DataFrame')
        try: test_dl = learn.dls.test_dl(frame, inplace=True)   # `frame` is already our own copy
        except Exception as e: raise _named_attribute_error(schema, e) from e
        source = 'df'
    elif test_dl is not None:
        if not hasattr(test_dl, 'new') or not isinstance(getattr(test_dl, 'dataset', None), Tabular):
            raise TypeError(f"test_dl must be a fastai tabular DataLoader from learn.dls.test_dl(df), got "
                            f"{type(test_dl).__name__}")
        to = test_dl.dataset
        if list(to.cat_names) != schema.cat_names or list(to.cont_names) != schema.cont_names:
            raise ValueError(f"test_dl was built for other columns (categorical {list(to.cat_names)}, continuous "
                             f"{list(to.cont_names)}) than this learner's; build it with learn.dls.test_dl(df)")
        source = 'test_dl'
    else:
        warnings.warn("no test set given: importance is measured on the validation set, which guided training "
                      "choices; a held-out labelled test set (test_dl=learn.dls.test_dl(test_df) or df=test_df) "
                      "gives the unbiased estimate", UserWarning, stacklevel=3)
        test_dl, source = learn.dls.valid, 'validation set'
    try: inputs, target = _gather(test_dl)
    except Exception as e: raise _named_attribute_error(schema, e) from e
    n = 0 if inputs is None else inputs[0].shape[0]
    _check_rows(n, source if source != 'df' else 'test DataFrame')
    if target is None:
        raise ValueError(f"the {source} has no labels: fastai's test_dl drops the label column "
                         f"{_examples(schema.y_names)} when the DataFrame lacks it; build it from a labelled "
                         "DataFrame, e.g. learn.dls.test_dl(test_df) with the labels, or pass df=test_df")
    if schema.y_vocab is not None and (target < 0).any():
        raise ValueError(f"the {source} holds labels never seen in training (fastai encoded them as -1); "
                         f"the learner knows {_examples(schema.y_vocab, 10)}. Pass df= to see which labels")
    if target.is_floating_point() and torch.isnan(target).any():
        raise ValueError(f"the {source} has missing labels; drop those rows")
    if max_rows is not None:
        max_rows = check_int('max_rows', max_rows, minimum=2)
        if max_rows > n:
            raise ValueError(f"max_rows={max_rows} is larger than the test set ({n} rows); leave it None to use all rows")
        idx = torch.from_numpy(np.sort(rng.choice(n, int(max_rows), replace=False)))
        inputs, target, n = [x[idx] for x in inputs], target[idx], int(max_rows)
    device = model_device(learn.model)
    return TestSet([x.to(device) for x in inputs], target.to(device), n, source)


def feature_arrays(schema: TabularSchema, x_cat, x_cont=None) -> tuple:
    """`({name: codes}, {name: values})` for the learner's columns, from processed arrays (codes, filled and
    normalised values). FillMissing's `_na` indicators are left out: they belong to their column."""
    x_cat, x_cont = np.asarray(x_cat), np.asarray(x_cont) if x_cont is not None else None
    cat = {n: x_cat[:, i] for i, n in enumerate(schema.cat_names) if n not in schema.na_parent}
    cont = {n: x_cont[:, i] for i, n in enumerate(schema.cont_names)}
    return cat, cont


def processed_frame_arrays(learn, schema: TabularSchema, df=None) -> tuple:
    "Processed codes and values of `df` (raw, labels optional), or of the learner's training set when None."
    if df is None:
        to = learn.dls.train_ds
        if len(to) == 0:
            raise ValueError("this learner holds no training data (a learner from load_learner is exported "
                             "without it): pass df=, a DataFrame with the feature columns")
    else:
        frame = prepare_test_df(schema, df, labelled=False)
        try: to = learn.dls.test_dl(frame, inplace=True).dataset
        except Exception as e: raise _named_attribute_error(schema, e) from e
    conts = to.conts.to_numpy(dtype=float) if schema.cont_names else None
    return feature_arrays(schema, to.cats.to_numpy(), conts)


def raw_inputs(learn, schema: TabularSchema, df, what: str = 'df') -> list:
    "Processed input tensors of a raw DataFrame (labels optional), on the model's device."
    if not isinstance(df, pd.DataFrame): raise TypeError(f"{what} must be a pandas DataFrame, got {type(df).__name__}")
    if len(df) == 0: raise ValueError(f"{what} has no rows")
    frame = prepare_test_df(schema, df, labelled=False)
    try: inputs, _ = _gather(learn.dls.test_dl(frame, inplace=True))
    except Exception as e: raise _named_attribute_error(schema, e) from e
    device = model_device(learn.model)
    return [x.to(device) for x in inputs]
