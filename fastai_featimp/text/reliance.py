"""Flagged phrases in texts: where each occurs (matched on the learner's own words, so case and markers do not
matter and a phrase never matches inside another word), at which characters of the text as written, and the text
with all of them removed as explanations remove a unit (xxunk, or deleted). Shared by `reliance` and by
`explain(..., flagged=)`."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..common.reliance import flagged_names
from .data import phrase_list
from .forward import text_forward

from .phrases import occurrence_index
from .units import align, units_at, word_units, written_words

__all__ = ['Occurrence', 'flagged_phrases', 'flagged_occurrences', 'without_flagged', 'reliance_outputs']


def flagged_phrases(schema, flagged) -> list:
    "The words of each flagged phrase: strings, or the `Variable`s of (the top rows of) a phrase-importance table."
    return phrase_list(schema, flagged_names(flagged, 'phrases'), param='flagged')


@dataclass(frozen=True)
class Occurrence:
    "One flagged phrase in one text: its name, the token positions it covers, and its characters in the text."
    phrase: str
    positions: tuple
    start: int
    end: int


def flagged_occurrences(tokens: list, texts: list, phrases: list, rules=None) -> list:
    """Per text, the `Occurrence`s of the flagged `phrases` (tuples of words), in text order. Offsets are found only
    for the texts that hold a phrase (the others are never aligned)."""
    words = [word_units(t) for t in tokens]
    written = [written_words(ws) for ws in words]
    where = occurrence_index([keys for keys, _ in written], phrases)
    found = [[] for _ in tokens]
    for g in phrases:
        for t, starts in where[g].items():
            found[t] += [(s, g) for s in starts]
    out = []
    for t, hits in enumerate(found):
        if not hits: out.append([]); continue
        # the words as written, with their offsets ('sooooo' is fastai's `s xxrep 5 o`, one written word)
        written_as = align(texts[t], tokens[t], word_units(tokens[t]), rules) if texts is not None and             texts[t] is not None else []
        whole = {p: u for u in written_as for p in u.positions}
        occ = {}
        for s, g in sorted(hits):
            ws = units_at(words[t], written[t][1], s, len(g))
            covered = [p for w in ws for p in w.positions]
            if any(not set(whole[p].positions) <= set(covered) for p in covered if p in whole): continue   # a piece
            first, last = whole.get(covered[0]), whole.get(covered[-1])
            o = Occurrence(' '.join(g), tuple(covered), first.start if first else 0, last.end if last else 0)
            occ.setdefault((o.phrase, o.positions), o)   # `zebra` three times in one `xxwrep 3 zebra`: one occurrence
        out.append(list(occ.values()))
    return out


def without_flagged(ids: torch.Tensor, occurrences: list, mask: str, unk_id: int) -> torch.Tensor:
    "The ids with every flagged occurrence's tokens (markers too) replaced by xxunk (mask='unk') or deleted."
    drop = torch.zeros(len(ids), dtype=torch.bool)
    for o in occurrences: drop[list(o.positions)] = True
    return torch.where(drop, torch.full_like(ids, unk_id), ids) if mask == 'unk' else ids[~drop]


def reliance_outputs(model, ids: list, occurrences: list, mask: str, unk_id: int, bs=None, progress=None) -> tuple:
    """`(raw outputs, raw outputs without the flagged phrases)` of every text: the texts holding a flagged phrase are
    run again without it; the others keep their output exactly, with no forward pass spent on them."""
    raw = text_forward(model, ids, bs, progress=progress)
    raw_without = raw.clone()
    holding = [i for i, occ in enumerate(occurrences) if occ]
    if holding:
        variants = [without_flagged(ids[i], occurrences[i], mask, unk_id) for i in holding]
        raw_without[torch.tensor(holding)] = text_forward(model, variants, bs, progress=progress)
    return raw, raw_without
