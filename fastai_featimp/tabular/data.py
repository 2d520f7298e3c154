"""The one way user data becomes tensors for a tabular learner: a raw DataFrame, a DataLoader from
`learn.dls.test_dl`, or one of the learner's own splits is checked against the learner, processed by its
own procs, optionally subsampled (the one rule in `core.seeding`), and gathered as one batch of
`(codes, continuous values[, targets])` on the model's device."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from fastai.data.core import DataLoaders
from fastai.tabular.core import Tabular

from ..core.checks import plain, shown, warn
from ..core.params import ParameterError
from ..core.forward import model_device
from ..core.seeding import subsample_indices
from .schema import ATTRIBUTE_NAMES, TabularSchema

__all__ = ['TabularData', 'training_targets', 'load_tabular', 'prepare_frame', 'frame_record', 'frame_from_record', 'same_rows', 'gather_batch', 'feature_arrays', 'named_attribute_error',
           'training_codes']


def prepare_frame(schema: TabularSchema, df, labelled: bool = True, param: str = 'df') -> pd.DataFrame:
    """Check a raw DataFrame (the argument `param`) against the learner and return the frame to process (a copy,
    never the caller's)."""
    if not isinstance(df, pd.DataFrame):
        raise ParameterError(param, f"`{param}` must be a pandas DataFrame, got {type(df).__name__}")
    twice = sorted({str(c) for c in df.columns[df.columns.duplicated()]})
    if twice: raise ParameterError(param, f"`{param}` has duplicate column names {shown(twice)}; rename or drop them")
    missing = [c for c in schema.feature_names if c not in df.columns]
    if missing:
        raise ParameterError(param, f"`{param}` lacks feature column(s) {shown(missing)} that the learner was "
                                    f"trained on; it has {shown(df.columns, 10)}")
    no_label = [c for c in schema.y_names if c not in df.columns] if labelled else []
    if no_label:
        raise ParameterError(param, f"`{param}` has no label column {shown(no_label)}: importance needs the true "
                                    "labels (fastai's test_dl would silently drop them)")
    bad_cont = [c for c in schema.cont_names if not (pd.api.types.is_numeric_dtype(df[c]) or pd.api.types.is_bool_dtype(df[c]))]
    if bad_cont:
        raise ParameterError(param, f"continuous column(s) {shown(bad_cont)} are not numeric in `{param}` "
                                    f"(dtypes: {shown(str(df[c].dtype) for c in bad_cont)})")
    na_cont = [c for c in schema.cont_names if df[c].isna().any()]
    fillable = set(getattr(schema.fill_missing, 'na_dict', {}) or {})
    unfillable = [c for c in na_cont if c not in fillable]
    if unfillable:
        raise ParameterError(param, f"continuous column(s) {shown(unfillable)} of `{param}` have missing values in "
                                    f"{_DESCRIBED.get(param, 'these rows')} but had none in training, so the learner's FillMissing cannot fill them; fill or "
                                    "drop those rows")
    _check_finite(df, schema.cont_names, param)
    labels = df[[c for c in schema.y_names if c in df.columns]] if labelled else df.iloc[:, :0]
    if labels.isna().any().any():
        raise ParameterError(param, f"the label column(s) {shown(schema.y_names)} have missing values in "
                                    f"{int(labels.isna().any(axis=1).sum())} row(s) of `{param}`; drop those rows")
    if labelled and schema.y_vocab is None and not schema.multi_label:
        text = [c for c in schema.y_names if not pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])]
        if text: raise ParameterError(param, f"the label column(s) {shown(text)} hold text (dtype {df[text[0]].dtype}, "
                                             f"e.g. {df[text[0]].iloc[0]!r}) but the learner predicts numbers (a "
                                             "regression): convert them to numbers")
        values = labels.to_numpy(dtype=float, na_value=np.nan)
        bad = ~np.isfinite(values).all(axis=1)
        if bad.any():
            raise ParameterError(param, f"the label column(s) {shown(schema.y_names)} hold infinite values in "
                                        f"{int(bad.sum())} row(s) of `{param}` (e.g. row {df.index[np.argmax(bad)]!r}): "
                                        "a loss or error over them is infinite or NaN; drop or fix those rows")
    out = df.copy()
    for c in out.columns:
        # fastai encodes a pandas `category` column by its own codes, not the training vocabulary; pandas'
        # nullable dtypes (Int64, Float64, boolean, string) hold pd.NA, which fastai's procs do not expect
        dtype = out[c].dtype
        regression_label = c in schema.y_names and schema.y_vocab is None and not schema.multi_label
        if (c in schema.cont_names or regression_label) and isinstance(dtype, pd.api.extensions.ExtensionDtype):
            out[c] = out[c].to_numpy(dtype=float, na_value=np.nan)
        elif isinstance(dtype, pd.CategoricalDtype) or _is_nullable(dtype):
            out[c] = out[c].astype(object).where(out[c].notna(), np.nan)
    for c in schema.feature_names:
        if c not in schema.cont_names and schema.categorify is not None: out[c] = _as_training_levels(schema, c, out[c])
    if schema.y_vocab is not None and labelled:
        y = out[schema.y_names[0]]
        unseen = pd.unique(y[~y.isin(schema.y_vocab)])
        if len(unseen):
            raise ParameterError(param, f"the label column {schema.y_names[0]!r} of `{param}` holds label(s) never seen "
                                        f"in training: {shown(unseen)}; the learner knows {shown(schema.y_vocab, 10)}")
    return out


