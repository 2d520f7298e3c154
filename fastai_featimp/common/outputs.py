"""What a model output means: the activation fastai applies for 'probability', the label of each output
column, and which output a method explains by default."""
from __future__ import annotations

from ..core.checks import check_choice
from ..core.params import ParameterError

__all__ = ['output_activation', 'output_kind', 'output_labels', 'target_index', 'is_binary', 'default_target']


def output_activation(learn, output: str):
    "Raw outputs -> explained quantity: the loss's activation for 'probability' (softmax, sigmoid, identity), else none."
    check_choice('output', output, ('probability', 'raw'))
    act = getattr(learn.loss_func, 'activation', None) if output == 'probability' else None
    return (lambda p: act(p)) if act is not None else (lambda p: p)


def output_kind(schema, output: str) -> str:
    """What an explained number is, for labels: 'probability' (a classifier after its activation), 'value'
    (a regression's prediction, in the target's units) or 'raw' (a classifier's logit)."""
    if schema.y_vocab is None and not schema.multi_label: return 'value'
    return output


def output_labels(learn, schema) -> list:
    "Names of the model's output columns: class labels, multi-label names, or regression targets."
    if getattr(schema, 'output_names', None) is not None: return list(schema.output_names)   # read from the pipeline
    if schema.y_vocab is not None: return list(schema.y_vocab)
    vocab = getattr(learn.dls, 'vocab', None) if schema.multi_label else None
    return list(vocab) if vocab is not None and len(vocab) == schema.n_out else list(schema.y_names)


def target_index(labels: list, target=None, default: int | None = None) -> int:
    "Position of `target` among the output labels; with no target, `default`, or the only output."
    if target is None:
        if default is not None: return default
        if len(labels) == 1: return 0
        raise ParameterError('target', f"this model has several outputs {labels}: pass `target=` to choose one")
    if target not in labels: raise ParameterError('target', f"unknown `target` {target!r}; the model's outputs are {labels}")
    return labels.index(target)


def is_binary(schema) -> bool:
    "A single-label classifier with two classes: its second class is the positive one."
    return schema.y_vocab is not None and len(schema.y_vocab) == 2


def default_target(schema, labels: list, target=None, predicted: int | None = None) -> int:
    """The output a method explains: `target` when given; else the positive class of a binary classifier
    (the same for every row, so summaries of many rows are coherent), the `predicted` class of a classifier
    with more classes, or the only output of a regression."""
    if target is not None or is_binary(schema): return target_index(labels, target, 1 if is_binary(schema) else None)
    classifier = schema.y_vocab is not None or schema.multi_label
    return target_index(labels, None, predicted if classifier else None)
