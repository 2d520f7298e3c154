"""Explain fastai tabular models: `import fastai_featimp` adds `learn.feature_importance()` and
`learn.plot_feature_importance()`, `learn.feature_dependence()`, `learn.plot_feature_dependence()`, `learn.explain()`,
`learn.plot_explanation()` and `learn.plot_explanation_summary()` to fastai's tabular learners."""
__version__ = '0.1.0'

from .engine import ColumnGroup, batched_forward, permutation_scores
from .dependence import feature_dependence
from .drop_column import drop_column_importance, recursive_elimination
from .explain import explain
from .explain_plots import plot_explanation_summary, plot_waterfall
from .partial_dependence import PartialDependence, accumulated_local_effects, partial_dependence
from .permutation import permutation_importance
from .plotting import plot_dependence, plot_importance, plot_importance_comparison, plot_recursive_elimination

__all__ = ['permutation_importance', 'plot_importance', 'feature_dependence', 'plot_dependence', 'explain',
           'plot_waterfall', 'plot_explanation_summary', 'partial_dependence', 'accumulated_local_effects',
           'PartialDependence', 'drop_column_importance', 'recursive_elimination', 'plot_importance_comparison',
           'plot_recursive_elimination', 'permutation_scores', 'batched_forward', 'ColumnGroup',
           '__version__']
