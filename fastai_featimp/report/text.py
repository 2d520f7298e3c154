"""The report of a text learner: its data are a text and a label column, its flagged inputs phrases that must occur in
the texts, its examples the texts themselves with each word shaded, as `show_explanation` shows them."""
from __future__ import annotations

from ..common.reliance import flagged_names
from ..core.params import ParameterError
from .recipe import Recipe

__all__ = ['RECIPE']


class TextRecipe(Recipe):
    removal = "a text's units are masked, not taken from other rows"
    unit = 'phrase'
    data_needs = 'the text column and the label column'
    importance_columns = ['Variable', 'Type', 'Importance', 'Std', 'CI_low', 'CI_high', 'p_value', 'Support', 'MeanDelta']
    n_compare = 2     # texts every explanation method explains (three methods, each unit removed in turn)

    def columns(self, schema) -> list:
        if schema.text_col is None:
            raise ParameterError('data', "this text learner does not say which column holds its texts (it was not built "
                                         "from a DataFrame); the report needs a DataFrame with that column")
        return [schema.text_col] + list(schema.y_names)

    def check_flagged(self, run, flagged) -> list:
        names = flagged_names(flagged, 'phrases')
        bad = [n for n in names if not isinstance(n, str) or not n.strip()]
        if bad: raise ParameterError('flagged', f"`flagged` phrases must be non-empty strings, got {bad}")
        texts = run.data[run.schema.text_col].astype(str).str.lower()
        absent = [n for n in names if not texts.str.contains(n.lower(), regex=False).any()]
        if absent: raise ParameterError('flagged', f"`flagged` phrase(s) {absent} occur in none of the "
                                                   f"{len(texts):,} texts of `data`: check the spelling")
        return names

    def importance_how(self, fi) -> str:
        return (f"How much {fi.attrs['metric']} {self.moves(fi)} when every occurrence of a phrase is masked in the "
                f"{fi.attrs['n_rows']:,} texts (bars: 95% bootstrap interval over texts); Support is the number of "
                "texts holding the phrase, MeanDelta how far it pushes them towards the target.")


RECIPE = TextRecipe()
