"""Units of a tokenised text (words, sentences, tokens) and where each sits in the original string.

fastai's rules rewrite the text before spaCy splits it: `Family` becomes `xxmaj family`, `ICU` becomes
`xxup icu`, `!!!!` becomes `xxrep 4 !`, `very very very` becomes `xxwrep 3 very`, and `xxbos` starts every
text. A word unit is one spaCy token with the markers that belong to it (a repetition group is one word);
`xxbos` and field markers are never units. Offsets are found by walking the original string alongside the
tokens, case-insensitively, so `text[Start:End]` is always the unit as the user wrote it."""
from __future__ import annotations

import difflib
import html
import re

import regex
from dataclasses import dataclass

from fastai.text.core import BOS, EOS, FLD, PAD, TK_MAJ, TK_REP, TK_UP, TK_WREP, UNK

__all__ = ['Unit', 'word_units', 'written_words', 'units_at', 'sentence_units', 'token_units', 'units_of', 'align', 'UNITS', 'MARKERS']

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
    words: tuple = ()              # the written words it stands for: `xxwrep 3 zebra` is one token for three words

    def __post_init__(self):
        if not self.words: self.words = (self.key,)


def _groups(tokens: list) -> list:
    """`(positions, kind)` for every token group: 'marker', 'repeat' (xxrep/xxwrep n x), 'field' (xxfld n),
    'space' (a whitespace token), 'skip' (xxbos), or 'content'."""
    out, i = [], 0
    while i < len(tokens):
        t = tokens[i]
        if t in (TK_REP, TK_WREP) and i + 2 < len(tokens):
            # `xxwrep 3 xxup zebra`: the case markers of the repeated word sit inside the group
            end = i + 2
            while end + 1 < len(tokens) and tokens[end] in MARKERS: end += 1
            out.append((list(range(i, end + 1)), 'repeat')); i = end + 1; continue
        if t == FLD: out.append(([i, i + 1] if i + 1 < len(tokens) else [i], 'skip')); i += 2; continue
        kind = ('skip' if t in NEVER else 'marker' if t in MARKERS else
                'space' if not t.replace('▁', ' ').strip() else 'content')
        out.append(([i], kind)); i += 1
    return out


def _repeat(tokens: list, positions: list) -> tuple:
    "`(marker, n, x)` of a repetition group `xxrep n x` / `xxwrep n [xxup|xxmaj] x`."
    n = tokens[positions[1]]
    return tokens[positions[0]], int(n) if n.isdigit() else 1, tokens[positions[-1]]


def _written(tokens: list, positions: list, kind: str) -> tuple:
    "The written words a group stands for, as keys: `xxwrep 3 zebra` is three words, `xxrep 4 !` one."
    if kind == 'repeat':
        marker, n, x = _repeat(tokens, positions)
        return (x * n,) if marker == TK_REP else (x,) * n
    return (' '.join(tokens[p] for p in positions).replace('▁', ' '),)


def word_units(tokens: list) -> list:
    "Word units: a content token or a repetition group, with the markers before it."
    units, pending = [], []
    for positions, kind in _groups(tokens):
        if kind == 'marker': pending += positions
        elif kind in ('content', 'repeat'):
            # the word's content is the token that carries it (a repetition group's count and markers are not)
            words = _written(tokens, positions, kind)
            content = positions[-1:] if kind == 'repeat' else positions
            units.append(Unit(pending + positions, content, ' '.join(words), words=words))
            pending = []
    return units


def written_words(units: list) -> tuple:
    """`(keys, owner)`: every written word of `units` in order (a repeated word once per repetition) and the index of
    the unit that carries it, so that phrases match the words as written and map back to the units holding them."""
    keys, owner = [], []
    for k, u in enumerate(units):
        keys += u.words; owner += [k] * len(u.words)
    return keys, owner


def units_at(units: list, owner: list, start: int, n: int) -> list:
    "The units holding the `n` written words from `start` (`written_words`' owner list), each once, in order."
    return [units[k] for k in dict.fromkeys(owner[start:start + n])]


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


def _rule_name(rule) -> str: return getattr(rule, '__name__', getattr(getattr(rule, 'func', None), '__name__', ''))


# fastai's fix_html, as its sequence of replacements (then html.unescape): replayed here with each character's origin
# tracked exactly, which a diff of the two strings cannot do ('....' becomes ' ….': which dots became the '…'?)
_FIX_HTML = [('#39;', "'"), ('amp;', '&'), ('#146;', "'"), ('nbsp;', ' '), ('#36;', '$'), ('\\n', '\n'),
             ('quot;', "'"), ('<br />', '\n'), ('\\"', '"'), ('<unk>', UNK), (' @.@ ', '.'), (' @-@ ', '-'),
             ('...', ' …')]
