"""Shapley values on a budget (issue 33): exact when the units that can change the output fit the budget, null units
exactly 0 and never evaluated, the budget honoured, values that add up, reproducible by seed, honest standard errors.
Accuracy per evaluation against shap and captum is measured in benchmarks/bench_shapley.py, not asserted here."""
import numpy as np
import pandas as pd
import pytest
import torch

from fastai_featimp.core.shapley import all_coalitions, shapley_from_values
from fastai_featimp.core.shapley_regression import budget_plan, budget_shapley

Q = dict(show_progress=False)


class Game:
    "A value function with interactions; records every coalition it is asked for."
    def __init__(self, m, seed=0, null=()):
        rng = np.random.default_rng(seed)
        self.w, self.p, self.null, self.asked = rng.normal(size=m), rng.normal(size=(m, m)) * 0.3, list(null), []

    def __call__(self, masks):
        self.asked.append(masks.clone())
        z = masks.double().numpy().copy()
        z[:, self.null] = 0.0                       # null players change nothing
        return 1 + z @ self.w + np.einsum('ki,ij,kj->k', z, self.p, z) + 0.5 * np.sin(2 * z @ self.w)

    @property
    def n_asked(self): return int(sum(len(a) for a in self.asked))


def exact(game, m):
    saved = list(game.asked)
    v = shapley_from_values(game(all_coalitions(m)), m)
    game.asked = saved
    return v


@pytest.mark.parametrize('m, null', [(6, ()), (10, (1, 4, 7)), (12, tuple(range(5)))])
def test_exact_when_the_changeable_units_fit(m, null):
    game = Game(m, null=null)
    active = np.array([j not in null for j in range(m)])
    k = int(active.sum())
    phi, se, base, full, n = budget_shapley(game, m, 2 ** k - 2, np.random.default_rng(0), active)
    np.testing.assert_allclose(phi, exact(game, m), atol=1e-12)
    assert all(phi[j] == 0.0 for j in null) and (se == 0).all()
    assert n == 2 ** k - 2 and game.n_asked == 2 ** k      # every coalition of the changeable units, once
    asked = torch.cat(game.asked)
    assert not asked[:, list(null)].any()                   # a null unit is never switched on: it costs nothing


@pytest.mark.parametrize('max_evals', [28, 100, 333])
def test_the_budget_is_honoured_and_the_values_add_up(max_evals):
    m = 14
    game = Game(m, seed=1)
    phi, se, base, full, n = budget_shapley(game, m, max_evals, np.random.default_rng(3))
    assert n <= max_evals and game.n_asked <= max_evals + 2
    assert len({bytes(r.numpy()) for r in torch.cat(game.asked)}) == game.n_asked   # each coalition evaluated once
    assert base + phi.sum() == pytest.approx(full, abs=1e-12)
    assert base == game(torch.zeros(1, m, dtype=torch.bool))[0] and full == game(torch.ones(1, m, dtype=torch.bool))[0]


def test_the_same_seed_gives_the_same_values():
    m = 12
    a = budget_shapley(Game(m), m, 200, np.random.default_rng(7))
    b = budget_shapley(Game(m), m, 200, np.random.default_rng(7))
    c = budget_shapley(Game(m), m, 200, np.random.default_rng(8))
    for x, y in zip(a, b): np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], c[0])


def test_standard_errors_are_honest_and_tolerance_stops_early():
    m = 12
    truth = exact(Game(m), m)
    runs = [budget_shapley(Game(m), m, 300, np.random.default_rng(s)) for s in range(30)]
    spread = np.std([r[0] for r in runs], axis=0, ddof=1)
    reported = np.mean([r[1] for r in runs], axis=0)
    ratio = reported.mean() / spread.mean()
    assert 0.5 < ratio < 2.0, ratio                        # the bootstrap's errors are those the estimator makes
    err = np.abs(np.mean([r[0] for r in runs], axis=0) - truth).max()
    assert err < 3 * spread.max() / np.sqrt(30) + 0.01     # little bias: the mean over seeds is near the truth
    game = Game(m)
    phi, se, base, full, n = budget_shapley(game, m, 2000, np.random.default_rng(0), tolerance=0.05)
    assert se.max() < 0.05 and n < 2000 and game.n_asked == n + 2


def test_the_plan_enumerates_the_heaviest_sizes_first():
    plan = budget_plan(10, 100, np.random.default_rng(0))
    sizes = plan.masks[2:].sum(1)
    assert not plan.exact and len(plan.masks) - 2 <= 100
    assert (sizes == 1).sum() == 10 and (sizes == 9).sum() == 10       # sizes 1 and 9 whole
    assert len({bytes(r) for r in plan.masks}) == len(plan.masks)       # no coalition twice
    drawn = plan.masks[2:][plan.stratum >= 0]
    assert (drawn[0::2] == ~drawn[1::2]).all()                           # each drawn with its complement
    # 14 units, 800 evaluations: sizes 2 and 12 get 214 by their weight, and their 182 coalitions are enumerated (a
    # stratum capped at its 91 pairs would leave evaluations unspent)
    big = budget_plan(14, 800, np.random.default_rng(0))
    sizes = big.masks[2:].sum(1)
    assert (sizes == 2).sum() == 91 and (sizes == 12).sum() == 91 and (sizes == 3).sum() < 364
    assert len(big.masks) - 2 == 800   # every evaluation spent: a size that fits is enumerated, not capped


