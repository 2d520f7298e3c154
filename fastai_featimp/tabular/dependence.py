"How the learner's input columns depend on each other: the association matrix."
from __future__ import annotations


from ..core.checks import warn
from ..common.setup import method_setup
from ..core.association import association_of
from ..core.params import Choice, ParameterError, checked
from ..core.state import preserved_state
from .data import feature_arrays, load_tabular
from .kind import TABULAR

__all__ = ['feature_dependence']

MIN_ROWS = 20   # fewer rows than this: a warning that the association says little


@checked(method=Choice('auto', 'spearman', 'pearson'))
def feature_dependence(
    learn,                  # a fastai tabular Learner
    df=None,                # raw DataFrame (labels optional); None: the learner's training set
    *,
    method:str='auto',      # 'auto': |Spearman| between continuous columns ('pearson' for linear)
):
    """Association in [0, 1] between the learner's input columns, as a square DataFrame.

    |Spearman| for two continuous columns, bias-corrected Cramér's V for two categorical ones, the
    correlation ratio eta for a categorical and a continuous one; computed on the learner's processed
    inputs (missing continuous values filled as FillMissing fills them, missing categories a level of
    their own); `_na` indicators belong to their column and are not listed."""
    schema = method_setup(learn, TABULAR).schema
    with preserved_state():
        data = load_tabular(learn, schema, df, split='train', param='df',
                            hint=': this learner holds no training data (a learner from load_learner is exported '
                                 'without it): pass `df=`, a DataFrame with the feature columns')
    if data.n_rows < 2:
        raise ParameterError('df', f"association needs at least 2 rows; `df` has {data.n_rows}")
    if data.n_rows < MIN_ROWS:
        warn(f"the association is computed on {data.n_rows} rows: with so few rows the measures are mostly "
                      "0 or 1 by chance and say little about the columns; pass hundreds of rows")
    return association_of(*feature_arrays(schema, *data.inputs), method)
