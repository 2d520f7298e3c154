"""What a kind of data provides the engine, declared once (as shap's maskers and captum's `forward_func` /
`feature_mask` contract): an `Adapter` that reads what a learner expects and loads data into `Items`, and the
`Items` of one call, which know their units, remove them (the masker) and run the model in batches.

A kind subclasses both and is registered with `fastai_featimp.register_kind`; the engine's capabilities (explain,
reliance, evaluate_explanation, compare_explanations, sanity_check, captum_inputs) then work on its learners with no
other change. Every method below that a kind cannot offer raises NotImplementedError naming itself, which a kind's
door turns into a TypeError naming the capability, the kind and the piece its adapter lacks."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

__all__ = ['Option', 'Units', 'Without', 'ColumnUnit', 'Columns', 'Items', 'Adapter', 'PIECES']


@dataclass(frozen=True)
class Option:
    "One of a kind's own arguments to a capability: its default, the `core.params` constraint and the help comment."
    name: str
    default: object
    comment: str
    constraint: object = None


@dataclass
class Units:
    """The units of one item, in order: their names, where each is in the data as given (`where`: frame columns such
    as Start/End or Top/Left/Bottom/Right, one list per column), what else the frame says of each (`about`, after the
    contribution), and which can change the output when removed (False: exactly 0, never evaluated)."""
    names: list
    where: dict = field(default_factory=dict)
    about: dict = field(default_factory=dict)
    changeable: np.ndarray | None = None

    def __len__(self) -> int: return len(self.names)

    def changes(self) -> np.ndarray:
        return np.ones(len(self.names), dtype=bool) if self.changeable is None else np.asarray(self.changeable, dtype=bool)


@dataclass
class Without:
    """The items without their flagged inputs: `raw` outputs (n_rows, n_out), what was `found` in each item (for the
    reliance frame), the `names` of what was found (for an explanation's banner) and, per item, a bool per unit that
    touches a flagged input (an explanation marks them; empty where no units were asked for)."""
    raw: torch.Tensor
    found: list
    names: list
    units: list
    expected: torch.Tensor | None = None   # where "without" is an expectation (a table's background): the mean
                                           # explained outputs (n_rows, n_out), `raw` then only feeds the metrics


@dataclass
class ColumnUnit:
    """One unit of `Columns`: its `name`, the `group` of tensor columns that hold it (a `core.permutation.ColumnGroup`
    of `(input tensor index, column index)` slots, e.g. `ColumnGroup(((0, 3),))` for column 3 of the first input),
    what it is in words (`kind`, the table's Type column) and what it holds (`members`, default: its name)."""
    name: str
    group: object
    kind: str = 'unit'
    members: list | None = None

    def __post_init__(self):
        if self.members is None: self.members = [self.name]


@dataclass
class Columns:
    """A labelled set whose units are columns of the model's input tensors (a table's columns, a sequence's
    positions), for permutation importance: a unit's values taken from other items. `inputs` (tensors, a row per
    item, on the model's device, as the model takes them: `model(*inputs)`) and `target`; `units`, one `ColumnUnit`
    per unit (or any object with its `name`, `group`, `kind` and `members`: a table's variables); `strata`: None, or
    per unit an int array of a stratum per item (its values then move only between items of one stratum: conditional
    permutation, as a kind's `columns` decides); `source`: what the data was, and `attrs`: what the table keeps."""
    inputs: list
    target: torch.Tensor
    units: list
    strata: list | None = None
    source: str = 'data'
    attrs: dict = field(default_factory=dict)

    @property
    def n_rows(self) -> int: return int(self.inputs[0].shape[0])


class Items:
    """The items of one call (texts, images, sequences), loaded as the learner reads them. `n_rows`, `index` (the
    items' labels as given) and `target` (the labels, when the data held them; else None) are attributes."""
    n_rows: int
    index: list
    target: torch.Tensor | None = None

    def units(self, i: int) -> Units:
        "The units of item `i`."
        raise NotImplementedError('units')

    def forward(self, progress=None) -> torch.Tensor:
        "Raw model outputs (n_rows, n_out) on the CPU of the items as given (items serve one call: they may keep them)."
        raise NotImplementedError('forward')

    def values(self, keeps: list, explained, progress=None) -> list:
        """Per item `i`, the value (len(keeps[i]),) of each coalition in the bool tensor `keeps[i]` (coalitions x units;
        True = present): item `i` with its absent units removed, run through the model, `explained(i, raw outputs)`
        (the explained output of each input; a kind that removes a unit by an expectation averages it). An empty
        `keeps[i]`: nothing asked. `progress(k)` hears of every k coalitions evaluated."""
        raise NotImplementedError('values')

    def without(self, flagged, progress=None) -> Without:
        "The items without the flagged inputs (`flagged` as the adapter's `flagged` parsed it)."
        raise NotImplementedError('without')

    def gradient(self, i: int, explained, n_steps: int) -> np.ndarray:
        """Integrated gradients of item `i` from every unit removed to the item, summed per unit (`explained(raw)` the
        explained output of a batch of raw outputs)."""
        raise NotImplementedError('gradient')

    def attributions(self, method: str, ks: list, explained, progress) -> tuple:
        """A kind's own explanation `method` (Grad-CAM for images): `(contributions per item, extra attrs)`."""
        raise NotImplementedError('attributions')

    def captum(self, activation) -> dict:
        """What captum needs: `forward_func` (the model on its inputs, then `activation`), `inputs` and `baselines`
        (tuples of tensors: every item as the model reads it, and with every unit removed), `feature_mask` (a tuple:
        unit j of an item is group `first_group + j`), `first_group`; optionally `layer`, `per_pixel` (a mask shared
        by an image's channels) and `embedding(target, names, frame)` (the problem on float embeddings)."""
        raise NotImplementedError('captum')

    def attrs(self) -> dict:
        "What an explanation keeps of these items (texts, small copies of images) for drawing and evaluating."
        return {}


class Adapter:
    """A kind of data, for the engine. Class attributes: `unit` (what one unit is, in words: 'word', 'region'),
    `item` / `items` (one item and several, in words: 'image', 'images'), `explanation_methods` (the `method`s of its
    explain: the engine's 'shapley' and 'occlusion', 'integrated_gradients' where `Items.gradient` exists, and its
    own), `importance` (how feature_importance takes a unit away over a set: 'removal', through `load` and the items'
    masker, or 'permutation', through `columns`), `options` ({capability: (Option, ...)}: its own arguments, e.g. how
    a unit is removed). `load` serves every capability but permutation importance."""
    unit: str = 'unit'
    item: str = 'item'                  # what one item is, in words ('text', 'image'), and items ('texts', 'images')
    items: str = 'items'
    captum_one_item: bool = False       # captum's inputs hold one item (its length is the input's)
    explanation_methods: tuple = ('shapley', 'occlusion')
    options: dict = {}

    default_method: str = 'shapley'     # explain's default `method`
    importance: str = 'removal'         # feature_importance: 'removal' (each unit removed from every item, as the
                                        # masker removes it) or 'permutation' (its values taken from other items:
                                        # `columns`)
    gradients: bool = False             # whether its items have `gradient` (integrated gradients)
    removed_by: str = 'mask'            # the option that says how a unit is removed (an evaluation names it)
    fewer_units_hint: str = ''          # how to have fewer units, for the message refusing too many to enumerate
    pictures: dict = {}                 # 'plot', 'show', 'shap' -> 'module:function' (expl, row / rows, ...): how its
                                        # explanations are drawn and converted, imported when asked for

    def setup_options(self, options: dict) -> dict:
        "What the kind's options change in a call's `common.setup.method_setup` (a table's `groups`)."
        return {}

    def training_scale(self, s, ks):
        "Values whose spread sets a regression's default reliance threshold (None: the outputs on the data given)."
        return None

    def load(self, s, data, *, param: str, labelled: bool = False, label_col=None, bs=None, **options) -> Items:
        "The `Items` of `data` for a call (`s`: the call's `common.setup.Setup`; `param` names the argument)."
        raise NotImplementedError('load')

    def columns(self, s, data, *, param: str, max_rows=None, rng=None, split: str = 'valid', fallback_warning=None,
                hint: str = '', **options) -> Columns:
        """Labelled `data` as `Columns`, for `importance = 'permutation'` (feature_importance and the training callback).
        `s` is the call's setup (`s.learn`, `s.schema`, `s.stream(key)`); `param` names the argument in messages.
        `data=None`: the learner's own `split` ('valid', or 'train' for the callback's training sample, e.g. from
        `s.learn.dls.valid_ds`), with `warnings.warn(fallback_warning)` when one is given (the validation set guided
        training). `max_rows`: at most that many items, a sample drawn with `rng` (a numpy Generator). An empty set:
        a `ParameterError(param, ...)` ending with `hint`. `options`: the kind's own (`options['feature_importance']`)."""
        raise NotImplementedError('columns')

    def from_explanation(self, s, expl, data, *, bs=None) -> Items:
        """The items an explanation `expl` was made of, with its own options (`data`: the data again, for kinds whose
        explanations keep only small copies); a ParameterError when `data` is not what was explained."""
        raise NotImplementedError('from_explanation')

    def flagged(self, s, flagged):
        "`flagged` (what the user knows to be shortcuts), checked and parsed before any work."
        raise NotImplementedError('flagged')

    def frame_columns(self) -> set:
        "The columns an explanation frame of this kind has (an evaluation checks them)."
        return {'row', 'Variable', 'Contribution'}

    def is_labelled(self, s, data, label_col) -> bool:
        "Whether `data` holds labels (reliance then scores a metric with and without the flagged inputs)."
        return False

    def default_budget(self, n_units: int) -> int:
        "Masked copies per item for method='shapley' when `max_evals` is not given."
        return max(2 ** min(n_units, 9) - 2, 20 * n_units)

    def describe_flagged(self, flagged) -> list:
        "The flagged inputs in words, for attrs."
        return [str(f) for f in flagged]

    def reliance_attrs(self, items, options: dict) -> dict:
        "What a reliance frame keeps besides the engine's attrs (the texts, say)."
        return {}

    def importance_columns(self, items) -> tuple:
        """`(columns, attrs)` of an importance table over `items`: where each unit is (its `Units.where`, when the same
        in every item), and what the table keeps for drawing."""
        where = items.units(0).where
        same = all(items.units(i).where == where for i in range(1, items.n_rows))
        return (dict(where) if same else {}), {}


# the pieces a kind may leave out, as their NotImplementedError names them
PIECES = frozenset(name for cls in (Items, Adapter) for name, f in vars(cls).items()
                   if callable(f) and not name.startswith('_'))
