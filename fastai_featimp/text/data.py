"""The one way user data becomes tensors for a text learner: raw strings (a string, a list, a Series, or a
DataFrame holding the learner's text column) are tokenised with the learner's own tokenizer and rules and
numericalised with its vocabulary, exactly as its training texts were; labels are encoded with its label
vocabulary. The learner's own splits are read from its datasets, without iterating a DataLoader."""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from fastai.text.core import TokenizeWithRules

from ..core.checks import shown
from ..core.seeding import subsample_indices
from .schema import TextSchema
from .units import word_units

__all__ = ['TextData', 'load_text', 'tokenize', 'numericalize', 'phrase_words', 'word_keys', 'MULTI_LABEL_TEXT']

MULTI_LABEL_TEXT = ("phrase importance scores single-label classifiers and regressions; this text learner is "
                    "multi-label: explain its texts with learn.explain, one label at a time (target=)")


@dataclass
class TextData:
    "Tokenised texts: token strings and ids per text, the original strings where known, encoded labels."
    tokens: list              # per text, its token strings (`xxbos` first)
    ids: list                 # per text, a LongTensor of token ids
    texts: list | None        # the original strings (None for the learner's own, already tokenised rows)
    target: torch.Tensor | None
    n_rows: int
    source: str
    index: list               # the row labels of a Series or DataFrame, else positions


def tokenize(schema: TextSchema, texts: list) -> list:
    "Token strings of raw texts, by the learner's tokenizer and rules, as fastai's tokenize_df made its training data."
    tok = schema.tokenizer
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return [list(t) for t in TokenizeWithRules(tok.tok, rules=tok.rules)(texts)]


def numericalize(schema: TextSchema, tokens: list) -> torch.Tensor:
    "Ids of token strings (an unknown token is `xxunk`); the learner's vocabulary is only read, never extended."
    return torch.tensor([schema.o2i.get(t, schema.unk_id) for t in tokens], dtype=torch.long)


def _strings(data, schema: TextSchema, text_col):
    "`(texts, frame or None, index)` from a string, a list, a Series or a DataFrame."
    if isinstance(data, str): return [data], None, [0]
    if isinstance(data, pd.DataFrame):
        col = text_col if text_col is not None else schema.text_col
        if col is None:
            raise ValueError(f"this learner does not record its text column: pass text_col=, one of {shown(data.columns, 10)}")
        if col not in data.columns:
            raise ValueError(f"the DataFrame has no text column {col!r} (the column this learner was built from); it has "
                             f"{shown(data.columns, 10)}. Pass text_col= to use another column")
        return list(data[col]), data, list(data.index)
    if isinstance(data, pd.Series): return list(data), None, list(data.index)
    if isinstance(data, (list, tuple, np.ndarray)): return list(data), None, list(range(len(data)))
    raise TypeError(f"texts must be a string, a list of strings, a Series or a DataFrame, got {type(data).__name__}")


def _labels(schema: TextSchema, frame, label_col) -> torch.Tensor:
    col = label_col if label_col is not None else (schema.y_names[0] if schema.y_names else None)
    if col is None: raise ValueError("this learner does not record its label column: pass label_col=")
    if col not in frame.columns:
        raise ValueError(f"the DataFrame has no label column {col!r}: importance needs the true labels; it has "
                         f"{shown(frame.columns, 10)}")
    y = frame[col]
    if y.isna().any(): raise ValueError(f"the label column {col!r} has missing values in {int(y.isna().sum())} row(s); drop those rows")
    if schema.y_vocab is None: return torch.tensor(y.to_numpy(float), dtype=torch.float32)
    unseen = pd.unique(y[~y.isin(schema.y_vocab)])
    if len(unseen):
        raise ValueError(f"the label column {col!r} holds label(s) never seen in training: {shown(unseen)}; the learner "
                         f"knows {shown(schema.y_vocab, 10)}")
    return torch.tensor([schema.y_vocab.index(v) for v in y], dtype=torch.long)


def load_text(learn, schema: TextSchema, data=None, *, text_col=None, label_col=None, labelled: bool = False,
              split: str = 'valid', warn: str | None = None, max_rows=None, rng=None, what: str = 'texts',
              hint: str = '') -> TextData:
    """Tokenised texts of `data` (a string, list, Series or DataFrame; `labelled`: a DataFrame with the label
    column), or of the learner's `split` when None (`warn` is then given). `max_rows` caps the texts with a
    seeded sample from `rng`."""
    if data is None:
        if warn: warnings.warn(warn, UserWarning, stacklevel=4)
        n = len(learn.dls.valid_ds if split == 'valid' else learn.dls.train_ds)
        source = 'validation set' if split == 'valid' else 'training set'
        if n == 0: raise ValueError(f"the {source} is empty{hint}")
        idx = subsample_indices(n, max_rows, rng)
        ds = learn.dls.valid_ds if split == 'valid' else learn.dls.train_ds
        take = range(n) if idx is None else [int(i) for i in idx]
        items = [ds[i] for i in take]
        ids = [torch.as_tensor(x[0]).as_subclass(torch.Tensor).long() for x in items]
        target = torch.stack([torch.as_tensor(x[1]).as_subclass(torch.Tensor) for x in items]) if labelled else None
        tokens = [[schema.vocab[i] for i in x.tolist()] for x in ids]
        return TextData(tokens, ids, None, target, len(ids), source, list(take))
    texts, frame, index = _strings(data, schema, text_col)
    if labelled and frame is None:
        raise ValueError(f"{what} must be a DataFrame with the text and label columns: importance needs the true labels")
    if not texts: raise ValueError(f"the {what} are empty: no text to explain{hint}")
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
    if bad: raise ValueError(f"text(s) at position {shown(bad)} are not strings (e.g. {texts[bad[0]]!r}); drop or fill them")
    empty = [i for i, t in enumerate(texts) if not t.strip()]
    if empty: raise ValueError(f"text(s) at position {shown(empty)} are empty: there is nothing in them to explain")
    target = _labels(schema, frame, label_col) if labelled else None
    idx = subsample_indices(len(texts), max_rows, rng)
    if idx is not None:
        texts, index = [texts[i] for i in idx], [index[i] for i in idx]
        if target is not None: target = target[torch.as_tensor(idx)]
    tokens = tokenize(schema, texts)
    return TextData(tokens, [numericalize(schema, t) for t in tokens], texts, target, len(texts), 'df' if frame is not None else 'texts', index)


def phrase_words(schema: TextSchema, phrase: str) -> tuple:
    "The normalised words of a phrase the user gave, tokenised as the learner tokenises."
    keys = tuple(u.key for u in word_units(tokenize(schema, [phrase])[0]))
    if not keys: raise ValueError(f"candidate {phrase!r} holds no words")
    return keys


def word_keys(schema: TextSchema, data: TextData) -> list:
    "Per text, its words' keys, or None for a word the model never saw (no candidate can hold it)."
    return [[w.key if any(int(ids[p]) != schema.unk_id for p in w.content) else None for w in word_units(tokens)]
            for tokens, ids in zip(data.tokens, data.ids)]
