"""Interactions: Shapley interaction values of single rows and Friedman's H of the whole model, checked against
their definitions, on a planted x1*x2 interaction; bootstrap bands for PD and ALE; ALE of a categorical column."""
from itertools import combinations
from math import factorial

import numpy as np
import pandas as pd
import pytest
import torch
from fastai.tabular.all import RegressionBlock

import fastai_featimp
from helpers import train

Q = dict(show_progress=False)


def product_table(n, seed):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(rng.uniform(-1, 1, (n, 4)), columns=['x1', 'x2', 'x3', 'x4'])
    return df.assign(y=df['x1'] * df['x2'] + df['x3'] + 0.05 * rng.normal(size=n))


@pytest.fixture(scope='module')
def product():
    "A small network that learnt y = x1 * x2 + x3 (x4 is noise)."
    learn = train(product_table(4000, 0), 'y', [], ['x1', 'x2', 'x3', 'x4'], epochs=8, y_block=RegressionBlock())
    return learn, product_table(1000, 1)


def test_the_planted_pair_stands_out(product):
    learn, test = product
    pairs = learn.interaction_strength(test, n_rows=250, seed=0, **Q)
    h = {frozenset((a, b)): v for a, b, v in zip(pairs['Variable_1'], pairs['Variable_2'], pairs['H'])}
    assert set(pairs.iloc[0][['Variable_1', 'Variable_2']]) == {'x1', 'x2'} and pairs['H'].iloc[0] > 0.8
    assert all(h[frozenset(('x3', c))] < 0.25 * h[frozenset(('x1', 'x2'))] for c in ['x1', 'x2', 'x4'])
    total = learn.interaction_strength(test, kind='total', n_rows=250, seed=0, **Q).set_index('Variable')['H']
    assert total['x3'] < 0.1 and min(total['x1'], total['x2']) > 3 * total['x3']
    assert pairs.attrs['n_rows'] == 250 and len(pairs.attrs['rows']) == 250 and len(pairs.attrs['grid']) == 250
    rows = learn.explain_interactions(test.iloc[:8], n_background=40, seed=0, **Q)
    off = rows[rows['Variable_1'] != rows['Variable_2']].assign(abs=lambda d: d['Interaction'].abs())
    top = off.groupby(['Variable_1', 'Variable_2'])['abs'].mean().idxmax()
    assert set(top) == {'x1', 'x2'}
    per_row_top = off.loc[off.groupby('row')['abs'].idxmax()]
    assert (per_row_top.apply(lambda r: {r['Variable_1'], r['Variable_2']} == {'x1', 'x2'}, axis=1)).mean() >= 0.75
    import matplotlib.pyplot as plt
    ax = fastai_featimp.plot_interactions(pairs, top=3)
    assert [t.get_text() for t in ax.get_yticklabels()][-1] in ('x1 × x2', 'x2 × x1'); plt.close(ax.figure)
    ax = fastai_featimp.plot_interactions(rows, row=0)
    assert len(ax.images) == 1 and [t.get_text() for t in ax.get_xticklabels()] == ['x1', 'x2', 'x3', 'x4']
    plt.close(ax.figure)


class FiveWay(torch.nn.Module):
    "A fixed non-additive function of five continuous inputs and one categorical code."
    def forward(self, x_cat, x_cont):
        a, b, c, d, e = x_cont.T
        return (torch.tanh(a * b) + c * d ** 2 - 0.5 * e * a + 0.3 * (x_cat[:, 0] == 1).float() * c)[:, None]


class Additive(torch.nn.Module):
    "Additive in the processed inputs (a linear model plus a per-level effect): no interaction at all."
    def forward(self, x_cat, x_cont):
        return (x_cont @ torch.tensor([1.0, -2.0, 0.5, 0.0, 3.0]) + 0.7 * x_cat[:, 0].float())[:, None]


@pytest.fixture(scope='module')
def five():
    rng = np.random.default_rng(3)
    df = pd.DataFrame(rng.normal(size=(600, 5)), columns=list('abcde')).assign(k=rng.choice(['p', 'q', 'r'], 600), y=0.0)
    learn = train(df, 'y', ['k'], list('abcde'), epochs=1, y_block=RegressionBlock())
    return learn, df


def with_model(learn, model, fn):
    saved, learn.model = learn.model, model
    try: return fn()
    finally: learn.model = saved


