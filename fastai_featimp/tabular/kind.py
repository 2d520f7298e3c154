"""The tabular kind: fastai learners over `TabularPandas` (`tabular_learner`, or `load_learner` of one). Its
units are the learner's input columns (a FillMissing `_na` indicator belongs to its column; `tabular/adapter.py`)."""
from ..common.kinds import DataKind, register
from .schema import is_tabular, tabular_schema
from .variables import tabular_variables

__all__ = ['TABULAR']

_M = 'fastai_featimp.tabular.'

TABULAR = register(DataKind(
    name='tabular', learner='tabular data (tabular_learner)', recognises=is_tabular, schema=tabular_schema,
    adapter_class='fastai_featimp.tabular.adapter:TabularAdapter', variables=tabular_variables,
    methods={   # the engine's capabilities (feature_importance, explain, reliance, ...) come with the adapter; these are a table's own
        'feature_dependence': _M + 'dependence:feature_dependence',
        'partial_dependence': _M + 'partial_dependence:partial_dependence',
        'accumulated_local_effects': _M + 'partial_dependence:accumulated_local_effects',
        'drop_column_importance': _M + 'drop_column:drop_column_importance',
        'recursive_elimination': _M + 'drop_column:recursive_elimination',
        'explain_interactions': _M + 'interactions:explain_interactions',
        'interaction_strength': _M + 'interactions:interaction_strength',
    }))
