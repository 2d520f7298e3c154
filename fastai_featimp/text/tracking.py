"""What the training callback scores on a text learner: phrase importance of the tracked phrases on held-out texts
and on a fixed sample of training texts, through the same ablation service as `feature_importance`."""
from __future__ import annotations

import numpy as np

from ..core.params import ParameterError
from .ablation import ablation_importance, ablation_outputs, build_ablation, build_present_ablation
from .data import MULTI_LABEL_TEXT, load_text, phrase_list, word_keys
from .forward import text_forward
from .phrases import candidate_phrases, most_frequent, overlap, phrases_of, stop_words

__all__ = ['TextTracker', 'DEFAULT_ROWS', 'DEFAULT_CANDIDATES']

DEFAULT_ROWS = 300        # texts per split: every phrase costs a forward pass per text holding it
DEFAULT_CANDIDATES = 40   # phrases tracked by default: the most frequent in the held-out texts (5% of them or more)


class TextTracker:
    "The texts, phrases and scoring of the callback on a text learner (see `methods/importance_callback.py`)."
    def __init__(self, setup, df, *, max_rows, train_rows, n_repeats, candidates, scorer, resamples):
        learn, schema = setup.learn, setup.schema
        if schema.multi_label: raise TypeError(MULTI_LABEL_TEXT)
        if n_repeats != 1:
            raise ParameterError('n_repeats', "`n_repeats` counts permutations of a tabular column; a text learner's "
                                              "phrases are masked, the same way every time: leave it at 1")
        self.scorer, self.loss_func = scorer, learn.loss_func
        held = load_text(learn, schema, df, labelled=True, max_rows=DEFAULT_ROWS if max_rows is None else max_rows,
                         rng=setup.stream('subsample'), param='df', hint=': pass `df=`, a labelled held-out DataFrame')
        train = load_text(learn, schema, None, labelled=True, split='train',
                          max_rows=DEFAULT_ROWS if train_rows is None else train_rows, rng=setup.stream('train rows'))
        if candidates is not None: phrases = phrase_list(schema, candidates)
        else:
            found = candidate_phrases(word_keys(schema, held), 2, max(10, int(0.05 * held.n_rows)),
                                      stop_words('auto', schema.vocab)[0])
            if not found: raise ParameterError('candidates', "no phrase occurs in 5% of the held-out texts: pass `candidates=`")
            phrases = most_frequent(found, DEFAULT_CANDIDATES)
        # a chosen phrase in none of the held-out texts would be tracked as exactly 0: left out, with a warning
        valid, absent = build_present_ablation(held.tokens, held.ids, phrases, 'unk', schema.unk_id,
                                               f'{held.n_rows} held-out texts', 'are not tracked')
        phrases = [g for g in phrases if ' '.join(g) not in absent]
        self.variables = phrases_of(phrases)
        self.splits = {}
        for name, d in (('valid', held), ('train', train)):
            ab = valid if name == 'valid' else build_ablation(d.tokens, d.ids, phrases, 'unk', schema.unk_id)
            order = {g: i for i, g in enumerate(ab.phrases)}     # build_ablation orders by support: keep ours
            self.splits[name] = (ab, d.target, resamples(d.n_rows, name), [order[g] for g in phrases])

    def overlaps(self, a: str, b: str) -> bool:
        "'verified' and 'verified purchase' overlap: masking either masks part of the other."
        words = {v.name: v.words for v in self.variables}
        return overlap(words[a], words[b])

    def outputs(self, model, split: str):
        ab, target, _, _ = self.splits[split]
        return text_forward(model, ab.ids), target

    def evaluate(self, model, split: str) -> tuple:
        "`(importance, std (none: masking is not random), bootstrap SE, baseline)` per tracked phrase on one split."
        ab, target, resamples, order = self.splits[split]
        base, variants = ablation_outputs(model, ab)
        full, reps = ablation_importance(self.scorer, self.loss_func, base, variants, ab, target, resamples)
        full, reps = full[order], reps[order]
        return full, np.full(len(full), np.nan), reps.std(1, ddof=1), float(self.scorer(base, target))
