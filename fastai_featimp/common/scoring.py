"""Turn what the user passes as `metric` (nothing, a name, a fastai metric, a callable, or a list) into
scorers that compute one number over the whole test set, the way fastai would compute it, and know
whether higher is better."""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable

import math

import numpy as np

import torch
from fastai.learner import AvgMetric, Metric
from fastai.metrics import (BalancedAccuracy, F1Score, F1ScoreMulti, R2Score, RocAuc, RocAucBinary, RocAucMulti,
                            accuracy, accuracy_multi, error_rate, exp_rmspe, mae, mse, msle, rmse)
from fastai.torch_core import to_detach
from fastcore.foundation import L

from ..core.checks import warn
from ..core.params import ParameterError
from .metric_names import METRIC_NAMES

__all__ = ['Scorer', 'make_scorers', 'learner_scorers', 'metric_direction', 'is_metric_list', 'METRIC_NAMES']

# Names whose direction is known although they do not end in _loss/_error/_score (fastai's own, mostly).
_LOWER_IS_BETTER = {'loss', 'mse', 'rmse', 'mae', 'msle', 'exp_rmspe', 'error_rate', 'error_rate_multi', 'perplexity',
                    'brier_score_loss', 'hamming_loss', 'log_loss', 'zero_one_loss', 'hinge_loss', 'max_error'}
_HIGHER_IS_BETTER = {'accuracy', 'accuracy_multi', 'top_k_accuracy', 'foreground_acc', 'dice', 'dice_multi',
                     'jaccard_coeff', 'jaccard_coeff_multi', 'pearsonr', 'spearmanr', 'matthews_corrcoef',
                     'r2', 'roc_auc', 'f1', 'balanced_accuracy', 'corpus_bleu'}
_LOWER_SUFFIXES = ('_loss', '_error', '_deviance')
_HIGHER_SUFFIXES = ('_score', '_accuracy', '_acc')


def metric_direction(name: str) -> bool | None:
    "True if higher is better, False if lower is better, None if the package does not know `name`."
    key = name.lstrip('_').lower()
    if key in _LOWER_IS_BETTER or key.endswith(_LOWER_SUFFIXES): return False
    if key in _HIGHER_IS_BETTER or key.endswith(_HIGHER_SUFFIXES): return True
    return None


@dataclass
class Scorer:
    "A whole-set score: `fn(preds, targets) -> float` with its name and direction."
    name: str
    greater_is_better: bool
    fn: Callable[[torch.Tensor, torch.Tensor], float]
    ideal: Callable | None = None   # targets -> raw outputs that predict them perfectly (to test that the score responds)

    def __call__(self, preds, targ) -> float:
        try: value = self.fn(preds, targ)
        except Exception as e:
            raise ValueError(f"metric {self.name!r} could not be computed on the test set: "
                             f"{type(e).__name__}: {e}") from e
        if value is None:
            raise ParameterError('metric', f"metric {self.name!r} returned None on the test set")
        size = getattr(value, 'numel', getattr(value, 'size', lambda: 1))
        size = size() if callable(size) else size
        if size != 1:
            raise ParameterError('metric', f"metric {self.name!r} returned {size} values (shape "
                                           f"{tuple(getattr(value, 'shape', ()))}) where one number over the whole set "
                                           "is needed: reduce it (e.g. .mean()) or pass a fastai metric")
        value = float(value.item() if hasattr(value, 'item') else value)
        if math.isnan(value):
            raise ParameterError('metric', f"metric {self.name!r} is NaN on these {len(targ)} rows (an AUC needs both classes, a "
                             "correlation needs varying predictions): use more rows or another metric")
        return value

    def check_responds(self, preds, targ) -> None:
        """Refuse a metric that gives the same value whatever the predictions (a table of exact zeros would follow):
        perfect predictions of the labels, and the rows' predictions shuffled, reversed and all set to the first row's,
        all score the same as the real ones."""
        n = len(preds)
        if n < 2: return
        base = self(preds, targ)
        shuffled = preds[torch.from_numpy(np.random.default_rng(0).permutation(n)).to(preds.device)]
        others = [shuffled, preds.flip(0), preds[:1].expand_as(preds)]
        if self.ideal is not None:
            try: others.append(self.ideal(targ).to(preds.dtype).reshape(preds.shape))
            except (RuntimeError, ValueError, TypeError): pass   # an output this package cannot imitate: skip that one
        if all(self(p, targ) == base for p in others):
            raise ParameterError('metric', f"metric {self.name!r} gives {base:g} whatever the predictions (shuffled, "
                                           "reversed or all alike): it cannot measure how much an input matters; pass a "
                                           "metric that compares predictions with the labels")


