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

from ..core.checks import shown, warn
from ..core.params import ParameterError
from ..core.seeding import subsample_indices
from .schema import TextSchema
from .units import word_units

__all__ = ['TextData', 'load_text', 'tokenize', 'training_mismatches', 'numericalize', 'phrase_words', 'phrase_list', 'word_keys', 'MULTI_LABEL_TEXT']

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
    """Token strings of raw texts as fastai tokenises them for a prediction (`learn.predict`, `get_preds` on
    `learn.dls.test_dl`): the learner's rules, then its tokenizer, and none of the post-rules its training data
    went through (`Tokenizer.encodes`). So the explained output is the prediction the user gets."""
    tok = schema.tokenizer
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return [list(t) for t in TokenizeWithRules(tok.tok, rules=tok.rules, post_rules=[])(texts)]


def training_mismatches(schema: TextSchema, tokens: list) -> list:
    """`(text index, token at prediction, token in training)` where fastai's training tokenization differs from its
    prediction-time one: training applies `replace_space` (a whitespace run becomes `▁` characters, a token the
    vocabulary knows) and prediction does not (the same run is a token the model never saw: `xxunk`)."""
    out = []
    for i, toks in enumerate(tokens):
        for t in toks:
            trained = t.replace(' ', '▁')
            if trained != t and trained in schema.o2i and t not in schema.o2i: out.append((i, t, trained))
    return out


def numericalize(schema: TextSchema, tokens: list) -> torch.Tensor:
    "Ids of token strings (an unknown token is `xxunk`); the learner's vocabulary is only read, never extended."
    return torch.tensor([schema.o2i.get(t, schema.unk_id) for t in tokens], dtype=torch.long)


def _strings(data, schema: TextSchema, text_col, param: str):
    "`(texts, frame or None, index)` from a string, a list, a Series or a DataFrame."
    if text_col is not None and not isinstance(data, pd.DataFrame):
        raise ParameterError('text_col', f"`text_col` names a column of a DataFrame, but `{param}` is a "
                                         f"{type(data).__name__}: pass the DataFrame, or leave `text_col` out")
    if isinstance(data, str): return [data], None, [0]
    if isinstance(data, pd.DataFrame):
        twice = sorted({str(c) for c in data.columns[data.columns.duplicated()]})
        if twice: raise ParameterError(param, f"`{param}` has duplicate column names {shown(twice)}; rename or drop them")
        col = text_col if text_col is not None else schema.text_col
        if col is None:
            raise ParameterError('text_col', f"this learner does not record its text column: pass `text_col=`, one of "
                                             f"{shown(data.columns, 10)}")
        if col not in data.columns:
            raise ParameterError('text_col', f"`{param}` has no text column {col!r} (the column this learner was built "
                                             f"from); it has {shown(data.columns, 10)}. Pass `text_col=` to use another "
                                             "column")
        return list(data[col]), data, list(data.index)
    if isinstance(data, pd.Series): return list(data), None, list(data.index)
    if isinstance(data, (list, tuple, np.ndarray)): return list(data), None, list(range(len(data)))
    raise ParameterError(param, f"`{param}` must be a string, a list of strings, a Series or a DataFrame, got "
                                f"{type(data).__name__}")


def _labels(schema: TextSchema, frame, label_col, param: str) -> torch.Tensor:
    col = label_col if label_col is not None else (schema.y_names[0] if schema.y_names else None)
    if col is None: raise ParameterError('label_col', "this learner does not record its label column: pass `label_col=`")
    if col not in frame.columns:
        raise ParameterError('label_col', f"`{param}` has no label column {col!r}: importance needs the true labels; "
                                          f"it has {shown(frame.columns, 10)}")
    y = frame[col]
    if y.isna().any():
        raise ParameterError(param, f"the label column {col!r} has missing values in {int(y.isna().sum())} row(s) of "
                                    f"`{param}`; drop those rows")
    if schema.y_vocab is None:
        values = pd.to_numeric(y, errors='coerce').to_numpy(dtype=float, na_value=np.nan)
        bad = ~np.isfinite(values)
        if bad.any():
            raise ParameterError(param, f"the label column {col!r} holds {int(bad.sum())} value(s) that are not finite "
                                        f"numbers (e.g. {y[bad].iloc[0]!r}); a regression's loss over them is "
                                        "meaningless: drop or fix those rows")
        return torch.tensor(values, dtype=torch.float32)
    unseen = pd.unique(y[~y.isin(schema.y_vocab)])
    if len(unseen):
        raise ParameterError(param, f"the label column {col!r} holds label(s) never seen in training: {shown(unseen)}; "
                                    f"the learner knows {shown(schema.y_vocab, 10)}")
    return torch.tensor([schema.y_vocab.index(v) for v in y], dtype=torch.long)


