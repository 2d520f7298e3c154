"""The registry of data kinds: the one place that lists them. Each kind is declared once, in its own folder
(`tabular/kind.py`, `text/kind.py`, `vision/kind.py`): how it recognises a learner, how it reads what the learner
expects (its schema), and its adapter (`engine/protocol.py`: its units, how a unit is removed, how its inputs reach
the model), on which the engine's capabilities (feature_importance, explain, reliance, evaluate_explanation,
compare_explanations, sanity_check, captum_inputs) run; a kind may add methods of its own (a table's partial dependence). Every door (the
Learner methods, the command line, methods that call another method) dispatches through
`implementation(learn, method)`. A new kind is one folder and `register_kind(...)` (see the README)."""
from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass, field
from typing import Callable

__all__ = ['DataKind', 'register', 'register_kind', 'kinds', 'kind_of', 'implementation', 'picture', 'KIND_MODULES', 'ENGINE',
           'UnsupportedMethod', 'NoKind']

# The modules that declare the built-in kinds, imported the first time a learner is looked up.
KIND_MODULES = ('fastai_featimp.tabular.kind', 'fastai_featimp.text.kind', 'fastai_featimp.vision.kind')

# The engine's capabilities: every kind with an adapter has them (a kind's own `methods` entry takes precedence).
# Per capability: its function, and what the kind calls the data argument ('items', 'item', or None: `data`).
ENGINE = {
    'feature_importance': ({'removal': 'fastai_featimp.engine.importance:importance_of_units',   # by the adapter's
                            'permutation': 'fastai_featimp.engine.permutation:permutation_of_units'}, None),   # `importance`
    'explain': ('fastai_featimp.engine.explain:explain_units', 'items'),
    'reliance': ('fastai_featimp.engine.reliance:reliance_of_units', None),
    'evaluate_explanation': ('fastai_featimp.engine.evaluate:evaluate_units', None),
    'captum_inputs': ('fastai_featimp.engine.captum:captum_inputs_of_units', 'captum'),
    'compare_explanations': ('fastai_featimp.methods.compare_explanations:compare_explanations', None),
    'sanity_check': ('fastai_featimp.methods.sanity_check:sanity_check', None),
}


@dataclass(frozen=True)
class DataKind:
    """One kind of data: what it recognises, what a learner of it expects, its adapter for the engine and its own
    methods (name -> 'module:function')."""
    name: str                      # 'tabular', 'text', 'vision'
    learner: str                   # what such a learner is, in words, for messages
    recognises: Callable           # learn -> bool
    schema: Callable               # learn -> what the learner expects (columns, vocabulary, outputs)
    adapter_class: object = None   # its engine adapter (`engine.protocol.Adapter`), or 'module:Class' imported on first use
    variables: Callable | None = None   # (schema, groups) -> a table's reported variables, None where they come with the data
    methods: dict = field(default_factory=dict)   # its own methods, resolved lazily: a kind's module never imports a method
    tracker: type | None = None    # what the training callback scores on such a learner (rows, variables, scoring)
    explanation_methods_: tuple = ()   # its explain's `method`s where it has no adapter (the tabular kind)
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    def adapter(self):
        "The kind's adapter instance (a TypeError where it has none)."
        if self.adapter_class is None: raise UnsupportedMethod(self, 'the engine')
        if 'adapter' not in self._cache:
            cls = self.adapter_class
            if isinstance(cls, str):
                module, name = cls.split(':')
                cls = getattr(importlib.import_module(module), name)
            adapter = cls() if isinstance(cls, type) else cls
            estimators = ENGINE['feature_importance'][0]
            if adapter.importance not in estimators:
                raise TypeError(f"the {self.name} kind's adapter declares importance = {adapter.importance!r}; it must be "
                                f"one of {', '.join(map(repr, estimators))}")
            self._cache['adapter'] = adapter
        return self._cache['adapter']

    @property
    def explanation_methods(self) -> tuple:
        "The `method`s of its `explain`, compared by `compare_explanations` by default."
        return self.explanation_methods_ or (tuple(self.adapter().explanation_methods) if self.adapter_class else ())

    @property
    def tracker_class(self):
        "What the training callback scores on its learners: its own tracker, else the engine's (None: nothing)."
        if self.tracker is not None or self.adapter_class is None: return self.tracker
        from ..engine import tracking
        return tracking.PermutationTracker if self.adapter().importance == 'permutation' else tracking.UnitTracker

    @property
    def all_methods(self) -> list:
        "Every method this kind has: its own and, with an adapter, the engine's."
        return sorted(set(self.methods) | (set(ENGINE) if self.adapter_class is not None else set()))

    def function(self, method: str) -> Callable:
        "The function implementing `method` for this kind (a TypeError naming the methods it has otherwise)."
        if method in self.methods:
            module, name = self.methods[method].split(':')
            return getattr(importlib.import_module(module), name)
        if method not in ENGINE or self.adapter_class is None: raise UnsupportedMethod(self, method)
        if method not in self._cache:
            from ..engine.door import kind_door
            adapter = self.adapter()
            target, data = ENGINE[method]
            if isinstance(target, dict): target = target[adapter.importance]
            module, name = target.split(':')
            fn = getattr(importlib.import_module(module), name)
            data_name = {'items': adapter.items, 'captum': adapter.item if adapter.captum_one_item else adapter.items,
                         None: None}[data]
            self._cache[method] = kind_door(self, method, fn, data_name) if '_kind' in inspect.signature(fn).parameters \
                else fn
        return self._cache[method]