_CHARREF = re.compile(r'&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)')   # html.unescape's own pattern


def _tracked_sub(text: str, spans: list, matches) -> tuple:
    "`text` with each `(start, end, replacement)` of `matches` (in order, not overlapping) put in, spans carried."
    out, origin, at = [], [], 0
    for start, end, new in matches:
        out.append(text[at:start]); origin += spans[at:start]
        src = (spans[start][0], spans[end - 1][1]) if end > start else (spans[start - 1][1],) * 2 if start else (0, 0)
        out.append(new); origin += [src] * len(new)
        at = end
    out.append(text[at:]); origin += spans[at:]
    return ''.join(out), origin


def _fix_html_tracked(text: str, spans: list) -> tuple:
    for old, new in _FIX_HTML:
        found, at = [], text.find(old)
        while at >= 0:
            found.append((at, at + len(old), new)); at = text.find(old, at + len(old))
        if found: text, spans = _tracked_sub(text, spans, found)
    refs = []
    for m in _CHARREF.finditer(text):
        old, new = m.group(0), html.unescape(m.group(0))
        keep = 0   # what the entity leaves as it was at its end ('&ampx' -> '&x') keeps its own origin
        while keep < min(len(old), len(new)) - 1 and old[-1 - keep] == new[-1 - keep]: keep += 1
        if new != old: refs.append((m.start(), m.end() - keep, new[:len(new) - keep]))
    return _tracked_sub(text, spans, refs) if refs else (text, spans)


def _rewritten(text: str, rules) -> tuple:
    "The text after the character-rewriting rules, and for each of its characters the original span it came from."
    out, spans = text, [(i, i + 1) for i in range(len(text))]
    other = []
    for rule in rules or []:
        name = _rule_name(rule)
        if name in STRUCTURAL: continue
        if name == 'fix_html' and not other:
            tracked, tracked_spans = _fix_html_tracked(out, spans)
            if tracked == rule(out): out, spans = tracked, tracked_spans; continue
        other.append(rule)
    if not other: return out, spans
    before, before_spans = out, spans
    for rule in other: out = rule(out)
    if out == before: return out, spans
    # another rule rewrote characters: map back with a diff (exact for insertions and deletions of whole runs)
    mapped = [None] * len(out)
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, before, out, autojunk=False).get_opcodes():
        for j in range(j1, j2):
            if tag == 'equal': mapped[j] = before_spans[i1 + j - j1]
            elif i2 > i1: mapped[j] = (before_spans[i1][0], before_spans[i2 - 1][1])
            else: mapped[j] = (before_spans[i1 - 1][1],) * 2 if i1 else (0, 0)
    return out, mapped


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
            marker, n, x = _repeat(tokens, positions)
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
    return _whole_graphemes(text, _whole_words(text, tokens, units))


def _merge(last: Unit, u: Unit, end: int):
    "`u` folded into the unit before it, which then ends at `end`."
    last.positions, last.content = last.positions + u.positions, last.content + u.content
    last.key, last.end = last.key + u.key, max(last.end, end)
    last.words = (last.key,)


def _whole_words(text: str, tokens: list, units: list) -> list:
    """A written word fastai split around a run of repeated characters ('sooooo' is `s xxrep 5 o`) as one unit: a
    repetition group of letters or digits glued to the word beside it (no character between) is merged into it."""
    def repeats(u): return any(tokens[p] == TK_REP for p in u.positions)
    merged = []
    for u in units:
        last = merged[-1] if merged else None
        if (last is not None and last.end == u.start and 0 < u.start < len(text) and (repeats(u) or repeats(last))
                and text[u.start - 1].isalnum() and text[u.start].isalnum()): _merge(last, u, u.end)
        else: merged.append(u)
    return merged


def _whole_graphemes(text: str, units: list) -> list:
    """Units that split a grapheme cluster (an emoji joined by zero-width joiners, a flag, a letter with combining
    accents: one character to a reader, several to spaCy) merged into one unit covering the whole cluster."""
    start_of, end_of = list(range(len(text))), list(range(1, len(text) + 1))
    for m in regex.finditer(r'\X', text):
        for i in range(m.start(), m.end()): start_of[i], end_of[i] = m.start(), m.end()
    merged, split_last = [], False
    for u in units:
        lo = start_of[u.start] if u.start < len(text) else u.start
        hi = end_of[u.end - 1] if u.end > u.start else max(u.end, lo)
        split = (lo, hi) != (u.start, u.end)
        if merged and (split or split_last) and lo < merged[-1].end: _merge(merged[-1], u, hi)
        else:
            u.start, u.end = lo, hi
            merged.append(u)
        split_last = split
    return merged
