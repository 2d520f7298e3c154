"""Every method `import fastai_featimp` adds to fastai's `Learner`, and nothing else: this page is the API.

Each method is a thin door to a function in `methods/` (computing) or `plot/` (drawing); the functions
take the learner first and document every parameter, so `learn.feature_importance?` and
`fastai_featimp.permutation_importance?` show the same thing."""
from __future__ import annotations

from fastai.learner import Learner
from fastcore.basics import patch
from fastcore.meta import delegates

from .common.kinds import method_kind
from .methods.dependence import feature_dependence as _feature_dependence
from .methods.drop_column import drop_column_importance as _drop_column_importance
from .methods.drop_column import recursive_elimination as _recursive_elimination
from .methods.explain import explain as _explain
from .methods.interactions import explain_interactions as _explain_interactions
from .methods.interactions import interaction_strength as _interaction_strength
from .methods.partial_dependence import accumulated_local_effects as _accumulated_local_effects
from .methods.partial_dependence import partial_dependence as _partial_dependence
from .methods.permutation import permutation_importance
from .methods.text_explain import explain_text
from .methods.text_importance import phrase_importance
from .plot.dependence import plot_dependence
from .plot.explanation import plot_explanation_summary as _plot_explanation_summary
from .plot.explanation import plot_waterfall
from .plot.importance import plot_importance
from .plot.text import explanation_html, plot_text_explanation

__all__ = []   # nothing to import from here: the methods live on Learner


@patch
@delegates(permutation_importance, but=['learn'], keep=True)
def feature_importance(self:Learner, test_dl=None, **kwargs):
    """Importance on a labelled test set: permutation importance of each input column for a tabular learner
    (see `permutation_importance`), phrase importance by ablation for a text learner (see `phrase_importance`)."""
    if method_kind(self) == 'text': return phrase_importance(self, test_dl, **kwargs)
    return permutation_importance(self, test_dl, **kwargs)


@patch
def plot_feature_importance(self:Learner, fi=None, *, top:int=20, ax=None, **kwargs):
    "Plot `fi` from `feature_importance`; with `fi=None` compute it first with `kwargs`. Returns the Axes."
    if fi is None: fi = self.feature_importance(**kwargs)
    elif kwargs:
        raise TypeError(f"keyword arguments {sorted(kwargs)} are for computing; they are used only when fi is None")
    return plot_importance(fi, ax=ax, top=top)


@patch
def feature_dependence(self:Learner, df=None, *, method:str='auto'):
    "Association in [0, 1] between the input columns (see `fastai_featimp.feature_dependence`)."
    return _feature_dependence(self, df, method=method)


@patch
def plot_feature_dependence(self:Learner, df=None, *, method:str='auto', assoc=None, figsize=None):
    "Dendrogram of `1 - association` beside the reordered heatmap; returns the Figure."
    if assoc is None: assoc = _feature_dependence(self, df, method=method)
    return plot_dependence(assoc, figsize=figsize)


@patch
@delegates(_explain, but=['learn', 'rows'], keep=True)
def explain(self:Learner, rows, **kwargs):
    """Attributions of each prediction: Shapley values per input column of a tabular row (see
    `fastai_featimp.explain`), or per word of a text (see `fastai_featimp.explain_text`)."""
    if method_kind(self) == 'text': return explain_text(self, rows, **kwargs)
    return _explain(self, rows, **kwargs)


@patch
def plot_explanation(self:Learner, expl, row:int=0, top:int=12, ax=None):
    "One explained row: a waterfall for a tabular row, the shaded text for a text; returns the Axes."
    if 'Start' in getattr(expl, 'columns', []): return plot_text_explanation(expl, row=row, ax=ax)
    return plot_waterfall(expl, row=row, top=top, ax=ax)


@patch
def show_explanation(self:Learner, expl, row:int=0):
    "The text of one explained row with each word shaded by its contribution, as HTML for Jupyter."
    from IPython.display import HTML
    if 'Start' not in getattr(expl, 'columns', []):
        raise TypeError("show_explanation shows the explanation of a text; for a tabular row use learn.plot_explanation")
    return HTML(explanation_html(expl, row))


@patch
def plot_explanation_summary(self:Learner, expl, top:int=20, figsize=None):
    "Bars of mean |contribution| and a beeswarm over all explained rows; returns the Figure."
    return _plot_explanation_summary(expl, top=top, figsize=figsize)


@patch
@delegates(_partial_dependence, but=['learn', 'features'])
def partial_dependence(self:Learner, features, df=None, **kwargs):
    "Partial dependence / ICE of the output on one or two columns (see `fastai_featimp.partial_dependence`)."
    return _partial_dependence(self, features, df, **kwargs)


@patch
@delegates(_accumulated_local_effects, but=['learn', 'feature'])
def accumulated_local_effects(self:Learner, feature, df=None, **kwargs):
    "Accumulated local effects of a continuous column (see `fastai_featimp.accumulated_local_effects`)."
    return _accumulated_local_effects(self, feature, df, **kwargs)


@patch
def plot_partial_dependence(self:Learner, features, df=None, *, ax=None, **kwargs):
    "Compute `partial_dependence` (kind='both' for one continuous column by default) and plot it; returns the Axes."
    if 'kind' not in kwargs: kwargs['kind'] = 'both' if isinstance(features, str) else 'average'
    return _partial_dependence(self, features, df, **kwargs).plot(ax=ax)


@patch
@delegates(_drop_column_importance, but=['learn', 'train_df', 'test_df'])
def drop_column_importance(self:Learner, train_df, test_df, **kwargs):
    "Drop-column (retraining) importance of each input column (see `fastai_featimp.drop_column_importance`)."
    return _drop_column_importance(self, train_df, test_df, **kwargs)


@patch
@delegates(_recursive_elimination, but=['learn', 'train_df', 'test_df'])
def recursive_elimination(self:Learner, train_df, test_df, **kwargs):
    "Recursive feature elimination by retraining (see `fastai_featimp.recursive_elimination`)."
    return _recursive_elimination(self, train_df, test_df, **kwargs)


@patch
@delegates(_explain_interactions, but=['learn', 'rows'])
def explain_interactions(self:Learner, rows, **kwargs):
    "Shapley interaction values of each row, per pair of columns (see `fastai_featimp.explain_interactions`)."
    return _explain_interactions(self, rows, **kwargs)


@patch
@delegates(_interaction_strength, but=['learn', 'df'])
def interaction_strength(self:Learner, df=None, **kwargs):
    "Friedman's H-statistic of pairs of columns, or of each column with the rest (see `fastai_featimp.interaction_strength`)."
    return _interaction_strength(self, df, **kwargs)