# --- through the doors: a table with one background row, a text with unknown words --------------------------------

class RowCounter:
    "Counts the rows a model is run on (a forward pre-hook, removed on exit)."
    def __init__(self, model): self.model, self.rows = model, 0
    def __enter__(self):
        self.handle = self.model.register_forward_pre_hook(lambda m, args: setattr(self, 'rows', self.rows + args[0].shape[0]))
        return self
    def __exit__(self, *exc): self.handle.remove()


def test_a_table_with_one_background_row(binary_learner, binary_test, quiet):
    learn, df = binary_learner, binary_test
    bg = df.iloc[[40]]
    rows = df.head(3).copy()
    rows.loc[rows.index[0], ['level', 'noise_cat', 'row_id']] = bg[['level', 'noise_cat', 'row_id']].to_numpy()[0]
    truth = learn.explain(rows, background=bg, method='exact', **Q)
    for max_evals in (6, 62):
        with RowCounter(learn.model) as count:
            expl = learn.explain(rows.head(1), background=bg, method='shapley', max_evals=max_evals, seed=0, **Q)
        # three columns equal the background row: exactly 0, and the other three's 2^3 coalitions fit both budgets
        part = expl.set_index('Variable')['Contribution']
        assert (part[['level', 'noise_cat', 'row_id']] == 0).all()
        np.testing.assert_allclose(part.to_numpy(), truth[truth['row'] == 0]['Contribution'].to_numpy(), atol=1e-6)
        # the coalitions, base and full, the prediction and the one-row probe that reads the output's width
        assert expl.attrs['n_evals'] == [6] and count.rows <= 6 + 2 + 1 + 1
    with RowCounter(learn.model) as count:
        expl = learn.explain(rows, background=bg, method='shapley', max_evals=20, seed=0, **Q)
    assert count.rows <= 3 * (20 + 2) + 3 + 1 and max(expl.attrs['n_evals']) <= 20
    sums = expl.groupby('row')['Contribution'].sum().to_numpy() + np.array(expl.attrs['base_values'])
    np.testing.assert_allclose(sums, expl.attrs['outputs'], atol=1e-6)
    again = learn.explain(rows, background=bg, method='shapley', max_evals=20, seed=0, **Q)
    pd.testing.assert_frame_equal(expl, again)


def test_the_method_options_are_checked(binary_learner, binary_test):
    from fastai_featimp import ParameterError
    rows, bg = binary_test.head(1), binary_test.tail(5)
    with pytest.raises(ParameterError, match="budget of method='shapley'"):
        binary_learner.explain(rows, background=bg, method='permutation', max_evals=10, **Q)
    # one meaning for every kind: Shapley values from `n_permutations` permutations, whichever name the method has
    by_name = binary_learner.explain(rows, background=bg, method='shapley', n_permutations=4, seed=0, **Q)
    pd.testing.assert_frame_equal(by_name, binary_learner.explain(rows, background=bg, method='permutation',
                                                                  n_permutations=4, seed=0, **Q), check_like=True)
    with pytest.raises(ParameterError, match="either `?n_permutations`?.*or a budget"):
        binary_learner.explain(rows, background=bg, method='shapley', n_permutations=4, max_evals=20, **Q)
    with pytest.raises(ParameterError, match='tolerance'):
        binary_learner.explain(rows, background=bg, method='shapley', tolerance=-1, **Q)


def test_a_text_with_unknown_words(custom_text):
    learn = custom_text
    text = 'zorvex qwplk intubated overnight, family visit today.'   # lower case: no marker, the word is xxunk alone
    truth = learn.explain(text, method='shapley', max_evals=2 ** 12, **Q)   # every coalition of every word: exact
    assert truth.attrs['n_evals'][0] < 2 ** 12
    with RowCounter(learn.model) as count:
        expl = learn.explain(text, method='shapley', max_evals=254, seed=0, **Q)
    oov = expl['OOV'].to_numpy()
    assert oov.sum() == 2 and (expl.loc[oov, 'Contribution'] == 0).all()
    # 9 units (the comma and the full stop are units too), 7 of them known: their 2^7 - 2 proper coalitions fit, so
    # the values are exact, the same as enumerating every unit, for half the evaluations
    np.testing.assert_allclose(expl['Contribution'], truth['Contribution'], atol=1e-6)
    assert len(expl) == 9 and expl.attrs['n_evals'] == [126] and count.rows <= 126 + 2 + 1 + 1
    small = learn.explain(text, method='shapley', max_evals=40, seed=0, **Q)
    assert small.attrs['n_evals'][0] <= 40
    assert small['Contribution'].sum() + small.attrs['base_values'][0] == pytest.approx(small.attrs['outputs'][0], abs=1e-6)
    with pytest.raises(Exception, match='n_permutations'):
        learn.explain(text, method='shapley', n_permutations=4, max_evals=40, **Q)


def test_a_budget_that_cannot_determine_every_value_is_refused():
    from fastai_featimp import ParameterError
    # 14 units need each unit alone and each left out (28 coalitions): below that some values would be made up
    with pytest.raises(ParameterError, match='max_evals=20 cannot determine the Shapley values of 14 units.*at least 28'):
        budget_shapley(Game(14), 14, 20, np.random.default_rng(0))