def brute_force_interactions(learn, row, bg):
    "Shapley interaction values from their definition, with coalition values computed row by row."
    to = lambda df: learn.dls.test_dl(df).dataset
    r, b = to(row), to(bg)
    x_cat, x_cont = r.cats.to_numpy(), r.conts.to_numpy(float)
    b_cat, b_cont = b.cats.to_numpy(), b.conts.to_numpy(float)
    players = [('cat', 0)] + [('cont', j) for j in range(5)]   # k, a, b, c, d, e (the learner's order)
    def v(S):
        cats, conts = b_cat.copy(), b_cont.copy()
        for p in S:
            kind, j = players[p]
            if kind == 'cat': cats[:, j] = x_cat[0, j]
            else: conts[:, j] = x_cont[0, j]
        with torch.no_grad():
            return float(learn.model(torch.as_tensor(cats).long(), torch.as_tensor(conts, dtype=torch.float32)).mean())
    m = len(players)
    phi = np.zeros(m)
    for i in range(m):
        others = [p for p in range(m) if p != i]
        phi[i] = sum(factorial(len(S)) * factorial(m - len(S) - 1) / factorial(m) * (v(S + (i,)) - v(S))
                     for n in range(m) for S in combinations(others, n))
    out = np.zeros((m, m))
    for i, j in combinations(range(m), 2):
        others = [p for p in range(m) if p not in (i, j)]
        out[i, j] = out[j, i] = sum(
            factorial(len(S)) * factorial(m - len(S) - 2) / (2 * factorial(m - 1))
            * (v(S + (i, j)) - v(S + (i,)) - v(S + (j,)) + v(S)) for n in range(m - 1) for S in combinations(others, n))
    out[np.diag_indices(m)] = phi - out.sum(1)
    return out, v(tuple(range(m))) - v(())


def matrix_of(result, row, names):
    part = result[result['row'] == row]
    return part.pivot(index='Variable_1', columns='Variable_2', values='Interaction').loc[names, names].to_numpy()


def test_interaction_values_follow_their_definition(five):
    learn, df = five
    rows, bg = df.iloc[:2], df.iloc[100:130]
    names = ['k'] + list('abcde')
    def run():
        res = learn.explain_interactions(rows, background=bg, output='raw', **Q)
        expl = learn.explain(rows, background=bg, output='raw', method='exact', **Q)
        ref = [brute_force_interactions(learn, rows.iloc[[r]], bg) for r in range(2)]
        return res, expl, ref
    res, expl, ref = with_model(learn, FiveWay(), run)
    for r in range(2):
        matrix = matrix_of(res, r, names)
        np.testing.assert_allclose(matrix, matrix.T, atol=1e-12)                        # symmetric
        np.testing.assert_allclose(matrix, ref[r][0], atol=1e-5)                        # the definition
        shap = expl[expl['row'] == r].set_index('Variable')['Contribution'][names].to_numpy()
        np.testing.assert_allclose(matrix.sum(1), shap, atol=1e-6)                      # rows sum to Shapley values
        assert matrix.sum() == pytest.approx(res.attrs['outputs'][r] - res.attrs['base_values'][r], abs=1e-6)
        assert matrix.sum() == pytest.approx(ref[r][1], abs=1e-5)
        assert abs(matrix[1, 2]) > 1e-3                                                 # a x b interacts


def test_an_additive_model_has_no_interaction(five):
    learn, df = five
    res = with_model(learn, Additive(), lambda: learn.explain_interactions(df.iloc[:3], background=df.iloc[200:240],
                                                                           output='raw', **Q))
    off = res[res['Variable_1'] != res['Variable_2']]['Interaction']
    assert off.abs().max() < 1e-6
    diag = res[res['Variable_1'] == res['Variable_2']]
    assert diag['Interaction'].abs().max() > 0.1


def brute_force_h(learn, inputs, j, k):
    "Friedman's H of columns (j, k) of the processed continuous inputs, from its definition, one point at a time."
    x_cat, x_cont = inputs
    def f(cont):
        with torch.no_grad(): return learn.model(x_cat, cont)[:, 0].double()
    def pd(cols, i):
        cont = x_cont.clone()
        for c in cols: cont[:, c] = x_cont[i, c]
        return float(f(cont).mean())
    n = len(x_cont)
    pj = np.array([pd([j], i) for i in range(n)]); pk = np.array([pd([k], i) for i in range(n)])
    pjk = np.array([pd([j, k], i) for i in range(n)])
    pj, pk, pjk = pj - pj.mean(), pk - pk.mean(), pjk - pjk.mean()
    return np.sqrt(((pjk - pj - pk) ** 2).sum() / (pjk ** 2).sum())


