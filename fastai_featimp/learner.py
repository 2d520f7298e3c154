"""Every method `import fastai_featimp` adds to fastai's `Learner`, and nothing else: this page is the API.

A computing method is a door to the registry (`common/kinds.py`): it runs the function that implements it for the
learner's kind of data (tabular, text), so every kind's arguments are accepted and `help(learn.explain)` lists
them kind by kind. A drawing method passes a result to `plot/`."""
from __future__ import annotations

import importlib
import inspect
import types

from fastai.learner import Learner
from fastcore.basics import patch
from fastcore.docments import docments

from .common.kinds import implementation, kinds, picture
from .plot.dependence import plot_dependence
from .pictures import plot_explanation as _plot_explanation, show_explanation as _show_explanation
from .plot.explanation import plot_explanation_summary as _plot_explanation_summary
from .plot.importance import plot_importance
from .plot.reliance import plot_reliance as _plot_reliance

__all__ = []   # nothing to import from here: the methods live on Learner

# Each computing method, with the sentence that opens its help.
COMPUTING = {
    'feature_importance': "Importance on a labelled test set: permutation importance of each input column (tabular), "
                          "phrase importance by ablation over the texts (text).",
    'explain': "Attributions of each prediction: Shapley values per input column of a tabular row, per word of a text.",
    'feature_dependence': "Association in [0, 1] between the input columns.",
    'partial_dependence': "Partial dependence / ICE of the output on one or two columns.",
    'accumulated_local_effects': "Accumulated local effects of a column.",
    'drop_column_importance': "Drop-column (retraining) importance of each input column.",
    'recursive_elimination': "Recursive feature elimination by retraining.",
    'explain_interactions': "Shapley interaction values of each row, per pair of columns.",
    'interaction_strength': "Friedman's H-statistic of pairs of columns, or of each column with the rest.",
    'reliance': "Should these predictions be trusted? Each row's prediction with and without the flagged inputs (phrases "
                "or columns known to be shortcuts), and a summary of how many rest on them.",
    'evaluate_explanation': "How faithful an explanation is: deletion and insertion curves, comprehensiveness and "
                            "sufficiency, against random orders and the reverse.",
    'compare_explanations': "Which explanation can I believe? Every explanation method on the same rows, scored and "
                            "compared.",
    'sanity_check': "The model-randomisation test: explanations of ever more randomised copies of the model, against "
                    "the original.",
    'captum_inputs': "What captum's attribution methods need (forward function, inputs, baselines, feature mask, "
                     "target) for this learner, and the way back to this package's explanation frame.",
}


def _implementations(method: str) -> list:
    "`(kind, function)` for every kind that has `method`."
    return [(k, k.function(method)) for k in kinds() if method in k.all_methods]


def _signature(impls) -> inspect.Signature:
    "The door's signature: `self`, the positional parameters every kind shares (the first kind's names), **kwargs."
    sigs = [list(inspect.signature(f).parameters.values())[1:] for _, f in impls]   # without `learn`
    if len(sigs) == 1: shared, rest = sigs[0], []
    else:
        positional = lambda ps: [p for p in ps if p.kind is p.POSITIONAL_OR_KEYWORD]
        n = min(len(positional(s)) for s in sigs)
        shared, rest = positional(sigs[0])[:n], [inspect.Parameter('kwargs', inspect.Parameter.VAR_KEYWORD)]
    self_ = inspect.Parameter('self', inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Learner)
    return inspect.Signature([self_, *shared, *rest])


def _kind_help(kind, fn, method: str) -> str:
    "One kind's part of a door's help: the function (by its public name, if it has one), its first line, each parameter's comment."
    params = list(inspect.signature(fn).parameters.values())[1:]
    notes = getattr(fn, '__docments__', None) or docments(fn)
    api = importlib.import_module('fastai_featimp.api')
    public = next((name for name in api.__all__ if fn in (getattr(api, name, None),
                                                           getattr(getattr(api, name, None), '__wrapped__', None))), None)
    call = f"fastai_featimp.{public}(learn, ...)" if public else f"learn.{method}(...)"
    lines = [f"For a {kind.name} learner, {call}:",
             '    ' + (inspect.getdoc(fn) or '').split('\n\n')[0].replace('\n', ' ')]
    for p in params:
        default = '' if p.default is p.empty else f" = {p.default!r}"
        note = notes.get(p.name)
        lines.append(f"    {p.name}{default}" + (f": {note}" if note else ''))
    return '\n'.join(lines)


