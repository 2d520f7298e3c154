"Which kind of data a fastai learner was built on, as each adapter recognises it (by the data pipeline, not the model)."
from __future__ import annotations

__all__ = ['data_kind', 'method_kind']


def data_kind(learn) -> str:
    "'tabular' or 'text'; a TypeError naming what the learner is otherwise."
    from fastai.learner import Learner
    from ..tabular.schema import is_tabular
    from ..text.schema import is_text
    if not isinstance(learn, Learner):
        raise TypeError(f"expected a fastai Learner, got {type(learn).__module__}.{type(learn).__name__}")
    if is_tabular(learn): return 'tabular'
    if is_text(learn): return 'text'
    raise TypeError(f"this package explains fastai learners over tabular data (tabular_learner) or text (a Tokenizer "
                    f"and Numericalize in the data pipeline, e.g. text_classifier_learner); this "
                    f"{type(learn).__name__} has {type(learn.dls).__name__} over "
                    f"{type(getattr(learn.dls, 'train_ds', None)).__name__}")


def method_kind(learn) -> str:
    "'text' for a text learner, else 'tabular' (whose methods then say what they need when it is not tabular)."
    try: return data_kind(learn)
    except TypeError: return 'tabular'