class _MetricContext:
    "The few `Learner` attributes a fastai `Metric.accumulate` reads, holding the whole test set at once."
    def __init__(self, pred, y, loss_func):
        self.pred, self.y, self.yb, self._loss_func = pred, y, (y,), loss_func
        self.training = False
    @property
    def loss(self): return self._loss_func(self.pred, self.y)
    def to_detach(self, b, cpu=True, gather=True): return to_detach(b, cpu, gather)


def _metric_object_fn(metric: Metric, loss_func):
    "Whole-set value of a stateful fastai metric, computed on a private copy so the caller's is untouched."
    metric = copy.deepcopy(metric)
    def fn(preds, targ):
        metric.reset()
        metric.accumulate(_MetricContext(preds, targ, loss_func))
        return metric.value
    return fn


def _named_metric(name: str, info: dict):
    "The fastai metric behind a short name, fitted to the model's output (binary, multi-class, multi-label)."
    kind, n_out = info['kind'], info['n_out']
    multi = kind == 'multi_label'
    table = {
        'accuracy': accuracy_multi if multi else accuracy,
        'error_rate': error_rate_multi if multi else error_rate,
        'roc_auc': RocAucMulti() if multi else RocAucBinary() if n_out == 2 else RocAuc(),
        'rmse': rmse, 'mae': mae, 'mse': mse, 'msle': msle, 'exp_rmspe': exp_rmspe, 'r2': R2Score(),
        'f1': F1ScoreMulti(average='macro') if multi else F1Score() if n_out == 2 else F1Score(average='macro'),
        'balanced_accuracy': BalancedAccuracy(),
    }
    if name not in table:
        raise ValueError(f"unknown metric name {name!r}; known names: 'loss', {', '.join(map(repr, table))} "
                         "(or pass a fastai metric object or a callable)")
    return table[name]


def error_rate_multi(inp, targ):
    "Share of wrong labels of a multi-label model (1 - fastai's accuracy_multi)."
    return 1 - accuracy_multi(inp, targ)



# What output a known metric reads: class scores, or a value to compare with a numeric target.
_CLASS_METRICS = {'accuracy', 'accuracy_multi', 'error_rate', 'error_rate_multi', 'roc_auc', 'roc_auc_score', 'f1', 'f1_score', 'balanced_accuracy',
                  'balanced_accuracy_score', 'top_k_accuracy', 'precision_score', 'recall_score',
                  'matthews_corrcoef', 'cohen_kappa_score', 'fbeta_score', 'jaccard_score'}
_VALUE_METRICS = {'rmse', '_rmse', 'mae', 'mse', 'msle', 'exp_rmspe', '_exp_rmspe', 'r2', 'r2_score', 'pearsonr',
                  'spearmanr', 'explained_variance_score', 'mean_absolute_error', 'mean_squared_error'}
_NO_MULTI_LABEL = {'balanced_accuracy', 'balanced_accuracy_score', 'top_k_accuracy'}


def _metric_key(metric) -> str:
    "The name a metric is known by (the function's name for fastai's AvgMetric and AccumMetric)."
    if isinstance(metric, str): return metric
    func = getattr(metric, 'func', metric)
    return (getattr(func, '__name__', None) or getattr(metric, 'name', '') or '').lstrip('_')   # fastai's _rmse is rmse


def _check_fits(metric, info: dict) -> None:
    "Refuse a known metric that cannot read this model's output, naming the output and what to use instead."
    key, kind, n_out = _metric_key(metric), info['kind'], info['n_out']
    shape = f"{n_out} output{'s' if n_out != 1 else ''}"
    if key in _CLASS_METRICS and kind == 'regression':
        what = (f"one output: a regression of {info['y_names'][0]!r}" if n_out == 1 else f"{shape}: a regression")
        raise ValueError(f"metric {key!r} needs class scores, but this model has {what}; use 'loss', 'rmse', 'mae' or "
                         "'r2', or retrain it as a classifier (y_block=CategoryBlock()) to score classes")
    if key in _VALUE_METRICS and kind != 'regression':
        raise ValueError(f"metric {key!r} compares a predicted value with a numeric target, but this model outputs "
                         f"class scores ({shape}, a {'multi-label ' if kind == 'multi_label' else ''}classifier); "
                         "use 'loss', 'accuracy' or 'roc_auc'")
    if key in _NO_MULTI_LABEL and kind == 'multi_label':
        raise ValueError(f"metric {key!r} is for single-label classes, but this model is multi-label ({shape}); "
                         "use 'loss', 'accuracy', 'f1' or 'roc_auc'")