def load_text(learn, schema: TextSchema, data=None, *, text_col=None, label_col=None, labelled: bool = False,
              split: str = 'valid', fallback_warning: str | None = None, max_rows=None, rng=None, param: str = 'texts',
              hint: str = '', min_rows: int = 1) -> TextData:
    """Tokenised texts of `data` (the argument `param`: a string, list, Series or DataFrame; `labelled`: a
    DataFrame with the label column), or of the learner's `split` when None (`fallback_warning` is then given). `max_rows`
    caps the texts with a seeded sample from `rng`. Raw texts are tokenised as a prediction tokenises them, with a
    warning where that differs from how the training texts were tokenised."""
    if data is None:
        if fallback_warning: warn(fallback_warning)
        n = len(learn.dls.valid_ds if split == 'valid' else learn.dls.train_ds)
        source = 'validation set' if split == 'valid' else 'training set'
        if n == 0: raise ParameterError(param, f"the {source} is empty{hint}")
        idx = subsample_indices(n, max_rows, rng)
        ds = learn.dls.valid_ds if split == 'valid' else learn.dls.train_ds
        take = range(n) if idx is None else [int(i) for i in idx]
        items = [ds[i] for i in take]
        ids = [torch.as_tensor(x[0]).as_subclass(torch.Tensor).long() for x in items]
        target = torch.stack([torch.as_tensor(x[1]).as_subclass(torch.Tensor) for x in items]) if labelled else None
        tokens = [[schema.vocab[i] for i in x.tolist()] for x in ids]
        return TextData(tokens, ids, None, target, len(ids), source, list(take))
    texts, frame, index = _strings(data, schema, text_col, param)
    if labelled and frame is None:
        raise ParameterError(param, f"`{param}` must be a DataFrame with the text and label columns: importance needs "
                                    "the true labels")
    if not texts: raise ParameterError(param, f"`{param}` is empty: no text to explain{hint}")
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
    if bad: raise ParameterError(param, f"text(s) at position {shown(bad)} of `{param}` are not strings (e.g. "
                                        f"{texts[bad[0]]!r}); drop or fill them")
    empty = [i for i, t in enumerate(texts) if not t.strip()]
    if empty: raise ParameterError(param, f"text(s) at position {shown(empty)} are empty: there is nothing in them to explain")
    if len(texts) < min_rows: raise ParameterError(param, f"`{param}` holds {len(texts)} text(s); at least {min_rows} are needed")
    target = _labels(schema, frame, label_col, param) if labelled else None
    idx = subsample_indices(len(texts), max_rows, rng)
    if idx is not None:
        texts, index = [texts[i] for i in idx], [index[i] for i in idx]
        if target is not None: target = target[torch.as_tensor(idx)]
    tokens = tokenize(schema, texts)
    differ = training_mismatches(schema, tokens)
    if differ:
        n_texts = len({i for i, _, _ in differ})
        _, token, trained = differ[0]
        warn(f"{n_texts} of the {len(texts)} texts hold whitespace that fastai tokenises differently for a "
                      f"prediction than it did for training ({token!r} is unknown to the model, read as xxunk, where "
                      f"training saw {trained!r}): the explanation follows the prediction the model makes "
                      "(learn.predict, get_preds on learn.dls.test_dl), which differs from what it was trained on")
    return TextData(tokens, [numericalize(schema, t) for t in tokens], texts, target, len(texts),
                    'df' if frame is not None else 'texts', index)


def phrase_words(schema: TextSchema, phrase, param: str = 'candidates') -> tuple:
    """The normalised words of a phrase the user gave (`param` names the argument), tokenised as the learner
    tokenises. Refused: a phrase that is not a string, holds no word, or holds a word the model never saw
    (every token of it is xxunk, so masking it could change nothing)."""
    if not isinstance(phrase, str):
        raise ParameterError(param, f"`{param}` must hold phrases as strings, got {phrase!r} ({type(phrase).__name__})")
    tokens = tokenize(schema, [phrase])[0]
    words = word_units(tokens)
    if not words: raise ParameterError(param, f"{phrase!r} in `{param}` holds no words")
    unknown = [w.key for w in words if all(schema.o2i.get(tokens[p], schema.unk_id) == schema.unk_id for p in w.content)]
    if unknown:
        raise ParameterError(param, f"{phrase!r} in `{param}` holds word(s) the model never saw ({shown(unknown)}): "
                                    "they are read as xxunk, so masking them changes nothing; check the spelling or "
                                    "leave them out")
    return tuple(k for w in words for k in w.words)   # as written: 'zebra zebra zebra' is three words


def phrase_list(schema: TextSchema, phrases, param: str = 'candidates') -> list:
    "Each phrase's words (`phrase_words`), from a string or a list of strings, repeated phrases once."
    if isinstance(phrases, str): phrases = [phrases]
    if not isinstance(phrases, (list, tuple, set, pd.Series, np.ndarray)):
        raise ParameterError(param, f"`{param}` must be a phrase or a list of phrases, got {type(phrases).__name__}")
    words = list(dict.fromkeys(phrase_words(schema, p, param) for p in phrases))
    if not words: raise ParameterError(param, f"`{param}` is empty: give at least one phrase")
    return words


def word_keys(schema: TextSchema, data: TextData) -> list:
    "Per text, its words' keys, or None for a word the model never saw (no candidate can hold it)."
    return [[k if any(int(ids[p]) != schema.unk_id for p in w.content) else None
             for w in word_units(tokens) for k in w.words] for tokens, ids in zip(data.tokens, data.ids)]
