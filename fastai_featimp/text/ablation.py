"""Dataset-level ablation of phrases: one masked variant per (phrase, text containing it), the model's outputs on
all of them, and the change of a metric over the whole set (with paired bootstrap resamples of the texts).
Shared by phrase importance and the training callback."""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch

from ..core.checks import warn
from ..core.params import ParameterError
from ..core.stats import oriented
from .forward import text_forward
from .phrases import occurrence_index
from .units import units_at, word_units, written_words

__all__ = ['Ablation', 'build_ablation', 'build_present_ablation', 'ablation_outputs', 'metric_changes', 'ablation_importance', 'mean_deltas']


@dataclass
class Ablation:
    "The phrases scored and the texts' masked variants: `owner[v]` is variant v's phrase, `text_of[v]` its text."
    phrases: list            # tuples of words
    support: np.ndarray      # texts containing each phrase
    ids: list                # the texts' own ids
    variants: list           # the masked ids
    owner: torch.Tensor
    text_of: torch.Tensor

    @property
    def n_forward(self) -> int: return len(self.ids) + len(self.variants)


def build_ablation(tokens: list, ids: list, phrases, mask: str, unk_id: int) -> Ablation:
    """Mask every occurrence of each phrase (all tokens of its words, markers included) in every text that holds
    it: replaced by `xxunk` (mask='unk') or deleted. Phrases are ordered by support, most frequent first."""
    words = [word_units(t) for t in tokens]
    written = [written_words(ws) for ws in words]
    where = occurrence_index([keys for keys, _ in written], phrases)
    phrases = sorted(where, key=lambda g: (-len(where[g]), g))
    variants, owner, text_of = [], [], []
    for p, g in enumerate(phrases):
        for t, starts in sorted(where[g].items()):
            drop = torch.zeros(len(ids[t]), dtype=torch.bool)
            for s in starts:
                for w in units_at(words[t], written[t][1], s, len(g)): drop[w.positions] = True
            variants.append(torch.where(drop, torch.full_like(ids[t], unk_id), ids[t]) if mask == 'unk' else ids[t][~drop])
            owner.append(p); text_of.append(t)
    return Ablation(phrases, np.array([len(where[g]) for g in phrases]), list(ids), variants,
                    torch.tensor(owner, dtype=torch.long), torch.tensor(text_of, dtype=torch.long))


def build_present_ablation(tokens: list, ids: list, phrases, mask: str, unk_id: int, texts: str,
                           left_out: str) -> tuple:
    """`(ablation, absent)`: `build_ablation` of the phrases that occur in at least one text. A phrase in none would
    score exactly 0; those are named in a warning (`left_out` says what becomes of them), and an error when no phrase
    occurs. `texts` names the texts in the messages ('80 texts')."""
    ab = build_ablation(tokens, ids, phrases, mask, unk_id)
    absent = [' '.join(g) for g, k in zip(ab.phrases, ab.support) if k == 0]
    if not absent: return ab, absent
    shown = ', '.join(map(repr, absent[:5]))
    if len(absent) == len(ab.phrases):
        raise ParameterError('candidates', f"none of the `candidates` occurs in these {texts} ({shown})")
    warn(f"{len(absent)} of the candidates occur in none of the {texts} and {left_out}: {shown}")
    return build_ablation(tokens, ids, [g for g, k in zip(ab.phrases, ab.support) if k > 0], mask, unk_id), absent


def ablation_outputs(model, ab: Ablation, bs=None, progress=None, mapper=None) -> tuple:
    "`(outputs of the texts, outputs of the variants)`, all in one sorted same-length-batch run (`mapper`: see text_forward)."
    preds = text_forward(model, ab.ids + ab.variants, bs, progress=progress, mapper=mapper)
    return preds[:len(ab.ids)], preds[len(ab.ids):]


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


def mean_deltas(probs, base, variants, ab: Ablation, classes: torch.Tensor) -> np.ndarray:
    """Per phrase, the mean over the texts holding it of P(class) with the phrase minus P(class) without it
    (`classes[t]`: the class explained for text t; `probs`: the output activation)."""
    n = len(base)
    p_base = probs(base)[torch.arange(n), classes]
    p_var = probs(variants)[torch.arange(len(variants)), classes[ab.text_of]]
    sums = torch.zeros(len(ab.phrases), dtype=torch.double).index_add_(0, ab.owner, (p_base[ab.text_of] - p_var).double())
    out = (sums / torch.as_tensor(np.maximum(ab.support, 1))).numpy()
    out[ab.support == 0] = np.nan
    return out