def frame_record(df: pd.DataFrame, columns: list) -> dict:
    "`df`'s `columns` as plain lists (kept in an explanation's attrs, so that it can be evaluated without the data)."
    part = df[[c for c in columns if c in df.columns]]
    return dict(index=plain(list(part.index)), columns=list(part.columns),
                data=[plain(list(r)) for r in part.itertuples(index=False)])


def frame_from_record(record: dict) -> pd.DataFrame:
    return pd.DataFrame(record['data'], index=record['index'], columns=record['columns'])


def same_rows(df: pd.DataFrame, record: dict) -> bool:
    "Whether `df` holds the rows of `record` (the same values as written in its columns, in order)."
    kept = frame_from_record(record)
    if len(df) != len(kept) or not set(kept.columns) <= set(df.columns): return False
    a, b = df[kept.columns].to_numpy(object), kept.to_numpy(object)
    return bool(((a == b) | (pd.isna(a) & pd.isna(b))).all())   # a missing value matches a missing value


FLOAT32_MAX = float(np.finfo(np.float32).max)   # the model computes in float32: a larger value becomes inf


def _check_finite(df: pd.DataFrame, columns: list, param: str) -> None:
    "Continuous columns holding inf, -inf or values float32 cannot hold (1e300) are refused by name, with the row count."
    bad = {}
    for c in columns:
        values = df[c].to_numpy(dtype=float, na_value=np.nan)
        with np.errstate(invalid='ignore'): rows = np.isinf(values) | (np.abs(values) > FLOAT32_MAX)
        if rows.any(): bad[c] = (int(rows.sum()), df.index[np.argmax(rows)], values[np.argmax(rows)])
    if bad:
        said = '; '.join(f"{c!r} in {n} row(s) (e.g. row {i!r}: {v!r})" for c, (n, i, v) in bad.items())
        raise ParameterError(param, f"continuous column(s) of `{param}` hold infinite values or values beyond float32's "
                                    f"range (|x| > {FLOAT32_MAX:.3g}), which the model turns into inf or NaN: {said}; "
                                    "drop or fix those rows")


def _check_finite_inputs(schema: TabularSchema, x_cont: torch.Tensor, what: str, param: str) -> None:
    "The same check on the processed values of a DataLoader (the raw frame is not at hand)."
    if x_cont is None or x_cont.numel() == 0 or torch.isfinite(x_cont).all(): return
    bad = ~torch.isfinite(x_cont)
    cols = [schema.cont_names[j] for j in torch.nonzero(bad.any(0)).flatten().tolist()]
    raise ParameterError(param, f"{what} holds infinite values (or values beyond float32's range) in continuous "
                                f"column(s) {shown(cols)}, in {int(bad.any(1).sum())} row(s): the model turns them into "
                                "inf or NaN; drop or fix those rows")


_DESCRIBED = {'df': 'the test set', 'test_dl': 'the test set', 'rows': 'the rows to explain',
              'background': 'the background rows'}


def _is_nullable(dtype) -> bool:
    "pandas' nullable extension dtypes (their missing value is pd.NA)."
    return isinstance(dtype, pd.api.extensions.ExtensionDtype) and getattr(dtype, 'na_value', None) is pd.NA


def _level_key(v) -> str:
    "A level's string form, with 3.0 read as 3 (a CSV reads integer codes with missing values as floats)."
    if isinstance(v, (float, np.floating)) and float(v).is_integer(): return str(int(v))
    return str(v)


# share of unseen levels above which a column gets a warning: rare new levels are normal, many are a sign of
# data that does not match training (an identifier column is the legitimate exception, hence no error)
UNSEEN_WARNING = 0.1


