"""Explain fastai models: `import fastai_featimp` adds `feature_importance`, `explain`, `partial_dependence`,
`feature_dependence`, `drop_column_importance` and the other methods of `learner.py`, with their plots, to
fastai's `Learner`. The same computations are free functions here (`fastai_featimp.explain(learn, rows)`).

Importing the package is light: it attaches the Learner methods the moment fastai's `Learner` exists, at once
if fastai is already imported, else as soon as `fastai.learner` has been imported (by `from fastai.tabular.all
import *`, `load_learner` or anything else). The same happens in every entry point (a script, Jupyter, the
`fastai-featimp` command), and the public names below load on first use, so `fastai-featimp --help` answers
without importing torch."""
import importlib as _importlib
import importlib.abc as _abc
import importlib.machinery as _machinery
import sys as _sys

__version__ = '0.3.0'

# the public names (`from fastai_featimp import *`), defined in `api.py`
__all__ = ['feature_importance', 'permutation_importance', 'plot_importance', 'feature_dependence', 'plot_dependence', 'explain',
           'plot_waterfall', 'plot_explanation_summary', 'partial_dependence', 'accumulated_local_effects',
           'PartialDependence', 'plot_partial_dependence', 'drop_column_importance', 'recursive_elimination',
           'plot_importance_comparison', 'plot_recursive_elimination', 'permutation_scores', 'batched_forward',
           'ColumnGroup', 'allocator_priming', 'explain_text', 'phrase_importance', 'explanation_html',
           'plot_text_explanation', 'ImportanceCallback', 'ImportanceReport', 'plot_importance_history',
           'plot_train_vs_valid', 'explain_interactions', 'interaction_strength', 'plot_interactions',
           'plot_explanation', 'ParameterError', 'to_shap', 'captum_inputs', 'CaptumInputs', 'explanation_page',
           'plot_reliance', 'plot_deletion_curves', 'attribution_map',
           'image_explanation_html', 'plot_image_explanation', 'explain_images', 'region_importance',
           'register_kind', 'Adapter', 'Items', 'Units', 'Columns', 'ColumnUnit', 'Option', 'plot_image_grid']


def __getattr__(name):
    "Public names on first use (PEP 562): `fastai_featimp.explain` imports the computing modules then."
    if name in __all__: return getattr(_importlib.import_module('.api', __name__), name)
    raise AttributeError(f"module 'fastai_featimp' has no attribute {name!r}")


def __dir__(): return sorted(set(globals()) | set(__all__))


def _attach():
    "Add the methods to fastai's Learner (importing `learner.py` does it)."
    _importlib.import_module('.learner', __name__)


class _AttachAfterFastaiLearner(_abc.MetaPathFinder):
    "Runs `_attach` right after `fastai.learner` has been executed, whoever imports it."
    def find_spec(self, fullname, path, target=None):
        if fullname != 'fastai.learner': return None
        spec = _machinery.PathFinder.find_spec(fullname, path, target)
        if spec is None or spec.loader is None or not hasattr(spec.loader, 'exec_module'): return spec
        loader, run = spec.loader, spec.loader.exec_module
        def exec_module(module):
            run(module)
            _uninstall()
            _attach()
        loader.exec_module = exec_module
        return spec


def _uninstall():
    _sys.meta_path[:] = [f for f in _sys.meta_path if not isinstance(f, _AttachAfterFastaiLearner)]


if 'fastai.learner' in _sys.modules: _attach()
elif not any(isinstance(f, _AttachAfterFastaiLearner) for f in _sys.meta_path): _sys.meta_path.insert(0, _AttachAfterFastaiLearner())
