"""Word n-grams of tokenised texts: candidate phrases with their support, and where each occurs in a text.
A phrase is matched on the words' normalised keys (lower case, markers dropped), so `Family visit`,
`FAMILY VISIT` and `family visit` are one phrase."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ..core.params import ParameterError

__all__ = ['ENGLISH_STOP_WORDS', 'stop_words', 'english_vocabulary', 'candidate_phrases', 'most_frequent',
           'occurrence_index', 'Phrase', 'phrases_of', 'overlap']

# A short list of English function words (and the pieces spaCy splits off): masking them everywhere
# disturbs a model without saying anything about the notes' content.
ENGLISH_STOP_WORDS = frozenset('''a an the and or but if so than then of to in on at for with by from into onto over under
after before about as is are was were be been being am it its this that these those there here which who whom whose
what when where why how will would can could should may might must shall do does did done has have had having i me my
we our us you your he him his she her they them their no not nor n't 's 'm 're 've 'll 'd also all any some each per
up out off very just only own same such too both few more most other'''.split())


# Words every English text uses: a vocabulary holding most of them among its frequent tokens is English.
_COMMON_ENGLISH = ('the', 'and', 'to', 'of', 'a', 'in', 'is', 'for', 'with', 'on', 'it', 'that', 'was', 'at', 'as')


def english_vocabulary(vocab) -> bool:
    "Whether a fastai vocabulary (tokens by frequency after the special ones) is English: most common words near the top."
    top = set(list(vocab)[:2000])
    return sum(w in top for w in _COMMON_ENGLISH) >= len(_COMMON_ENGLISH) // 2


def stop_words(exclude, vocab=None) -> tuple:
    """`(words, description)` for `exclude`: 'auto' (English stop words when `vocab` is English, else none), None
    (none), 'english' (the package's short list), or any collection of words."""
    if exclude is None: return frozenset(), 'nothing'
    if isinstance(exclude, str):
        if exclude == 'auto':
            if vocab is not None and english_vocabulary(vocab):
                return ENGLISH_STOP_WORDS, "English stop words (exclude='auto': the vocabulary is English)"
            return frozenset(), "nothing (exclude='auto': the vocabulary is not English)"
        if exclude != 'english':
            raise ParameterError('exclude', f"`exclude` must be 'auto', 'english', a list of words or None, got {exclude!r}")
        return ENGLISH_STOP_WORDS, "English stop words"
    try: words = frozenset(str(w).lower() for w in exclude)
    except TypeError:
        raise ParameterError('exclude', f"`exclude` must be 'auto', 'english', a list of words or None, got "
                                        f"{type(exclude).__name__}") from None
    return words, f"{len(words)} given word(s)"


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


def most_frequent(found: dict, top: int) -> list:
    "The `top` phrases of `{phrase: support}` by support (ties in word order)."
    return sorted(found, key=lambda g: (-found[g], g))[:top]


@dataclass(frozen=True)
class Phrase:
    "One reported phrase: its name as shown, `kind` ('word' or 'phrase'), `members` (for the table) and its words."
    name: str
    kind: str
    members: tuple
    words: tuple


def phrases_of(word_tuples) -> list:
    "A `Phrase` for each tuple of words."
    return [Phrase(' '.join(g), 'word' if len(g) == 1 else 'phrase', (' '.join(g),), tuple(g)) for g in word_tuples]


def overlap(a: tuple, b: tuple) -> bool:
    "Two phrases overlap when the shorter is a run of the longer's words ('verified' and 'verified purchase')."
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    return any(long_[i:i + len(short)] == short for i in range(len(long_) - len(short) + 1))