def _as_training_levels(schema: TabularSchema, name: str, values: pd.Series) -> pd.Series:
    """`values` in the training levels' own type where their string forms match (a column trained as strings
    and read back from a CSV as integers, or the reverse); a warning with the share and examples when many
    values are still unseen."""
    levels = [v for v in schema.levels(name)[1:]]   # '#na#' is fastai's, not a value
    present = values.dropna()
    if not len(present) or not levels: return values
    known = set(levels)
    seen = present.isin(known)
    if not seen.all():
        by_key = {_level_key(v): v for v in levels}
        mapped = present.map(lambda v: v if v in known else by_key.get(_level_key(v), v))
        if mapped.isin(known).sum() > seen.sum():
            converted = values.to_numpy(dtype=object).copy()
            converted[values.notna().to_numpy()] = mapped.to_numpy()   # by position: the index may repeat
            values = pd.Series(converted, index=values.index, name=values.name)
            present, seen = mapped, mapped.isin(known)
    share = 1 - seen.mean()
    if share > UNSEEN_WARNING:
        unseen = pd.unique(present[~seen])
        warn(f"{share:.0%} of the non-missing values of categorical column {name!r} never occurred in "
                      f"training (e.g. {shown(unseen, 3)}; training levels: {shown(levels, 5)}); fastai encodes them "
                      "as '#na#', so the model sees no difference between them. Unless the column is an identifier, "
                      "check that it holds the same kind of values as in training")
    return values


@dataclass
class TabularData:
    "Processed tensors of a set of rows, on the model's device."
    inputs: list              # [x_cat] or [x_cat, x_cont]
    target: torch.Tensor | None
    n_rows: int
    source: str               # 'df', 'test_dl', 'validation set' or 'training set'
    rows: list | None = None  # the positions of a seeded sample in the data, or None for all rows


def gather_batch(dl, rows=None) -> tuple:
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


def named_attribute_error(schema: TabularSchema, error: Exception) -> Exception:
    "fastai's error, or one naming the columns to rename when a column name collides with a fastai attribute."
    clash = [n for n in schema.cat_names + schema.cont_names + schema.y_names if n in ATTRIBUTE_NAMES]
    if not clash: return error
    return ValueError(f"fastai could not process the test set ({type(error).__name__}: {error}); column name(s) "
                      f"{shown(clash)} collide with fastai attribute names: rename them in the training and "
                      "test DataFrames and retrain")


_SPLITS = {'valid': 'validation set', 'train': 'training set'}


def load_tabular(learn, schema: TabularSchema, data=None, *, labelled: bool = False, split: str = 'valid',
                 fallback_warning: str | None = None, max_rows=None, rng=None, param: str = 'df',
                 hint: str = '', min_rows: int = 1, dataloader_ok: bool = True,
                 cap_name: str = 'max_rows') -> TabularData:
    """The tensors of `data` (the argument `param`): a raw DataFrame (processed with the learner's procs;
    `labelled`: it must hold the labels), a tabular DataLoader from `learn.dls.test_dl`, or None for the learner's
    `split` ('valid' or 'train'; `fallback_warning` is given when it is used). `max_rows` caps the rows with a
    seeded sample drawn from `rng`. `hint` ends the message of an empty set; `min_rows` is the fewest rows that
    make sense; `dataloader_ok=False` accepts DataFrames only."""
    if data is not None and not dataloader_ok and not isinstance(data, pd.DataFrame):
        raise ParameterError(param, f"`{param}` must be a pandas DataFrame, got {type(data).__name__}")
    what = f"`{param}`"
    if isinstance(data, pd.DataFrame):
        frame = prepare_frame(schema, data, labelled, param)
        _check_rows(len(frame), min_rows, what, hint, param)   # before fastai, which fails on an empty frame
        try: dl = learn.dls.test_dl(frame, inplace=True)   # `frame` is already our own copy
        except Exception as e: raise named_attribute_error(schema, e) from e
        source = 'df'
    elif data is not None:
        if isinstance(data, DataLoaders):
            raise ParameterError(param, "got the learner's DataLoaders (learn.dls), which hold the training and "
                                        "validation sets; pass one labelled DataLoader, e.g. learn.dls.test_dl(test_df), "
                                        "or a labelled DataFrame as `df=`")
        if not hasattr(data, 'new') or not isinstance(getattr(data, 'dataset', None), Tabular):
            raise ParameterError(param, f"`{param}` must be a fastai tabular DataLoader from learn.dls.test_dl(df), "
                                        f"got {type(data).__name__}")
        to = data.dataset
        if list(to.cat_names) != schema.cat_names or list(to.cont_names) != schema.cont_names:
            raise ParameterError(param, f"`{param}` was built for other columns (categorical {list(to.cat_names)}, "
                                        f"continuous {list(to.cont_names)}) than this learner's; build it with "
                                        "learn.dls.test_dl(df)")
        if _is_training_data(learn, to):
            warn(f"`{param}` holds the rows the model was trained on (learn.dls.train): importance there "
                          "measures what the model memorised, not what generalises; pass held-out rows, e.g. "
                          "learn.dls.test_dl(test_df)")
        dl, source = data, 'test_dl'
    else:
        if fallback_warning: warn(fallback_warning)
        dl = learn.dls.valid if split == 'valid' else learn.dls.train
        source = _SPLITS[split]
        what = 'the ' + source
    to = dl.dataset
    n = len(to)
    _check_rows(n, min_rows, what, hint, param)
    idx = subsample_indices(n, max_rows, rng, cap_name, min_rows)
    try: inputs, target = gather_batch(dl, None if idx is None else to.iloc[idx])
    except Exception as e: raise named_attribute_error(schema, e) from e
    if labelled: _check_labels(schema, target, what, param)
    if source == 'test_dl' and len(inputs) > 1: _check_finite_inputs(schema, inputs[1], what, param)
    device = model_device(learn.model)
    return TabularData([x.to(device) for x in inputs], None if target is None else target.to(device),
                       inputs[0].shape[0], source, None if idx is None else idx.tolist())


