"""The text kind: fastai learners whose data pipeline holds a `Tokenizer` and a `Numericalize`
(`text_classifier_learner`, or a plain `Learner` with any model over text DataLoaders). Its units are words,
sentences or tokens of each text (`text/adapter.py`); over a set of texts, phrases."""
from ..common.kinds import DataKind, register
from .tracking import TextTracker
from .schema import is_text, text_schema

__all__ = ['TEXT']

TEXT = register(DataKind(
    name='text', learner='text (a Tokenizer and Numericalize in the data pipeline, e.g. text_classifier_learner)',
    recognises=is_text, schema=text_schema, adapter_class='fastai_featimp.text.adapter:TextAdapter',
    tracker=TextTracker,
    methods={'feature_importance': 'fastai_featimp.text.phrase_importance:phrase_importance'}))