def test_h_statistic_follows_its_definition(five):
    learn, df = five
    rows = df.iloc[:60]
    def run():
        ours = learn.interaction_strength(rows, features=list('abcde'), n_rows=60, output='raw', **Q)
        from fastai_featimp.tabular.data import gather_batch
        inputs, _ = gather_batch(learn.dls.test_dl(rows))
        return ours, {(a, b): brute_force_h(learn, inputs, 'abcde'.index(a), 'abcde'.index(b))
                      for a, b in [('a', 'b'), ('c', 'd'), ('a', 'e'), ('b', 'c')]}
    ours, ref = with_model(learn, FiveWay(), run)
    table = {(a, b): h for a, b, h in zip(ours['Variable_1'], ours['Variable_2'], ours['H'])}
    for pair, h in ref.items(): assert table[pair] == pytest.approx(h, abs=1e-6), pair


def test_too_many_columns_for_interaction_values():
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(300, 15)), columns=[f'c{i}' for i in range(15)]).assign(y=0.0)
    learn = train(df, 'y', [], [f'c{i}' for i in range(15)], epochs=1, y_block=RegressionBlock())
    with pytest.raises(ValueError, match='at most 14 columns are enumerated: group columns'):
        learn.explain_interactions(df.iloc[:1], **Q)


def test_bootstrap_bands(product):
    learn, test = product
    plain = learn.partial_dependence('x1', test, **Q)
    banded = learn.partial_dependence('x1', test, n_bootstrap=100, seed=0, **Q)
    again = learn.partial_dependence('x1', test, n_bootstrap=100, seed=0, **Q)
    np.testing.assert_array_equal(plain.average, banded.average)
    assert plain.lower is None and plain.n_bootstrap == 0
    assert (banded.lower <= banded.average + 1e-12).all() and (banded.average <= banded.upper + 1e-12).all()
    assert (banded.upper - banded.lower).max() > 0
    np.testing.assert_array_equal(banded.lower, again.lower)
    ale = learn.accumulated_local_effects('x3', test, n_bootstrap=100, seed=1)
    assert learn.accumulated_local_effects('x3', test).lower is None
    np.testing.assert_array_equal(ale.average, learn.accumulated_local_effects('x3', test).average)
    assert (ale.lower <= ale.average + 1e-12).all() and (ale.average <= ale.upper + 1e-12).all()
    frame = banded.to_frame()
    assert {'lower', 'upper'} <= set(frame.columns)
    import matplotlib.pyplot as plt
    ax = banded.plot(); assert ax.collections; plt.close(ax.figure)


class LevelEffect(torch.nn.Module):
    "An additive effect of the level of `k` (codes 1, 2, 3 -> 0.0, 2.0, -1.0) plus a function of `a`; `k2` ignored."
    def forward(self, x_cat, x_cont):
        effect = torch.tensor([0.0, 0.0, 2.0, -1.0])[x_cat[:, 0]]
        return (effect + torch.sin(x_cont[:, 0]))[:, None]


def test_ale_of_a_categorical_column():
    rng = np.random.default_rng(4)
    n = 900
    df = pd.DataFrame({'k': rng.choice(['p', 'q', 'r'], n), 'k2': rng.choice(['u', 'v'], n), 'a': rng.normal(size=n),
                       'y': 0.0})
    learn = train(df, 'y', ['k', 'k2'], ['a'], epochs=1, y_block=RegressionBlock())
    ale, ignored = with_model(learn, LevelEffect(), lambda: (learn.accumulated_local_effects('k', df, output='raw'),
                                                             learn.accumulated_local_effects('k2', df, output='raw')))
    assert np.all(ignored.average == 0)
    values = dict(zip(ale.grid_values[0], ale.average))
    truth = {'p': 0.0, 'q': 2.0, 'r': -1.0}
    for a, b in combinations('pqr', 2):
        assert values[a] - values[b] == pytest.approx(truth[a] - truth[b], abs=1e-6)
    counts = df['k'].value_counts()
    assert sum(values[l] * counts[l] for l in 'pqr') == pytest.approx(0, abs=1e-9)   # centred
    assert ale.categorical == [True] and ale.kind == 'ale'
    import matplotlib.pyplot as plt
    ax = ale.plot(); assert [t.get_text() for t in ax.get_xticklabels()] == list(ale.grid_values[0]); plt.close(ax.figure)


def test_interaction_arguments(product):
    learn, test = product
    total = learn.interaction_strength(test, features='x1', kind='total', n_rows=50, **Q)   # one name, not its letters
    assert list(total['Variable']) == ['x1']
    from_pairs = learn.interaction_strength(test, pairs=[('x1', 'x3')], kind='total', n_rows=50, **Q)
    assert set(from_pairs['Variable']) == {'x1', 'x3'}
    with pytest.raises(ValueError, match=r"unknown column\(s\) \['x9'\]"):
        learn.interaction_strength(test, features=['x1', 'x9'], **Q)
