"""Units of a tokenised text (words, sentences, tokens) and where each sits in the original string.

fastai's rules rewrite the text before spaCy splits it: `Family` becomes `xxmaj family`, `ICU` becomes
`xxup icu`, `!!!!` becomes `xxrep 4 !`, `very very very` becomes `xxwrep 3 very`, and `xxbos` starts every
text. A word unit is one spaCy token with the markers that belong to it (a repetition group is one word);
`xxbos` and field markers are never units. Offsets are found by walking the original string alongside the
tokens, case-insensitively, so `text[Start:End]` is always the unit as the user wrote it."""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from fastai.text.core import BOS, EOS, FLD, PAD, TK_MAJ, TK_REP, TK_UP, TK_WREP

__all__ = ['Unit', 'word_units', 'sentence_units', 'token_units', 'units_of', 'align', 'UNITS']

UNITS = ('word', 'sentence', 'token')
MARKERS = {TK_MAJ, TK_UP}          # belong to the word that follows
NEVER = {BOS, EOS, PAD}            # never units
SENTENCE_END = {'.', '!', '?', '…'}
WINDOW = 64                        # how far ahead a token is looked for before it counts as rewritten


@dataclass
class Unit:
    "A unit of a text: its token positions (markers included), its content positions, and its normalised key."
    positions: list
    content: list
    key: str                       # lower-case content, for matching phrases across texts
    start: int = 0                 # character offsets in the original text (set by `align`)
    end: int = 0


def _groups(tokens: list) -> list:
    """`(positions, kind)` for every token group: 'marker', 'repeat' (xxrep/xxwrep n x), 'field' (xxfld n),
    'space' (a whitespace token), 'skip' (xxbos), or 'content'."""
    out, i = [], 0
    while i < len(tokens):
        t = tokens[i]
        if t in (TK_REP, TK_WREP) and i + 2 < len(tokens): out.append(([i, i + 1, i + 2], 'repeat')); i += 3; continue
        if t == FLD: out.append(([i, i + 1] if i + 1 < len(tokens) else [i], 'skip')); i += 2; continue
        kind = ('skip' if t in NEVER else 'marker' if t in MARKERS else
                'space' if not t.replace('▁', ' ').strip() else 'content')
        out.append(([i], kind)); i += 1
    return out


def _key(tokens: list, positions: list, kind: str) -> str:
    if kind == 'repeat':
        marker, n, x = (tokens[p] for p in positions)
        n = int(n) if n.isdigit() else 1
        return x * n if marker == TK_REP else ' '.join([x] * n)
    return ' '.join(tokens[p] for p in positions).replace('▁', ' ')


def word_units(tokens: list) -> list:
    "Word units: a content token or a repetition group, with the markers before it."
    units, pending = [], []
    for positions, kind in _groups(tokens):
        if kind == 'marker': pending += positions
        elif kind in ('content', 'repeat'):
            units.append(Unit(pending + positions, positions, _key(tokens, positions, kind)))
            pending = []
    return units


def sentence_units(tokens: list, words: list | None = None) -> list:
    "Sentence units: runs of words ended by '.', '!', '?', '…' or a line break."
    words = word_units(tokens) if words is None else words
    breaks = {p for positions, kind in _groups(tokens) if kind == 'space' and '\n' in tokens[positions[0]]
              for p in positions}
    sentences, current = [], []
    for k, w in enumerate(words):
        current.append(w)
        following = words[k + 1].positions[0] if k + 1 < len(words) else len(tokens)
        if w.key in SENTENCE_END or any(p in breaks for p in range(w.positions[-1] + 1, following)):
            sentences.append(current); current = []
    if current: sentences.append(current)
    return [Unit([p for w in s for p in w.positions], [p for w in s for p in w.content], ' '.join(w.key for w in s))
            for s in sentences]


def token_units(tokens: list) -> list:
    "Every token but `xxbos`, whitespace and field markers, as its own unit."
    return [Unit([p], [p], tokens[p]) for positions, kind in _groups(tokens) if kind in ('content', 'marker', 'repeat')
            for p in positions]


def units_of(tokens: list, unit: str) -> list:
    if unit == 'word': return word_units(tokens)
    if unit == 'sentence': return sentence_units(tokens)
    return token_units(tokens)


