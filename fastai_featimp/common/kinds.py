"""The registry of data kinds. Each kind is declared once, in its own module (`tabular/kind.py`, `text/kind.py`):
how it recognises a learner, how it reads what the learner expects (its schema) and loads data into tensors,
what its units are, and which methods it has. Every door (the Learner methods, the command line, methods that
call another method) dispatches through `implementation(learn, method)`; nothing else asks which kind a
learner is. A new kind (images, say) is one more module listed in `KIND_MODULES`."""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable

__all__ = ['DataKind', 'register', 'kinds', 'kind_of', 'implementation', 'has_method', 'KIND_MODULES', 'UnsupportedMethod', 'NoKind']

# The modules that declare the built-in kinds, imported the first time a learner is looked up.
KIND_MODULES = ('fastai_featimp.tabular.kind', 'fastai_featimp.text.kind', 'fastai_featimp.vision.kind')


@dataclass(frozen=True)
class DataKind:
    "One kind of data: what it recognises, how it reads and loads data, and its methods (name -> 'module:function')."
    name: str                      # 'tabular', 'text'
    learner: str                   # what such a learner is, in words, for messages
    recognises: Callable           # learn -> bool
    schema: Callable               # learn -> what the learner expects (columns, vocabulary, outputs)
    load: Callable                 # (learn, schema, data, **options) -> tensors of the data
    units: tuple                   # what one explained variable is ('column',), ('word', 'sentence', 'token')
    variables: Callable | None     # (schema, groups) -> the reported variables, or None where they come with the data
    methods: dict = field(default_factory=dict)   # resolved lazily: a kind's module never imports a method
    tracker: type | None = None    # what the training callback scores on such a learner (rows, variables, scoring)
    explanation_methods: tuple = ()  # the `method`s of its `explain`, compared by `compare_explanations` by default

    def function(self, method: str) -> Callable:
        "The function implementing `method` for this kind (a TypeError naming the methods it has otherwise)."
        if method not in self.methods: raise UnsupportedMethod(self, method)
        module, name = self.methods[method].split(':')
        return getattr(importlib.import_module(module), name)


class UnsupportedMethod(TypeError):
    "A method a kind does not have: names the kind and the methods it has."
    def __init__(self, kind: DataKind, method: str):
        self.kind, self.method = kind, method
        super().__init__(f"{method} is not available for a {kind.name} learner ({kind.learner}); "
                         f"its methods are {', '.join(sorted(kind.methods))}")


_REGISTRY: dict = {}


def register(kind: DataKind) -> DataKind:
    "Add `kind` to the registry (a kind's module calls this once, at import)."
    _REGISTRY[kind.name] = kind
    return kind


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
    raise NoKind(learn, [k for k in known if method is None or method in k.methods] or known, method)


def implementation(learn, method: str) -> Callable:
    "The function that computes `method` for `learn`'s kind of data."
    return kind_of(learn, method).function(method)


def has_method(learn, method: str) -> bool:
    return method in kind_of(learn).methods
