"""The public names of the package (re-exported by `fastai_featimp`); importing this attaches the Learner
methods (`learner.py`)."""
import inspect

from . import learner  # noqa: F401  (attaches the Learner methods)
from .common.kinds import implementation
from .core.captum import CaptumInputs
from .core.forward import allocator_priming, batched_forward
from .core.params import ParameterError
from .core.permutation import ColumnGroup, permutation_scores
from .core.results import PartialDependence
from .tabular.dependence import feature_dependence
from .tabular.drop_column import drop_column_importance, recursive_elimination
from .tabular.interactions import explain_interactions, interaction_strength
from .methods.importance_callback import ImportanceCallback, ImportanceReport
from .tabular.partial_dependence import accumulated_local_effects, partial_dependence
from .text.phrase_importance import phrase_importance
from .plot.dependence import plot_dependence
from .pictures import plot_explanation
from .plot.explanation import plot_explanation_summary, plot_waterfall
from .plot.history import plot_importance_history, plot_train_vs_valid
from .plot.interactions import plot_interactions
from .plot.importance import plot_importance, plot_importance_comparison, plot_recursive_elimination
from .plot.partial_dependence import plot_partial_dependence
from .plot.faithfulness import plot_deletion_curves
from .plot.reliance import plot_reliance
from .interop.shap import to_shap
from .plot.text import explanation_html, explanation_page, plot_text_explanation
from .plot.image import attribution_map, image_explanation_html, plot_image_explanation, plot_image_grid

from .common.kinds import register_kind
from .engine.protocol import Adapter, ColumnUnit, Columns, Items, Option, Units
from .tabular.kind import TABULAR
from .text.kind import TEXT
from .vision.kind import VISION

from . import __all__  # noqa: E402,F401  (one list of public names, in __init__.py)



def explain(learn, *args, **kwargs):
    """Attributions of each prediction of `learn` (a table's rows, texts, images, a registered kind's items) through
    the registry, as `learn.explain(...)`: `help(learn.explain)` lists each kind's arguments."""
    return implementation(learn, 'explain')(learn, *args, **kwargs)


def _renamed(old: str, kind):
    "The old per-kind name of explain: the same function, with a FutureWarning naming the one name."
    door = kind.function('explain')
    def alias(learn, *args, **kwargs):
        import warnings
        warnings.warn(f"fastai_featimp.{old} is now fastai_featimp.explain (one name for every kind, as learn.explain); "
                      f"{old} will be removed", FutureWarning, stacklevel=2)
        return door(learn, *args, **kwargs)
    alias.__name__, alias.__doc__, alias.__signature__ = old, door.__doc__, inspect.signature(door)
    return alias


explain_text = _renamed('explain_text', TEXT)
explain_images = _renamed('explain_images', VISION)


def feature_importance(learn, *args, **kwargs):
    """Importance of `learn`'s inputs over a labelled set (a table's columns by permutation, text's phrases, image
    regions, a registered kind's units) through the registry, as `learn.feature_importance(...)`:
    `help(learn.feature_importance)` lists each kind's arguments."""
    return implementation(learn, 'feature_importance')(learn, *args, **kwargs)


_door = TABULAR.function('feature_importance')


def permutation_importance(learn, *args, **kwargs):
    "A tabular learner's `feature_importance` by its own name (the door of the registry's tabular kind)."
    return _door(learn, *args, **kwargs)


permutation_importance.__doc__, permutation_importance.__signature__ = _door.__doc__, inspect.signature(_door)
permutation_importance.__wrapped__, permutation_importance.__docments__ = _door, _door.__docments__   # help names it


def captum_inputs(learn, data, **kwargs) -> CaptumInputs:
    """What captum's attribution methods need for `learn` on `data` (tabular rows, one text, images), through the
    registry: `learn.captum_inputs?` lists each kind's arguments."""
    return implementation(learn, 'captum_inputs')(learn, data, **kwargs)


def region_importance(learn, *args, **kwargs):
    """Which regions an image learner relies on over a labelled set: `learn.feature_importance` of an image learner
    (each region of a grid removed in every image; `help(learn.feature_importance)`)."""
    return VISION.function('feature_importance')(learn, *args, **kwargs)
