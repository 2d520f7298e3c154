"""The setup every method, the training callback and recursive elimination share: the learner's kind and schema,
its variables, what an output means (activation, labels, the explained target), the call's seed streams, and
the context that leaves the caller's process and model as they were."""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from ..core.params import ParameterError
from ..core.seeding import root_seed, stream
from ..core.state import eval_mode, preserved_state
from .kinds import kind_of
from .outputs import default_target, output_activation, output_kind, output_labels, target_index
from .scoring import learner_scorers

__all__ = ['Setup', 'method_setup']


@dataclass
class Setup:
    "What a method knows about its learner before it touches data."
    learn: object
    kind: object                 # the DataKind of the registry
    schema: object               # what the learner expects (the kind's schema)
    variables: list | None       # the reported variables (tabular columns and groups); None for text
    labels: list                 # the label of each output column
    output: str                  # 'probability' or 'raw', as asked
    activation: object           # raw model output -> the explained quantity
    root: int                    # the call's root seed: every stream derives from it
    seed: object                 # the seed as given (None or an int), for attrs

    def stream(self, *keys) -> np.random.Generator:
        "The generator for `keys` (see `core.seeding`): the same keys give the same draws whatever else is asked."
        return stream(self.root, *keys)

    @property
    def output_kind(self) -> str: return output_kind(self.schema, self.output)

    def target(self, target=None, predicted: int | None = None) -> int:
        "The output index explained (see `common.outputs.default_target`)."
        return default_target(self.schema, self.labels, target, predicted)

    def scorers(self, metric=None, greater_is_better=None) -> list:
        return learner_scorers(self.learn, self.schema, metric, greater_is_better)

    @contextmanager
    def computing(self):
        "Eval mode, and every process-wide setting restored afterwards, also after an error or Ctrl-C."
        with preserved_state(), eval_mode(self.learn.model): yield self


def method_setup(learn, kind=None, *, output: str = 'probability', seed=None, groups=None, target=None) -> Setup:
    """The setup of a call on `learn` by a method of `kind` (default: the learner's own kind): the schema (the
    kind's TypeError for a learner of another kind), variables with `groups`, output labels and activation;
    `target`, when given, is checked before any work."""
    if kind is None: kind = kind_of(learn)
    schema = kind.schema(learn)
    if groups is not None and kind.variables is None:
        raise ParameterError('groups', f"`groups` are columns permuted together, for tabular learners; this is a "
                                       f"{kind.name} learner")
    variables = kind.variables(schema, groups) if kind.variables is not None else None
    activation = output_activation(learn, output)
    labels = output_labels(learn, schema)
    if target is not None: target_index(labels, target)   # fail before any work
    return Setup(learn, kind, schema, variables, labels, output, activation, root_seed(seed), seed)
