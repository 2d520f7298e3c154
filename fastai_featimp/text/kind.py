"""The text kind: fastai learners whose data pipeline holds a `Tokenizer` and a `Numericalize`
(`text_classifier_learner`, or a plain `Learner` with any model over text DataLoaders). Its variables are units
of the texts (words, sentences or tokens) and, over a set of texts, phrases."""
from ..common.kinds import DataKind, register
from .data import load_text
from .tracking import TextTracker
from .schema import is_text, text_schema
from .units import UNITS

__all__ = ['TEXT']

_M = 'fastai_featimp.methods.'

TEXT = register(DataKind(
    name='text', learner='text (a Tokenizer and Numericalize in the data pipeline, e.g. text_classifier_learner)',
    recognises=is_text, schema=text_schema, load=load_text, units=UNITS, variables=None,
    tracker=TextTracker,
    explanation_methods=('shapley', 'occlusion', 'integrated_gradients'),
    methods={
        'evaluate_explanation': _M + 'text_faithfulness:evaluate_text_explanation',
        'compare_explanations': _M + 'compare_explanations:compare_explanations',
        'sanity_check': _M + 'sanity_check:sanity_check',
        'reliance': _M + 'text_reliance:text_reliance',
        'captum_inputs': _M + 'captum_text:text_captum_inputs',
        'feature_importance': _M + 'text_importance:phrase_importance',
        'explain': _M + 'text_explain:explain_text',
    }))