def _scorer(metric, loss_func, learn_info, greater_is_better, override_known=True) -> Scorer:
    if metric is None or metric == 'loss':
        name, fn = 'loss', lambda p, t: loss_func(p, t)
    else:
        if isinstance(metric, str): metric = _named_metric(metric, learn_info)
        _check_fits(metric, learn_info)
        if isinstance(metric, AvgMetric):     # whole-set value of its function = its batch-weighted mean
            name, fn = metric.name, metric.func
        elif isinstance(metric, Metric):      # AccumMetric, skm_to_fastai, AvgLoss, custom Metric subclasses
            name, fn = metric.name, _metric_object_fn(metric, loss_func)
        elif callable(metric):
            name = getattr(metric, '__name__', None) or getattr(getattr(metric, 'func', None), '__name__', None) \
                or type(metric).__name__
            if getattr(metric, '__module__', '').startswith('sklearn.'):
                raise TypeError(f"{name} is a scikit-learn function taking (y_true, y_pred); wrap it for fastai "
                                f"with fastai.metrics.skm_to_fastai({name}) so the model's activation is applied")
            fn = metric
        else:
            raise TypeError(f"metric must be None, a name, a fastai metric or a callable (preds, targs) -> float; "
                            f"got {type(metric).__name__}")
    known = metric_direction(name)
    if greater_is_better is not None and not isinstance(greater_is_better, (bool, np.bool_)):
        raise ParameterError('greater_is_better', f"`greater_is_better` must be True, False or None (or a list of them, "
                                                  f"one per metric), got {greater_is_better!r}")
    if greater_is_better is None:
        if known is None:
            raise ParameterError('greater_is_better', f"the direction of metric {name!r} is unknown: pass "
                             "`greater_is_better=`True if higher "
                             "values are better (a score) or False if lower values are better (a loss or error)")
        greater_is_better = known
    elif known is not None and bool(greater_is_better) != known:
        if not override_known: return Scorer(name, known, fn)
        warn(f"greater_is_better={greater_is_better} overrides the known direction of {name!r} "
                      f"(higher is {'better' if known else 'worse'})")
    return Scorer(name, bool(greater_is_better), fn)


def _ideal(kind: str, n_out: int):
    "Raw outputs that predict targets perfectly: confident logits of the true class (labels), the targets (regression)."
    if kind == 'classifier': return lambda t: 20.0 * torch.nn.functional.one_hot(t.long().view(-1), n_out).float() - 10.0
    if kind == 'multi_label': return lambda t: 20.0 * t.float() - 10.0
    return lambda t: t.float()


def learner_scorers(learn, schema, metric=None, greater_is_better=None) -> list:
    "`make_scorers` for a learner: its loss, and metrics checked against (or fitted to) its outputs."
    kind = 'multi_label' if schema.multi_label else 'classifier' if schema.y_vocab is not None else 'regression'
    scorers = make_scorers(metric, learn.loss_func, dict(kind=kind, n_out=schema.n_out, y_names=list(schema.y_names)),
                           greater_is_better)
    for s in scorers: s.ideal = _ideal(kind, schema.n_out)
    return scorers


def is_metric_list(metric) -> bool:
    "A list of metrics (a list, tuple or fastcore `L` such as `learn.metrics`), not one metric."
    return isinstance(metric, (list, tuple, L))


def make_scorers(metric, loss_func, learn_info: dict, greater_is_better=None) -> list:
    """Scorers for `metric` (one, or a list).

    `greater_is_better`: a list aligned with the metrics overrides each known direction; a single value
    overrides a single metric's, and with a list of metrics it applies to those of unknown direction only."""
    metrics = list(metric) if is_metric_list(metric) else [metric]
    if not metrics: raise ParameterError('metric', "`metric` is an empty list: give at least one metric, or None for the loss")
    aligned = is_metric_list(greater_is_better)
    gibs = list(greater_is_better) if aligned else [greater_is_better] * len(metrics)
    if len(gibs) != len(metrics):
        raise ValueError(f"greater_is_better has {len(gibs)} values for {len(metrics)} metrics")
    override = aligned or len(metrics) == 1
    scorers = [_scorer(m, loss_func, learn_info, g, override) for m, g in zip(metrics, gibs)]
    names = [s.name for s in scorers]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes: raise ValueError(f"metric names must be distinct; repeated: {dupes}")
    return scorers