# fastai's rules that only move, mark or re-case characters: the alignment follows them itself. Any other rule
# (fix_html, a custom one) rewrites characters and is applied before aligning, then mapped back.
STRUCTURAL = {'replace_rep', 'replace_wrep', 'spec_add_spaces', 'rm_useless_spaces', 'replace_all_caps',
              'replace_maj', 'lowercase'}


def _rewritten(text: str, rules) -> tuple:
    "The text after the character-rewriting rules, and for each of its characters the original span it came from."
    out = text
    for rule in rules or []:
        if getattr(rule, '__name__', getattr(getattr(rule, 'func', None), '__name__', '')) not in STRUCTURAL: out = rule(out)
    if out == text: return text, [(i, i + 1) for i in range(len(text))]
    spans = [None] * len(out)
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, text, out, autojunk=False).get_opcodes():
        for j in range(j1, j2): spans[j] = (i1 + j - j1, i1 + j - j1 + 1) if tag == 'equal' else (i1, i2)
    return out, spans


def _lowered(text: str) -> tuple:
    "The text lower-cased character by character, with each lowered character's index in `text`."
    chars, index = [], []
    for i, ch in enumerate(text):
        for c in ch.lower(): chars.append(c); index.append(i)
    return ''.join(chars), index


def _token_spans(text: str, tokens: list, rules=None) -> dict:
    "Character span `(start, end)` in the original text of every token group found (keyed by its first position)."
    rewritten, origin = _rewritten(text, rules)
    low, index = _lowered(rewritten)
    spans, cursor = {}, 0
    def found(a, b):
        nonlocal cursor
        cursor = b
        return (origin[index[a]][0], origin[index[b - 1]][1])
    for positions, kind in _groups(tokens):
        if kind in ('skip', 'marker'): continue
        if kind == 'space':
            t = tokens[positions[0]].replace('▁', ' ')
            j = low.find(t, cursor, cursor + WINDOW + len(t))
            if j >= 0 and t: cursor = j + len(t)
            continue
        at = cursor
        while at < len(low) and low[at].isspace(): at += 1
        if kind == 'repeat':
            marker, n, x = (tokens[p] for p in positions)
            n = int(n) if n.isdigit() else 1
            pattern = re.escape(x) * n if marker == TK_REP else re.escape(x) + rf'(?:\s+{re.escape(x)}){{{n - 1}}}'
            m = re.compile(pattern).search(low, at, at + WINDOW + n * (len(x) + 2))
            if m: spans[positions[0]] = found(m.start(), m.end())
            continue
        t = tokens[positions[0]].replace('▁', ' ')
        # punctuation stands right where the cursor is; a word may sit past characters the rules dropped
        reach = WINDOW if any(c.isalnum() for c in t) else 2
        j = at if low.startswith(t, at) else low.find(t, at, at + reach + len(t))
        if j >= 0: spans[positions[0]] = found(j, j + len(t))
    return spans


def align(text: str, tokens: list, units: list, rules=None) -> list:
    """Set each unit's `start`/`end` in `text`. A marker takes the span of the word it marks; a token the rules
    rewrote beyond recognition (an HTML entity) takes the stretch between its neighbours, so `text[start:end]`
    is always what stands there."""
    spans = _token_spans(text, tokens, rules)
    heads = sorted(spans)
    head_of = {p: positions[0] for positions, _ in _groups(tokens) for p in positions}
    def bounds(position):
        head = head_of.get(position, position)
        if head in spans: return spans[head]
        if tokens[position] in MARKERS:
            after = [h for h in heads if h > position]
            if after: return spans[after[0]]
        before = [spans[h][1] for h in heads if h < head]
        after = [spans[h][0] for h in heads if h > head]
        lo, hi = (before[-1] if before else 0), (after[0] if after else len(text))
        while lo < hi and text[lo].isspace(): lo += 1
        while hi > lo and text[hi - 1].isspace(): hi -= 1
        return lo, hi
    for u in units:
        (s0, _), (_, e1) = bounds(u.content[0]), bounds(u.content[-1])
        u.start, u.end = s0, max(s0, e1)
    return units
