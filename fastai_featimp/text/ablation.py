"""Dataset-level ablation of phrases: one masked variant per (phrase, text containing it), the model's outputs on
all of them, and the change of a metric over the whole set (with paired bootstrap resamples of the texts).
Shared by phrase importance and the training callback."""
from __future__ import annotations

import numpy as np
import torch

from ..core.checks import warn
from ..core.params import ParameterError
from ..common.ablation import Ablation, ablation_importance, metric_changes
from .forward import text_forward
from .phrases import occurrence_index
from .units import units_at, word_units, written_words

__all__ = ['Ablation', 'build_ablation', 'build_present_ablation', 'ablation_outputs', 'metric_changes', 'ablation_importance']


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
