"""What every kind's page recipe shares: its calls take nothing extra, its examples are rows of `data`, it adds no
section of its own, it needs no background; a kind's recipe (`report/<kind>.py`) overrides what differs."""
from __future__ import annotations

import pandas as pd

from ..common.kinds import picture
from ..core.params import ParameterError

__all__ = ['Recipe']


class Recipe:
    sections: list = []        # sections beyond the ones every kind has
    explains_flagged = True    # its `explain` marks flagged inputs (`flagged=`)
    removal = ''               # how a unit is removed, for a kind that takes no background

    def check(self, run) -> None:
        "A background is for a kind whose units are taken from other rows (a table's, which overrides this)."
        if run.background is not None:
            raise ParameterError('background', f"`background` is for tabular learners: {self.removal}")

    def explain_options(self, run) -> dict: return {}

    def reliance_options(self, run) -> dict: return self.explain_options(run)

    def faithfulness_options(self, run) -> dict: return self.explain_options(run)

    def importance_options(self, run) -> dict: return {}

    def rows(self, run, positions) -> pd.DataFrame: return run.data.iloc[list(positions)]

    def draw_example(self, run, expl, row) -> str:
        "One explained example as an HTML fragment, as the explanation's kind draws it."
        return picture(expl, 'html')(expl, row)

    @staticmethod
    def moves(fi) -> str:
        "How the importance table's metric moves when a unit is removed: 'falls' (higher is better) or 'rises'."
        return 'falls' if fi.attrs.get('greater_is_better') else 'rises'
