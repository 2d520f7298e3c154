"""What every method returns, in one place (the README's "Results" section says the same).

- Importance (`feature_importance`, `drop_column_importance`, text phrase importance): a DataFrame, one row
  per variable, most important first: `Variable`, `Type`, `Importance`, `Std`, `CI_low`, `CI_high`,
  `p_value`, `Members` (+ method-specific columns), and `attrs` describing the run (`method`, `metric`,
  `greater_is_better`, `baseline`, `n_repeats`, `seed`, `n_rows`, `source`, `importances` = raw per-repeat
  values, ...).
- Explanations (`explain`): a long DataFrame, one row per (row or text, variable), with `attrs`
  `base_values`, `outputs`, `targets`, `method`, `output`.
- Curves (`partial_dependence`, `accumulated_local_effects`): a `PartialDependence` object.

pandas keeps `attrs` through slicing, sorting and `copy()`, and through `pd.concat` only when every part
has the same `attrs`; `to_csv` writes the columns alone. Plots need the columns; they read `attrs` for
labels where present, and say so where a drawing cannot be made without them."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .checks import plain, warn
from .stats import summarize_repeats
from .words import quantity

__all__ = ['importance_frame', 'reliance_frame', 'reliance_record', 'PartialDependence', 'plain', 'Kept', 'labels_under',
           'own_labels']


class Kept(np.lib.mixins.NDArrayOperatorsMixin):
    """An array kept in a result's `attrs` (an image, a label map, a Grad-CAM map). pandas deep-copies `attrs` and
    compares them with `==` whenever it combines frames (`concat`, `nlargest`, a groupby's apply): a bare ndarray there
    fails ("the truth value of an array is ambiguous"). A `Kept` is read-only, shared rather than copied, and compared
    as a whole with another `Kept`; for anything else it is its array (`np.asarray(kept)`, `kept.max()`, `kept == 3`,
    `kept - 1`, `kept[0]`)."""
    __slots__ = ('array',)
    __hash__ = None

    def __init__(self, array):
        self.array = np.array(array)
        self.array.flags.writeable = False

    def __array__(self, dtype=None, copy=None): return self.array if dtype is None else self.array.astype(dtype)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        inputs = tuple(x.array if isinstance(x, Kept) else x for x in inputs)
        return getattr(ufunc, method)(*inputs, **kwargs)

    def __eq__(self, other):   # whole against another Kept (what pandas compares), element by element otherwise
        return np.array_equal(self.array, other.array) if isinstance(other, Kept) else np.equal(self.array, other)

    def __ne__(self, other):
        return not np.array_equal(self.array, other.array) if isinstance(other, Kept) else np.not_equal(self.array, other)

    def __deepcopy__(self, memo): return self
    def __getitem__(self, key): return self.array[key]
    def __len__(self): return len(self.array)
    def __getattr__(self, name): return getattr(self.__getattribute__('array'), name)
    def __getstate__(self): return self.array
    def __setstate__(self, array): Kept.__init__(self, array)
    def __repr__(self): return f"Kept({self.array.dtype} array of shape {self.array.shape})"


def importance_frame(variables, per_repeat: np.ndarray, *, summary: dict | None = None, columns: dict | None = None,
                     sort_by: str = 'Importance', **attrs) -> pd.DataFrame:
    """The importance table, most important first. `variables` have `name`, `kind` and `members`;
    `per_repeat` has shape `(n_variables, n_repeats)` (kept as `attrs['importances']`). `summary` replaces the
    repeat statistics (a bootstrap gives its own); `columns` adds per-variable columns before `Members`;
    `sort_by` names the column that orders the rows (by absolute value for a signed effect like `MeanDelta`)."""
    summary = summarize_repeats(per_repeat) if summary is None else summary
    if len(variables) and np.all(np.asarray(per_repeat) == 0):
        warn(f"every importance is exactly 0: {attrs.get('metric', 'the score')} ({attrs.get('baseline', float('nan')):.4g}) "
             "did not change at all when any input was taken away; the model may predict the same thing for every row, "
             "or the metric may not see the difference (a class metric of a model that never predicts a class): try "
             "metric='loss'")
    fi = pd.DataFrame({'Variable': [v.name for v in variables], 'Type': [v.kind for v in variables], **summary,
                       **(columns or {}), 'Members': [list(v.members) for v in variables]})
    key = (lambda c: c.abs()) if sort_by != 'Importance' else None
    fi = fi.sort_values(sort_by, ascending=False, kind='stable', key=key).reset_index(drop=True)
    fi.attrs.update(plain(attrs), importances={v.name: [float(x) for x in row] for v, row in zip(variables, per_repeat)})
    return fi


RELIANCE_COLUMNS = ['row', 'Prediction', 'Without', 'Change', 'Predicted', 'PredictedWithout', 'Flipped', 'Found', 'Relies']


def reliance_record(prediction: float, without: float, predicted, predicted_without, threshold: float, names) -> dict:
    "One row's reliance on its flagged inputs (the columns of `reliance_frame`, and the flagged names found in it)."
    flipped = predicted is not None and predicted != predicted_without
    return dict(Prediction=float(prediction), Without=float(without), Change=float(prediction - without),
                Predicted=plain(predicted), PredictedWithout=plain(predicted_without), Flipped=bool(flipped),
                Relies=bool(abs(prediction - without) >= threshold or flipped), names=list(names))


def reliance_frame(prediction, without, predicted, predicted_without, found, threshold: float, index, *,
                   scores: dict | None = None, counts_found: bool = True, **attrs) -> pd.DataFrame:
    """The reliance table, one row per input row in input order: `Prediction` and `Without` (the explained output
    with and without the flagged inputs), `Change`, the predicted labels with and without, `Flipped`, `Found` (what
    was flagged in the row) and `Relies` (|Change| >= threshold, or Flipped). `attrs['summary']`: the share of rows
    that rely and that flip, the mean and largest |Change|, and `scores` (a metric with and without) when given."""
    prediction, without = np.asarray(prediction, float), np.asarray(without, float)
    change = prediction - without
    flipped = [a is not None and a != b for a, b in zip(predicted, predicted_without)]
    relies = (np.abs(change) >= threshold) | np.asarray(flipped, bool)
    rel = pd.DataFrame({'row': np.arange(len(prediction)), 'Prediction': prediction, 'Without': without, 'Change': change,
                        'Predicted': list(predicted), 'PredictedWithout': list(predicted_without), 'Flipped': flipped,
                        'Found': list(found), 'Relies': relies}, columns=RELIANCE_COLUMNS)
    rel.index = pd.Index(index)
    summary = dict(n_rows=int(len(rel)), share_relies=float(relies.mean()) if len(rel) else 0.0,
                   share_flipped=float(np.mean(flipped)) if len(rel) else 0.0,
                   mean_abs_change=float(np.abs(change).mean()) if len(rel) else 0.0,
                   max_abs_change=float(np.abs(change).max()) if len(rel) else 0.0,
                   n_changed=int((change != 0).sum()))
    # a text may not hold a flagged phrase; every row of a table holds its flagged columns (no count to give)
    if counts_found: summary['n_with_flagged'] = int(sum(bool(f) for f in found))
    if attrs.get('threshold_rule'): summary['threshold_rule'] = attrs['threshold_rule']
    if scores: summary.update(plain(scores))
    rel.attrs.update(plain(attrs), threshold=float(threshold), summary=summary)
    return rel


@dataclass
class PartialDependence:
    "A dependence curve (or surface) in original units: PD, ICE or ALE."
    features: list
    grid_values: list            # one array per feature, original units (labels for categorical columns)
    average: np.ndarray          # (n_grid,) or (n_grid_1, n_grid_2)
    individual: np.ndarray | None  # (n_rows, n_grid) ICE curves, or None
    kind: str                    # 'average', 'individual', 'both' or 'ale'
    output: str                  # 'probability', 'raw' (a logit) or 'value' (a regression's prediction)
    target: object
    categorical: list = field(default_factory=list)   # per feature: True for a categorical column
    deciles: dict = field(default_factory=dict)        # continuous feature -> deciles of its values (the rug)
    lower: np.ndarray | None = None   # a 95% bootstrap band over rows (`n_bootstrap` resamples), or None
    upper: np.ndarray | None = None
    n_bootstrap: int = 0

    def output_label(self) -> str:
        "The explained quantity in words: `P(yes)`, `logit(yes)` or the target's name."
        return quantity(self.output, self.target)

    def to_frame(self) -> pd.DataFrame:
        "Tidy table: one row per grid point (and per row for ICE), the value in a column named after the output."
        name = self.kind if self.kind == 'ale' else 'average'
        if len(self.features) == 2:
            g1, g2 = np.meshgrid(self.grid_values[0], self.grid_values[1], indexing='ij')
            return pd.DataFrame({self.features[0]: g1.ravel(), self.features[1]: g2.ravel(), name: self.average.ravel()})
        f = self.features[0]
        frame = pd.DataFrame({f: self.grid_values[0], name: self.average})
        if self.lower is not None: frame = frame.assign(lower=self.lower, upper=self.upper)
        if self.individual is not None:
            ice = pd.DataFrame(self.individual, columns=range(len(self.grid_values[0])))
            ice = ice.rename_axis('row').reset_index().melt(id_vars='row', var_name='grid_index', value_name='individual')
            ice[f] = np.asarray(self.grid_values[0], dtype=object)[ice['grid_index'].to_numpy(int)]
            frame = frame.merge(ice.drop(columns='grid_index'), on=f, how='left')
        return frame

    def plot(self, ax=None, **kwargs):
        "Draw it (see `fastai_featimp.plot_partial_dependence`: `sort='value'` orders levels by the average)."
        import fastai_featimp   # the public drawing function: computing modules never import plot/
        return fastai_featimp.plot_partial_dependence(self, ax=ax, **kwargs)


def units_by_span(part: pd.DataFrame) -> pd.DataFrame:
    """A text's units in the order of the text, one per span of characters: units sharing a span (with unit='token',
    fastai's case markers and the word they mark) become one, the word as written, with their contributions summed
    (so the contributions still add up to the prediction minus the base value)."""
    part = part.sort_values('Start', kind='stable')
    if not part.duplicated(['Start', 'End']).any(): return part
    spans = part.groupby(['Start', 'End'], sort=False)
    merged = part.drop_duplicates(['Start', 'End'], keep='last').copy()   # the word: its markers come before it
    key = pd.MultiIndex.from_frame(merged[['Start', 'End']])
    merged['Contribution'] = spans['Contribution'].sum().reindex(key).to_numpy()
    if 'Std' in merged.columns:   # the spread of a sum; unknown when any part's is
        merged['Std'] = spans['Std'].apply(lambda s: float(np.sqrt((s ** 2).sum())) if s.notna().all() else np.nan).reindex(key).to_numpy()
    return merged


def labels_under(segments, size: tuple, ys, xs) -> np.ndarray:
    "The label under each point (ys[i], xs[j]) of an image of `size` (h, w), read off a label map at its own resolution."
    segments = np.asarray(segments)
    (h, w), (sh, sw) = size, segments.shape
    rows = np.clip(np.floor(np.asarray(ys) * sh / h).astype(int), 0, sh - 1)
    cols = np.clip(np.floor(np.asarray(xs) * sw / w).astype(int), 0, sw - 1)
    return segments[rows[:, None], cols[None, :]]


def own_labels(segments, size: tuple, visible: tuple) -> tuple:
    """`(labels, inside)`: a label map read at each pixel of the image as given (`size`: h, w), and which of those
    pixels lie in the part the model sees (`visible`: top, left, bottom, right, in the image's pixels)."""
    (h, w), (top, left, bottom, right) = size, visible
    ys, xs = np.arange(h) + 0.5, np.arange(w) + 0.5
    inside = ((ys >= top) & (ys <= bottom))[:, None] & ((xs >= left) & (xs <= right))[None, :]
    return labels_under(segments, size, ys, xs), inside