class _Door:
    """A computing method on Learner: `learn.<method>(...)` runs the learner's kind's implementation. Its help
    (signature, and every kind's parameters) is built on first access, when the method modules are imported:
    the doors are attached while fastai itself may still be importing, so nothing heavy is imported here."""
    def __init__(self, method: str, summary: str): self.method, self.summary, self._fn, self._for = method, summary, None, None

    def _function(self):
        registered = tuple(k.name for k in kinds())
        if self._fn is None or self._for != registered:   # built again when a kind is registered later
            self._for = registered
            method = self.method
            def door(self, *args, **kwargs): return implementation(self, method)(self, *args, **kwargs)
            impls = _implementations(method)
            door.__name__, door.__qualname__ = method, f'Learner.{method}'
            door.__signature__ = _signature(impls)
            door.__doc__ = self.summary + '\n\n' + '\n\n'.join(_kind_help(k, f, method) for k, f in impls)
            self._fn = door
        return self._fn

    def __get__(self, learn, owner=None):
        fn = self._function()
        return fn if learn is None else types.MethodType(fn, learn)


for _method, _summary in COMPUTING.items(): setattr(Learner, _method, _Door(_method, _summary))


@patch
def plot_feature_importance(self:Learner, fi=None, *, top:int=20, ax=None, **kwargs):
    "Plot `fi` from `feature_importance`; with `fi=None` compute it first with `kwargs`. Returns the Axes."
    if fi is None: fi = self.feature_importance(**kwargs)
    elif kwargs:
        raise TypeError(f"keyword arguments {sorted(kwargs)} are for computing; they are used only when fi is None")
    return picture(fi, 'importance', default=plot_importance)(fi, ax=ax, top=top)   # images: over their mean too


@patch
def plot_feature_dependence(self:Learner, df=None, *, method:str='auto', assoc=None, figsize=None):
    "Dendrogram of `1 - association` beside the reordered heatmap; returns the Figure."
    if assoc is None: assoc = self.feature_dependence(df, method=method)
    return plot_dependence(assoc, figsize=figsize)


@patch
def plot_explanation(self:Learner, expl, row:int=0, top:int|None=None, ax=None, **kwargs):
    """One explained row: a waterfall for a tabular row (its `top` columns, default 12), the text with its words
    shaded for a text (the `top` words listed each way, default 5), the image with its map; returns the Axes."""
    return _plot_explanation(expl, row=row, top=top, ax=ax, **kwargs)


@patch
def show_explanation(self:Learner, expl, row:int=0, **kwargs):
    """The text of one explained row with each word shaded by its contribution: displayed as HTML in Jupyter (also
    when it is not the last line of a cell), printed as plain text elsewhere. Returns None; the HTML itself is
    `fastai_featimp.explanation_html(expl, row)`. An image's explanation: the image with its map, as HTML."""
    _show_explanation(expl, row=row, **kwargs)


@patch
def plot_explanation_summary(self:Learner, expl, top:int=20, figsize=None):
    "Bars of mean |contribution| and a beeswarm over all explained rows; returns the Figure."
    return _plot_explanation_summary(expl, top=top, figsize=figsize)


@patch
def plot_partial_dependence(self:Learner, features, df=None, *, ax=None, **kwargs):
    "Compute `partial_dependence` (kind='both' for one continuous column by default) and plot it; returns the Axes."
    if 'kind' not in kwargs: kwargs['kind'] = 'both' if isinstance(features, str) else 'average'
    return self.partial_dependence(features, df, **kwargs).plot(ax=ax)


@patch
def plot_reliance(self:Learner, rel, ax=None, decision:float|None=None):
    "Each row's prediction against its prediction without the flagged inputs (from `learn.reliance`); returns the Axes."
    return _plot_reliance(rel, ax=ax, decision=decision)


@patch
def report(self:Learner, data, path='report.html', *,
           flagged=None,               # inputs known to be shortcuts (columns or phrases): adds the reliance audit and its examples
           rows=None,                  # positions of rows of `data` to explain as examples (default: chosen to teach)
           metric=None,                # one metric for importance and reliance (default: each method's own)
           seed:int|None=None,         # passed to every call: same seed, same page
           show_progress:bool=True,    # a bar over the sections (never under `learn.no_bar()`)
           n_examples:int=2,           # rows per group of examples (most confident right, wrong, relying most)
           background=None,            # tabular: typical rows to compare with (default: training rows, else `data`)
           options:dict|None=None):    # {method: {argument: value}} on top of the report's choices
    """Write one self-contained HTML page explaining this learner on labelled `data`: the run, global importance, the
    table's dependence map and effects, the reliance audit (with `flagged`), explained examples, which explanation
    method to believe, and the methods' warnings. Every number comes from this package's methods, called with `seed`
    (each section shows its calls); the page is written whole or not at all. Returns the path written."""
    from .report import write_report
    return write_report(self, data, path, flagged=flagged, rows=rows, metric=metric, seed=seed,
                        show_progress=show_progress, n_examples=n_examples, background=background, options=options)
