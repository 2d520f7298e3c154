"""Word n-grams of tokenised texts: candidate phrases with their support, and where each occurs in a text.
A phrase is matched on the words' normalised keys (lower case, markers dropped), so `Family visit`,
`FAMILY VISIT` and `family visit` are one phrase."""
from __future__ import annotations

from collections import Counter

__all__ = ['ENGLISH_STOP_WORDS', 'stop_words', 'candidate_phrases', 'occurrence_index']

# A short list of English function words (and the pieces spaCy splits off): masking them everywhere
# disturbs a model without saying anything about the notes' content.
ENGLISH_STOP_WORDS = frozenset('''a an the and or but if so than then of to in on at for with by from into onto over under
after before about as is are was were be been being am it its this that these those there here which who whom whose
what when where why how will would can could should may might must shall do does did done has have had having i me my
we our us you your he him his she her they them their no not nor n't 's 'm 're 've 'll 'd also all any some each per
up out off very just only own same such too both few more most other'''.split())


def stop_words(exclude) -> frozenset:
    "`exclude`: None, 'english' (the package's short list), or any collection of words."
    if exclude is None: return frozenset()
    if isinstance(exclude, str):
        if exclude != 'english': raise ValueError(f"exclude must be 'english', a list of words or None, got {exclude!r}")
        return ENGLISH_STOP_WORDS
    return frozenset(str(w).lower() for w in exclude)


def _usable(key) -> bool:
    "A word can be part of a candidate: the model knows it (None marks one it never saw) and it holds a letter or digit."
    return key is not None and any(c.isalnum() for c in key)


def candidate_phrases(keys_per_text: list, max_n: int, min_support: int, stop: frozenset) -> dict:
    """`{phrase words (tuple): support}`: word n-grams (n <= max_n) in at least `min_support` texts, made of usable
    words, neither starting nor ending with a stop word."""
    support = Counter()
    for keys in keys_per_text:
        seen = set()
        for n in range(1, max_n + 1):
            for i in range(len(keys) - n + 1):
                gram = tuple(keys[i:i + n])
                if all(_usable(k) for k in gram) and gram[0] not in stop and gram[-1] not in stop: seen.add(gram)
        support.update(seen)
    return {g: c for g, c in support.items() if c >= min_support}


def occurrence_index(keys_per_text: list, phrases) -> dict:
    "`{phrase: {text: [start word of each occurrence]}}` for every phrase, in one pass over the texts."
    wanted = set(phrases)
    lengths = sorted({len(p) for p in wanted})
    index = {p: {} for p in phrases}
    for t, keys in enumerate(keys_per_text):
        for n in lengths:
            for i in range(len(keys) - n + 1):
                gram = tuple(keys[i:i + n])
                if gram in wanted: index[gram].setdefault(t, []).append(i)
    return index
