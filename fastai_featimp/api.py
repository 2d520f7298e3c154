"""The public names of the package (re-exported by `fastai_featimp`); importing this attaches the Learner
methods (`learner.py`)."""
from . import learner  # noqa: F401  (attaches the Learner methods)
from .common.kinds import implementation
from .core.captum import CaptumInputs
from .core.forward import allocator_priming, batched_forward
from .core.params import ParameterError
from .core.permutation import ColumnGroup, permutation_scores
from .core.results import PartialDependence
from .methods.dependence import feature_dependence
from .methods.drop_column import drop_column_importance, recursive_elimination
from .methods.interactions import explain_interactions, interaction_strength
from .methods.importance_callback import ImportanceCallback, ImportanceReport
from .methods.partial_dependence import accumulated_local_effects, partial_dependence
from .methods.permutation import permutation_importance
from .methods.text_importance import phrase_importance
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
from .plot.image import attribution_map, image_explanation_html, plot_image_explanation
from .methods.vision_importance import region_importance

from .common.kinds import register_kind
from .engine.protocol import Adapter, Items, Option, Units
from .tabular.kind import TABULAR
from .text.kind import TEXT
from .vision.kind import VISION

from . import __all__  # noqa: E402,F401  (one list of public names, in __init__.py)

# each kind's explain as a function, under the names they have always had
explain = TABULAR.function('explain')
explain_text = TEXT.function('explain')
explain_images = VISION.function('explain')


def captum_inputs(learn, data, **kwargs) -> CaptumInputs:
    """What captum's attribution methods need for `learn` on `data` (tabular rows, one text, images), through the
    registry: `learn.captum_inputs?` lists each kind's arguments."""
    return implementation(learn, 'captum_inputs')(learn, data, **kwargs)
