"""The report of a tabular learner: what its calls take (a background for learners exported without training rows),
its examples drawn as waterfalls, and the sections only a table has: the dependence map with the groups of associated
columns, and partial dependence / ALE of the top columns and of the strongest interaction."""
from __future__ import annotations

import numpy as np

from ..common.reliance import flagged_names
from ..core.params import ParameterError
from ..plot.dependence import plot_dependence
from ..plot.explanation import plot_waterfall
from .page import Section, figure, paragraph, table
from .recipe import Recipe
from .sections import calls_of, metric_options

__all__ = ['RECIPE']

N_REPEATS = 3        # permutations per column: intervals that are honest at a third of the default cost
N_EFFECTS = 2        # top columns whose PD and ALE are drawn
N_PAIRS_FROM = 6     # the strongest interaction is sought among this many top columns
PD_ROWS = 1000       # rows a partial dependence averages over (a seeded sample)
H_ROWS = 200         # rows of the H-statistic
N_BACKGROUND = 100   # background rows taken from `data` or `background` (the methods' own n_background)


class TabularRecipe(Recipe):
    unit = 'column'
    data_needs = 'the input columns and the label column'
    importance_columns = ['Variable', 'Type', 'Importance', 'Std', 'CI_low', 'CI_high', 'p_value']
    n_compare = 3     # rows every explanation method explains, to be compared

    def columns(self, schema) -> list: return list(schema.feature_names) + list(schema.y_names)

    def check_flagged(self, run, flagged) -> list:
        names = flagged_names(flagged, 'columns')
        unknown = [n for n in names if n not in run.schema.feature_names]
        if unknown: raise ParameterError('flagged', f"`flagged` names {unknown}, which are not input columns of this "
                                                    f"learner; its columns are {list(run.schema.feature_names)}")
        return names

    def check(self, run) -> None:
        if run.background is not None:
            missing = [c for c in run.schema.feature_names if c not in run.background.columns]
            if missing: raise ParameterError('background', f"`background` lacks the input column(s) {missing}")

    def background(self, run):
        """The rows the explanations compare with: the methods' default (a sample of the training rows) when the learner
        has them; else the caller's `background` or `data` (a learner from load_learner keeps no rows), cut to a seeded
        sample of N_BACKGROUND rows, so that every call uses the same rows whole (the comparison's evaluation takes the
        background whole, whereas `explain` would sample a larger one)."""
        if 'background' not in run.results:
            bg = run.background if run.background is not None else None if len(run.learn.dls.train_ds) else run.data
            if bg is not None and len(bg) > N_BACKGROUND:
                name = run.shown(bg)
                # an int seeds its own RandomState; never the global generator (left as the caller had it)
                bg = bg.sample(N_BACKGROUND, random_state=run.seed if run.seed is not None else np.random.default_rng())
                run.names[id(bg)] = f"{name}.sample({N_BACKGROUND}, random_state={run.seed})"
            run.results['background'] = bg
        return run.results['background']

    def explain_options(self, run) -> dict:
        bg = self.background(run)
        return {} if bg is None else {'background': bg}

    def importance_options(self, run) -> dict: return {'n_repeats': N_REPEATS}

    def importance_how(self, fi) -> str:
        return (f"How much {fi.attrs['metric']} {self.moves(fi)} when a column's values are shuffled across the "
                f"{fi.attrs['n_rows']:,} rows (mean of {fi.attrs['n_repeats']} shuffles, bars: 95% interval): a column "
                "whose interval crosses zero is one the model does not need.")

    def draw_example(self, run, expl, row) -> str:
        return figure(plot_waterfall(expl, row=row), f"waterfall of row {row}")

    @property
    def sections(self) -> list: return [('dependence', dependence), ('effects', effects)]


def dependence(run) -> Section:
    assoc = run.call('feature_dependence', run.data)
    grouped = run.call('feature_importance', df=run.data, groups='auto', **metric_options(run), seed=run.seed,
                       show_progress=False, n_repeats=N_REPEATS)
    groups = grouped[grouped['Type'] == 'group']
    threshold = grouped.attrs.get('threshold', 0.7)
    s = Section('dependence', 'Dependence map and groups',
                "How strongly the input columns go together (1: one determines the other); columns associated at "
                f"{threshold:g} or more form a group, permuted together, because shuffling one alone would hide what "
                "the other still carries.")
    s.add(figure(plot_dependence(assoc), 'dendrogram and heatmap of the association between columns'))
    if len(groups): s.add(table(groups, 'groups', ['Variable', 'Members', 'Importance', 'CI_low', 'CI_high']))
    else: s.add(paragraph(f"No columns are associated at {threshold:g} or more: each column's importance above stands "
                          "on its own.", 'groups'))
    return s.add(calls_of(run, 'dependence'))


def effects(run) -> Section:
    import matplotlib.pyplot as plt
    fi = run.results['importance']
    # columns the model needs (interval above zero): an unused column's curves and interactions are noise
    top = [v for v, low in zip(fi['Variable'], fi['CI_low']) if v in run.schema.feature_names and low > 0]
    s = Section('effects', 'How the prediction moves with the top columns',
                "Partial dependence (left: the average prediction when every row is given that value) and accumulated "
                "local effects (right: the same change measured only among rows with similar values, safe when "
                "columns are correlated) of the most important columns; then the strongest interaction (Friedman's H, "
                "0: none) and its two-way partial dependence.")
    if not top: s.add(paragraph("No column's importance interval lies above zero: there is no effect worth drawing."))
    for col in top[:N_EFFECTS]:
        pd_ = run.call('partial_dependence', col, run.data, subsample=PD_ROWS, seed=run.seed, show_progress=False)
        ale = run.call('accumulated_local_effects', col, run.data, seed=run.seed)
        fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
        pd_.plot(ax=left); ale.plot(ax=right)
        left.set_title(f'partial dependence on {col}', fontsize='medium'); right.set_title(f'ALE of {col}', fontsize='medium')
        fig.tight_layout()
        s.add(figure(fig, f'partial dependence and ALE of {col}'))
    candidates = top[:N_PAIRS_FROM]
    if len(candidates) >= 2:
        h = run.call('interaction_strength', run.data, features=candidates, n_rows=H_ROWS, seed=run.seed,
                     show_progress=False)
        run.results['interactions'] = h
        s.add(table(h.head(5), 'interactions', ['Variable_1', 'Variable_2', 'H']))
        a, b = h['Variable_1'].iloc[0], h['Variable_2'].iloc[0]
        pair = run.call('partial_dependence', [a, b], run.data, subsample=PD_ROWS // 2, grid_resolution=10,
                        seed=run.seed, show_progress=False)
        fig, ax = plt.subplots(figsize=(6, 4.5))
        pair.plot(ax=ax)
        s.add(figure(fig, f'two-way partial dependence of {a} and {b}'))
    return s.add(calls_of(run, 'effects'))


RECIPE = TabularRecipe()
