"How the learner's input columns depend on each other: the association matrix."
from __future__ import annotations

from ..core.association import association_of
from ..core.checks import check_choice
from ..core.state import preserved_state
from ..tabular.data import feature_arrays, load_tabular
from ..tabular.schema import tabular_schema

__all__ = ['feature_dependence']


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
    check_choice('method', method, ('auto', 'spearman', 'pearson'))
    schema = tabular_schema(learn)
    with preserved_state():
        data = load_tabular(learn, schema, df, split='train', what='df',
                            hint=': this learner holds no training data (a learner from load_learner is exported '
                                 'without it): pass df=, a DataFrame with the feature columns')
    return association_of(*feature_arrays(schema, *data.inputs), method)
