"Which kind of data a fastai learner was built on, read from its data pipeline (not from the model class)."
from __future__ import annotations

__all__ = ['data_kind', 'method_kind']


def _pipeline_types(learn) -> set:
    "The type names of the transforms in the learner's training dataset pipelines."
    tfms = getattr(getattr(learn.dls, 'train_ds', None), 'tfms', None) or getattr(learn.dls, 'tfms', None) or []
    found = set()
    for pipe in (tfms if isinstance(tfms, (list, tuple)) or hasattr(tfms, '__iter__') else [tfms]):
        for t in getattr(pipe, 'fs', [pipe]): found.add(type(t).__name__)
    return found


def data_kind(learn) -> str:
    "'tabular' or 'text'; a TypeError naming what the learner is otherwise."
    from fastai.learner import Learner
    if not isinstance(learn, Learner):
        raise TypeError(f"expected a fastai Learner, got {type(learn).__module__}.{type(learn).__name__}")
    from fastai.tabular.core import Tabular
    train_ds = getattr(learn.dls, 'train_ds', None)
    if isinstance(train_ds, Tabular): return 'tabular'
    types = _pipeline_types(learn)
    if 'Numericalize' in types: return 'text'   # with fastai's Tokenizer, or ids numericalised another way
    raise TypeError(f"this package explains fastai learners over tabular data (tabular_learner) or text (a Tokenizer "
                    f"and Numericalize in the data pipeline, e.g. text_classifier_learner); this "
                    f"{type(learn).__name__} has {type(learn.dls).__name__} over {type(train_ds).__name__}")


def method_kind(learn) -> str:
    "'text' for a text learner, else 'tabular' (whose methods then say what they need when it is not tabular)."
    try: return data_kind(learn)
    except TypeError: return 'tabular'
