"""What every kind's page recipe shares: its calls take nothing extra, its examples are rows of `data`, it adds no
section of its own, it needs no background; a kind's recipe (`report/<kind>.py`) overrides what differs."""
from __future__ import annotations

import pandas as pd

__all__ = ['Recipe']


class Recipe:
    sections: list = []        # sections beyond the ones every kind has
    explains_flagged = True    # its `explain` marks flagged inputs (`flagged=`)

    def check(self, run) -> None: pass

    def explain_options(self, run) -> dict: return {}

    def reliance_options(self, run) -> dict: return self.explain_options(run)

    def faithfulness_options(self, run) -> dict: return self.explain_options(run)

    def importance_options(self, run) -> dict: return {}

    def rows(self, run, positions) -> pd.DataFrame: return run.data.iloc[list(positions)]

    @staticmethod
    def moves(fi) -> str:
        "How the importance table's metric moves when a unit is removed: 'falls' (higher is better) or 'rises'."
        return 'falls' if fi.attrs.get('greater_is_better') else 'rises'