def _is_training_data(learn, to) -> bool:
    "`to` is the learner's own training set (the DataLoader `learn.dls.train`, or one over the same rows)."
    train = getattr(learn.dls, 'train_ds', None)
    if to is train: return True
    try: return len(to) == len(train) and len(to) > 0 and to.items.index.equals(train.items.index) and \
        to.items.equals(train.items)
    except (AttributeError, TypeError): return False


def _check_rows(n: int, min_rows: int, what: str, hint: str, param: str) -> None:
    if n == 0: raise ParameterError(param, f"{what} is empty ({what} has no rows){hint}")
    if n < min_rows:
        raise ParameterError(param, f"{what} has a single row: a permutation of one row changes nothing; "
                                    "give at least 2 rows (hundreds for a useful estimate)")


def _check_labels(schema: TabularSchema, target, what: str, param: str) -> None:
    if target is None:
        raise ParameterError(param, f"{what} has no labels: fastai's test_dl drops the label column "
                                    f"{shown(schema.y_names)} when the DataFrame lacks it; build it from a labelled "
                                    "DataFrame, e.g. learn.dls.test_dl(test_df) with the labels, or pass the DataFrame as `df=`")
    if schema.y_vocab is not None and (target < 0).any():
        raise ParameterError(param, f"{what} holds labels never seen in training (fastai encoded them as -1); "
                                    f"the learner knows {shown(schema.y_vocab, 10)}. Pass `df=` to see which labels")
    if target.is_floating_point() and torch.isnan(target).any():
        n = int(torch.isnan(target).sum())
        raise ParameterError(param, f"{what} has {n} missing label(s) of {target.shape[0]}: a score cannot use them; "
                                    "drop those rows first")


def feature_arrays(schema: TabularSchema, x_cat, x_cont=None) -> tuple:
    """`({name: codes}, {name: values})` for the learner's columns, from processed arrays (codes, filled and
    normalised values). FillMissing's `_na` indicators are left out: they belong to their column."""
    x_cat = np.asarray(x_cat.cpu() if torch.is_tensor(x_cat) else x_cat)
    if x_cont is not None: x_cont = np.asarray(x_cont.cpu() if torch.is_tensor(x_cont) else x_cont, dtype=float)
    cat = {n: x_cat[:, i] for i, n in enumerate(schema.cat_names) if n not in schema.na_parent}
    cont = {n: x_cont[:, i] for i, n in enumerate(schema.cont_names)}
    return cat, cont


def training_targets(learn, k: int = 0):
    "The training labels of output `k` as floats (a regression's), or None when the learner keeps no training rows."
    ys = getattr(getattr(learn.dls, 'train_ds', None), 'ys', None)
    if ys is None or len(ys) == 0: return None
    values = np.asarray(ys, dtype=float)
    return values[:, min(k, values.shape[1] - 1)] if values.ndim == 2 else values


def training_codes(learn, name: str):
    "The codes of a categorical column that occur in the learner's training rows, or None when it keeps none."
    to = learn.dls.train_ds
    if len(to) == 0: return None
    return set(np.unique(to.cats[name].to_numpy()).tolist())