class UnsupportedMethod(TypeError):
    "A method a kind does not have: names the kind and the methods it has."
    def __init__(self, kind: DataKind, method: str):
        self.kind, self.method = kind, method
        super().__init__(f"{method} is not available for a {kind.name} learner ({kind.learner}); "
                         f"its methods are {', '.join(kind.all_methods)}")


_REGISTRY: dict = {}


def register(kind: DataKind) -> DataKind:
    "Add `kind` to the registry (a kind's module calls this once, at import)."
    _REGISTRY[kind.name] = kind
    return kind


def register_kind(name: str, *, recognises: Callable, schema: Callable, adapter, learner: str | None = None,
                  methods: dict | None = None) -> DataKind:
    """Register a kind of data of your own: `recognises(learn) -> bool`, `schema(learn)` (what the learner expects;
    any object with `y_vocab` (the classes; None for a regression), `y_names`, `multi_label` and `n_out`),
    and `adapter`, an `engine.protocol.Adapter` (class or instance). Its learners then have feature_importance (when its items
    share their units), explain, reliance, evaluate_explanation, compare_explanations, sanity_check and captum_inputs.
    Registering a name again replaces it."""
    kinds()   # the built-in kinds first: they are tried first
    _REGISTRY.pop(name, None)
    kind = DataKind(name=name, learner=learner or f'{name} data', recognises=recognises, schema=schema,
                    adapter_class=adapter, methods=dict(methods or {}))
    return register(kind)


def kinds() -> list:
    "Every registered kind, the built-in ones first."
    for module in KIND_MODULES: importlib.import_module(module)
    return list(_REGISTRY.values())


class NoKind(TypeError):
    "A learner no registered kind recognises; `what` says what it is."
    def __init__(self, learn, known: list, method: str | None = None):
        self.what = (f"this {type(learn).__name__} has {type(learn.dls).__name__} over "
                     f"{type(getattr(learn.dls, 'train_ds', None)).__name__}")
        wanted = (f"{method} needs " + ' or '.join(f"a {k.name} learner ({k.learner})" for k in known) if method else
                  f"this package explains fastai learners over {' or '.join(k.learner for k in known)}")
        super().__init__(f"{wanted}; {self.what}")


def kind_of(learn, method: str | None = None) -> DataKind:
    """The kind of data `learn` was built on; a TypeError naming what it is otherwise, and the kinds that have
    `method` (or all kinds) with what they accept."""
    from fastai.learner import Learner
    if not isinstance(learn, Learner):
        raise TypeError(f"expected a fastai Learner, got {type(learn).__module__}.{type(learn).__name__}")
    known = kinds()
    for kind in known:
        if kind.recognises(learn): return kind
    raise NoKind(learn, [k for k in known if method is None or method in k.all_methods] or known, method)


def implementation(learn, method: str) -> Callable:
    "The function that computes `method` for `learn`'s kind of data."
    return kind_of(learn, method).function(method)




WHAT = {'html': 'drawn as an HTML fragment', 'table': 'printed', 'page': 'written as an HTML page', 'plot': 'drawn (plot_explanation)', 'show': 'shown as HTML (show_explanation)', 'shap': 'converted (to_shap)'}


def picture(expl, what: str, default: Callable | None = None) -> Callable:
    """How `expl`'s kind draws or converts a result (`what`: 'plot', 'show', 'shap', 'table', 'page' of an explanation,
    'importance' of an importance table, as its adapter declares in `pictures`), found by the kind the result carries
    in `attrs['kind']`: no guessing from its columns. With `default`, that where the kind declares none."""
    import pandas as pd
    if default is not None:
        kind = {k.name: k for k in kinds()}.get(getattr(expl, 'attrs', {}).get('kind'))
        pictures = getattr(kind.adapter(), 'pictures', {}) if kind is not None and kind.adapter_class else {}
        if what not in pictures: return default
    if not isinstance(expl, pd.DataFrame) or 'Contribution' not in getattr(expl, 'columns', ()) and what != 'importance':
        raise TypeError(f"expected the DataFrame returned by learn.explain, got {type(expl).__name__}")
    name = expl.attrs.get('kind')
    if name is None:
        from ..core.params import ParameterError   # a ValueError and a TypeError: either is caught
        raise ParameterError('expl', "this explanation has lost its attrs (its kind, base values and outputs), as pandas "
                                     "does in to_csv or a concat of different results: use the DataFrame returned by "
                                     "learn.explain")
    known = {k.name: k for k in kinds()}
    if name not in known: raise ValueError(f"this explanation is of a {name!r} learner, a kind not registered here")
    kind = known[name]
    pictures = getattr(kind.adapter(), 'pictures', {}) if kind.adapter_class is not None else {}
    target = pictures.get(what)
    if target is None:
        raise TypeError(f"a {name} explanation cannot be {WHAT.get(what, what)}; it can be "
                        f"{', '.join(WHAT.get(w, w) for w in pictures if w != 'table') or 'nothing'}")
    module, fn = target.split(':')
    return getattr(importlib.import_module(module), fn)
