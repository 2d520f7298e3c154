"""The metric change when a unit is removed in every item that holds it, over a whole labelled set, with paired
bootstrap resamples of the items: what every kind's dataset-level importance reports (text phrases, image regions,
a registered kind's units), and the training callback. The `Ablation` says which masked variant belongs to which unit
and item; the engine (or a kind's own estimator, text's phrases) runs the model; this module only scores."""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch

from ..core.stats import oriented, summarize_bootstrap
from .outputs import is_binary

__all__ = ['Ablation', 'metric_changes', 'ablation_importance', 'mean_deltas', 'Scored', 'removal_importance', 'mean_delta_target']


@dataclass
class Ablation:
    "The units scored (phrases, regions) and the items' masked variants: `owner[v]` is variant v's phrase, `text_of[v]` its text."
    phrases: list            # tuples of words
    support: np.ndarray      # texts containing each phrase
    ids: list                # the texts' own ids
    variants: list           # the masked ids
    owner: torch.Tensor
    text_of: torch.Tensor

    @property
    def n_forward(self) -> int: return len(self.ids) + len(self.variants)


def _per_text_loss(loss_func):
    "A copy of the loss giving one value per text (reduction 'none') where the loss offers it, else None."
    if not hasattr(loss_func, 'reduction'): return None
    per_item = copy.deepcopy(loss_func)
    try: per_item.reduction = 'none'
    except Exception: return None
    return per_item


def metric_changes(scorer, loss_func, base, variants, ab: Ablation, target, resamples) -> tuple:
    """`(full, replicates)`: the metric change (masked - original) per phrase over the whole set and over each
    bootstrap resample of the texts (paired: the same texts with and without the phrase). The loss is split
    into per-text losses (one matrix product for every resample) when it can be; any other metric is scored on
    every resample."""
    n, n_phrases = len(base), len(ab.phrases)
    per_item = _per_text_loss(loss_func) if scorer.name == 'loss' else None
    if per_item is not None:
        with torch.no_grad(): l0, lv = per_item(base, target).double(), per_item(variants, target[ab.text_of]).double()
        if l0.shape == (n,) and torch.isclose(l0.mean(), torch.as_tensor(float(loss_func(base, target)), dtype=torch.double)):
            diff = torch.zeros(n_phrases, n, dtype=torch.double)
            diff[ab.owner, ab.text_of] = lv - l0[ab.text_of]      # change of each text's loss when masked
            counts = np.stack([np.bincount(r, minlength=n) for r in resamples]) if resamples else np.zeros((0, n))
            return diff.mean(1).numpy(), (diff.numpy() @ counts.T) / n
    full, reps = np.empty(n_phrases), np.empty((n_phrases, len(resamples)))
    base_score = scorer(base, target)
    base_reps = [scorer(base[r], target[r]) for r in resamples]
    for p in range(n_phrases):
        preds, sel = base.clone(), ab.owner == p
        preds[ab.text_of[sel]] = variants[sel]
        full[p] = scorer(preds, target) - base_score
        reps[p] = [scorer(preds[r], target[r]) - b for r, b in zip(resamples, base_reps)]
    return full, reps


def ablation_importance(scorer, loss_func, base, variants, ab: Ablation, target, resamples) -> tuple:
    """`(full, replicates)` of `metric_changes` as drops in quality (positive when masking the phrase hurts),
    whatever the metric's direction: the one service behind phrase importance and the training callback."""
    full, reps = metric_changes(scorer, loss_func, base, variants, ab, target, resamples)
    return oriented(full, scorer.greater_is_better), oriented(reps, scorer.greater_is_better)


@dataclass
class Scored:
    "One metric's importances: the change over the whole set, the bootstrap replicates, their summary, the baseline."
    full: np.ndarray
    replicates: np.ndarray
    summary: dict
    baseline: float


def mean_deltas(activation, base, variants, ab: Ablation, classes: torch.Tensor) -> np.ndarray:
    """Per unit, the mean over the items holding it of P(class) as given minus P(class) with it removed (`classes[t]`:
    the class explained for item t); NaN for a unit no item holds."""
    n = len(base)
    p_base = activation(base)[torch.arange(n), classes]
    p_var = activation(variants)[torch.arange(len(variants)), classes[ab.text_of]]
    sums = torch.zeros(len(ab.phrases), dtype=torch.double).index_add_(0, ab.owner, (p_base[ab.text_of] - p_var).double())
    out = (sums / torch.as_tensor(np.maximum(ab.support, 1))).numpy()
    out[ab.support == 0] = np.nan
    return out


def removal_importance(s, scorers, base, variants, ab: Ablation, target, n_bootstrap: int) -> tuple:
    """`({metric name: Scored}, mean_delta)`: each metric's drop in quality when each unit is removed (positive when
    removing it hurts, whatever the metric's direction), with `n_bootstrap` paired resamples of the items drawn from
    the call's 'bootstrap' stream; `mean_delta` per unit for a classifier's target (a binary model's positive class,
    else each item's true class), NaN for a regression."""
    n = len(base)
    for sc in scorers: sc.check_responds(base, target)
    mean_delta = np.full(len(ab.phrases), np.nan)
    if s.schema.y_vocab is not None:
        classes = torch.full((n,), 1) if is_binary(s.schema) else target.long().view(-1)
        mean_delta = mean_deltas(s.activation, base, variants, ab, classes)
    rng = s.stream('bootstrap')
    resamples = [rng.integers(0, n, n) for _ in range(n_bootstrap)]
    scored = {}
    for sc in scorers:
        full, reps = ablation_importance(sc, s.learn.loss_func, base, variants, ab, target, resamples)
        scored[sc.name] = Scored(full, reps, summarize_bootstrap(full, reps), float(sc(base, target)))
    return scored, mean_delta


def mean_delta_target(s, item: str) -> str:
    "What `MeanDelta` is the probability of, in words."
    return ('positive class ' + str(s.schema.y_vocab[1])) if is_binary(s.schema) else f"each {item}'s true class"
