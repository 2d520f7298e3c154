"""The tabular kind: fastai learners over `TabularPandas` (`tabular_learner`, or `load_learner` of one). Its
variables are the learner's input columns (a FillMissing `_na` indicator belongs to its column)."""
from ..common.kinds import DataKind, register
from .tracking import TabularTracker
from .schema import is_tabular, tabular_schema
from .variables import tabular_variables

__all__ = ['TABULAR']

_M = 'fastai_featimp.methods.'

TABULAR = register(DataKind(
    name='tabular', learner='tabular data (tabular_learner)', recognises=is_tabular, schema=tabular_schema,
    variables=tabular_variables, tracker=TabularTracker,
    explanation_methods_=('exact', 'permutation'),
    methods={
        'evaluate_explanation': _M + 'tabular_faithfulness:evaluate_tabular_explanation',
        'compare_explanations': _M + 'compare_explanations:compare_explanations',
        'sanity_check': _M + 'sanity_check:sanity_check',
        'reliance': _M + 'tabular_reliance:tabular_reliance',
        'captum_inputs': _M + 'captum_tabular:tabular_captum_inputs',
        'feature_importance': _M + 'permutation:permutation_importance',
        'explain': _M + 'explain:explain',
        'feature_dependence': _M + 'dependence:feature_dependence',
        'partial_dependence': _M + 'partial_dependence:partial_dependence',
        'accumulated_local_effects': _M + 'partial_dependence:accumulated_local_effects',
        'drop_column_importance': _M + 'drop_column:drop_column_importance',
        'recursive_elimination': _M + 'drop_column:recursive_elimination',
        'explain_interactions': _M + 'interactions:explain_interactions',
        'interaction_strength': _M + 'interactions:interaction_strength',
    }))
