"""What a fastai text learner expects: its tokenizer and rules, its vocabulary, the raw text and label columns it
was built from, and what its outputs mean. A text learner is recognised by its data pipeline (a `Tokenizer`
and a `Numericalize`), whatever the model."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from fastai.data.transforms import Categorize, ColReader, EncodedMultiCategorize, MultiCategorize
from fastai.learner import Learner
from fastai.losses import BCEWithLogitsLossFlat
from fastai.text.core import PAD, UNK, BOS, Tokenizer
from fastai.text.data import Numericalize

from ..core.checks import shown
from ..core.state import eval_mode
from .forward import text_forward

__all__ = ['TextSchema', 'text_schema', 'is_text']


@dataclass
class TextSchema:
    "What the learner's text pipeline expects and what its outputs mean."
    tokenizer: object             # fastai's Tokenizer transform (its `tok` and `rules` are used)
    vocab: list                   # token strings, by id
    o2i: dict                     # token -> id (unknown tokens -> the `xxunk` id)
    unk_id: int
    pad_id: int
    bos_id: int | None
    text_col: str | None          # the raw text column the learner was built from (from_df), if known
    y_names: list                 # the label column(s), if known
    y_vocab: list | None          # labels of a single-label classifier, else None
    multi_label: bool
    n_out: int
    bptt: int | None              # tokens per chunk of a fastai SentenceEncoder (72), or None
    output_names: list | None = None   # the label of each output column (classes, labels, or targets)


def _pipelines(learn) -> list:
    "The x and y pipelines of the learner's dataset (kept by load_learner, which drops the data)."
    tfms = getattr(learn.dls.train_ds, 'tfms', None)
    return list(tfms) if tfms is not None else []


def _first(pipeline, kind):
    return next((f for f in getattr(pipeline, 'fs', []) if isinstance(f, kind)), None)


def is_text(learn) -> bool:
    return isinstance(learn, Learner) and any(_first(p, Numericalize) is not None for p in _pipelines(learn))


def _output_width(model, bos_id: int, unk_id: int) -> int:
    """The model's number of outputs, from one forward pass on a two-token text in eval mode: the last Linear module
    registered need not be the output layer of a custom model."""
    with eval_mode(model): out = text_forward(model, [torch.tensor([bos_id, unk_id])])
    return int(out.reshape(1, -1).shape[1])


def text_schema(learn) -> TextSchema:
    "Read what the text learner expects; a TypeError naming the learner when it is not a text learner."
    if not is_text(learn):
        raise TypeError(f"expected a fastai learner over text (a Tokenizer and Numericalize in its data pipeline, e.g. "
                        f"text_classifier_learner); got {type(learn).__name__} over {type(learn.dls).__name__}")
    pipes = _pipelines(learn)
    x_pipe = next(p for p in pipes if _first(p, Numericalize) is not None)
    tokenizer, num = _first(x_pipe, Tokenizer), _first(x_pipe, Numericalize)
    if tokenizer is None:
        raise TypeError("this text learner numericalises tokens it did not tokenise itself (no fastai Tokenizer in "
                        "its pipeline): the package needs the tokenizer to read raw text")
    text_cols = getattr(tokenizer, 'text_cols', None)
    text_cols = [text_cols] if isinstance(text_cols, str) else list(text_cols or [])
    if len(text_cols) > 1:
        raise TypeError(f"this learner reads several text columns {shown(text_cols)} joined with field markers; "
                        "explaining one column at a time is not supported")
    y_pipes = [p for p in pipes if p is not x_pipe]
    y_cols = [c for p in y_pipes for c in (getattr(_first(p, ColReader), 'cols', None) or [])]
    cat = next((f for p in y_pipes for f in p.fs if isinstance(f, Categorize)
                and not isinstance(f, (MultiCategorize, EncodedMultiCategorize))), None)
    multi = next((f for p in y_pipes for f in p.fs if isinstance(f, (MultiCategorize, EncodedMultiCategorize))), None)
    y_vocab = list(cat.vocab) if cat is not None and cat.vocab is not None else None
    multi_label = multi is not None or isinstance(learn.loss_func, BCEWithLogitsLossFlat)
    vocab, o2i = list(num.vocab), num.o2i
    n_out = _output_width(learn.model, o2i.get(BOS, 0), o2i.get(UNK, 0))
    encoder = next((m for m in learn.model.modules() if hasattr(m, 'bptt') and hasattr(m, 'pad_idx')), None)
    names = y_vocab or (list(multi.vocab) if multi is not None and multi.vocab is not None else [str(c) for c in y_cols])
    return TextSchema(tokenizer=tokenizer, vocab=vocab, o2i=o2i, unk_id=o2i.get(UNK, 0), pad_id=o2i.get(PAD, 1),
                      bos_id=o2i.get(BOS), text_col=text_cols[0] if text_cols else None,
                      y_names=[str(c) for c in y_cols], y_vocab=y_vocab, multi_label=multi_label, n_out=n_out,
                      bptt=getattr(encoder, 'bptt', None), output_names=names if len(names) == n_out else None)
