"""Turn what the user passes as `metric` (nothing, a name, a fastai metric, a callable, or a list) into
scorers that compute one number over the whole test set, the way fastai would compute it, and know
whether higher is better."""
from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass
from typing import Callable

import torch
from fastai.learner import AvgMetric, Metric
from fastai.metrics import (BalancedAccuracy, F1Score, R2Score, RocAuc, RocAucBinary, RocAucMulti, accuracy,
                            accuracy_multi, error_rate, exp_rmspe, mae, mse, msle, rmse)
from fastai.torch_core import to_detach

__all__ = ['Scorer', 'make_scorers', 'learner_scorers', 'metric_direction', 'METRIC_NAMES']

# Names whose direction is known although they do not end in _loss/_error/_score (fastai's own, mostly).
_LOWER_IS_BETTER = {'loss', 'mse', 'rmse', 'mae', 'msle', 'exp_rmspe', 'error_rate', 'perplexity',
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

    def __call__(self, preds, targ) -> float:
        try: value = self.fn(preds, targ)
        except Exception as e:
            raise ValueError(f"metric {self.name!r} could not be computed on the test set: "
                             f"{type(e).__name__}: {e}") from e
        if value is None:
            raise ValueError(f"metric {self.name!r} returned None on the test set")
        return float(value.item() if hasattr(value, 'item') else value)


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


def _named_metric(name: str, learn_info: dict):
    "The fastai metric behind a short name, fitted to the model's output (binary, multi-class, multi-label)."
    multi_label, n_out = learn_info['multi_label'], learn_info['n_out']
    table = {
        'accuracy': accuracy_multi if multi_label else accuracy, 'error_rate': error_rate,
        'roc_auc': (RocAucMulti() if multi_label else RocAucBinary() if n_out == 2 else RocAuc()),
        'rmse': rmse, 'mae': mae, 'mse': mse, 'msle': msle, 'exp_rmspe': exp_rmspe, 'r2': R2Score(),
        'f1': F1Score(), 'balanced_accuracy': BalancedAccuracy(),
    }
    if name not in table:
        raise ValueError(f"unknown metric name {name!r}; known names: 'loss', {', '.join(map(repr, table))} "
                         "(or pass a fastai metric object or a callable)")
    return table[name]


METRIC_NAMES = ('loss', 'accuracy', 'error_rate', 'roc_auc', 'rmse', 'mae', 'mse', 'msle', 'exp_rmspe', 'r2', 'f1',
                'balanced_accuracy')


def _scorer(metric, loss_func, learn_info, greater_is_better, override_known=True) -> Scorer:
    if metric is None or metric == 'loss':
        name, fn = 'loss', lambda p, t: loss_func(p, t)
    else:
        if isinstance(metric, str): metric = _named_metric(metric, learn_info)
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
    if greater_is_better is None:
        if known is None:
            raise ValueError(f"the direction of metric {name!r} is unknown: pass greater_is_better=True if higher "
                             "values are better (a score) or False if lower values are better (a loss or error)")
        greater_is_better = known
    elif known is not None and bool(greater_is_better) != known:
        if not override_known: return Scorer(name, known, fn)
        warnings.warn(f"greater_is_better={greater_is_better} overrides the known direction of {name!r} "
                      f"(higher is {'better' if known else 'worse'})", stacklevel=4)
    return Scorer(name, bool(greater_is_better), fn)


def learner_scorers(learn, schema, metric=None, greater_is_better=None) -> list:
    "`make_scorers` for a tabular learner: its loss, and metric names fitted to its outputs."
    return make_scorers(metric, learn.loss_func, dict(multi_label=schema.multi_label, n_out=schema.n_out),
                        greater_is_better)


def make_scorers(metric, loss_func, learn_info: dict, greater_is_better=None) -> list:
    """Scorers for `metric` (one, or a list).

    `greater_is_better`: a list aligned with the metrics overrides each known direction; a single value
    overrides a single metric's, and with a list of metrics it applies to those of unknown direction only."""
    metrics = list(metric) if isinstance(metric, (list, tuple)) else [metric]
    if not metrics: raise ValueError("metric is an empty list: give at least one metric, or None for the loss")
    aligned = isinstance(greater_is_better, (list, tuple))
    gibs = list(greater_is_better) if aligned else [greater_is_better] * len(metrics)
    if len(gibs) != len(metrics):
        raise ValueError(f"greater_is_better has {len(gibs)} values for {len(metrics)} metrics")
    override = aligned or len(metrics) == 1
    scorers = [_scorer(m, loss_func, learn_info, g, override) for m, g in zip(metrics, gibs)]
    names = [s.name for s in scorers]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes: raise ValueError(f"metric names must be distinct; repeated: {dupes}")
    return scorers
