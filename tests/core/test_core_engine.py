"The tensor engine on its own: no fastai, known closed forms."
import numpy as np
import torch

from fastai_featimp.core.forward import batched_forward
from fastai_featimp.core.permutation import ColumnGroup, permutation_scores, permuted_forward


def mse(preds, targ): return [float(((preds - targ) ** 2).mean())]


def linear_problem(n=4000, seed=0):
    g = torch.Generator().manual_seed(seed)
    x_cont = torch.randn(n, 4, generator=g)
    x_cont = (x_cont - x_cont.mean(0)) / x_cont.std(0, unbiased=False)   # standardised
    x_cat = torch.randint(0, 5, (n, 2), generator=g)
    w = torch.tensor([2.0, -1.0, 0.5, 0.0])
    forward = lambda xc, xn: xn @ w   # ignores the categorical inputs entirely
    return forward, [x_cat, x_cont], x_cont @ w, w


def test_linear_model_closed_form():
    "Permuting standardised column j of y = X @ w under MSE costs 2 w_j^2 (times N/(N-1))."
    forward, inputs, y, w = linear_problem()
    n = y.shape[0]
    groups = [ColumnGroup(((1, j),)) for j in range(4)]
    base, perm = permutation_scores(forward, inputs, y, groups, mse, n_repeats=40, seed=0)
    assert base[0] < 1e-10
    imp = perm[:, :, 0].mean(1) - base[0]
    expected = 2 * w.numpy() ** 2 * n / (n - 1)
    np.testing.assert_allclose(imp, expected, rtol=0.06, atol=1e-9)
    assert np.all(perm[3] == base[0])   # w_3 = 0: exactly nothing in every repeat


def test_ignored_input_tensor_scores_exactly_zero():
    forward, inputs, y, _ = linear_problem()
    base, perm = permutation_scores(forward, inputs, y, [ColumnGroup(((0, 0), (0, 1)))], mse, 3, seed=1)
    assert np.all(perm == base[0])


def test_group_across_tensors_uses_one_row_permutation():
    "Members of a group move with one shared row permutation, across the categorical and continuous tensors."
    n = 500
    x_cont = torch.randn(n, 1)
    x_cat = torch.randint(0, 3, (n, 1))
    y = (x_cat[:, 0].float() - x_cont[:, 0]).unsqueeze(1)
    forward = lambda xc, xn: (xc[:, :1].float() - xn[:, :1])
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(0))
    out = permuted_forward(forward, [x_cat, x_cont], ColumnGroup(((0, 0), (1, 0))), perm, bs=64)
    # row i sees row perm[i]'s pair intact, so its output is exactly row perm[i]'s unpermuted output
    assert torch.equal(out, y[perm])


def test_inputs_not_modified_and_batch_size_invariant():
    forward, inputs, y, _ = linear_problem(n=1000)
    before = [x.clone() for x in inputs]
    groups = [ColumnGroup(((1, j),)) for j in range(4)] + [ColumnGroup(((0, 0), (1, 1)))]
    r64 = permutation_scores(forward, inputs, y, groups, mse, 3, seed=5, bs=64)
    r4k = permutation_scores(forward, inputs, y, groups, mse, 3, seed=5, bs=4096)
    for a, b in zip(inputs, before): assert torch.equal(a, b)
    np.testing.assert_allclose(r64[1], r4k[1], rtol=1e-6)
    np.testing.assert_array_equal(r64[0], r4k[0])


def test_seed_reproducible_and_groups_independent():
    "Same seed: same numbers; a group's permutations do not depend on the other groups scored."
    forward, inputs, y, _ = linear_problem(n=800)
    g = [ColumnGroup(((1, j),)) for j in range(3)]
    a = permutation_scores(forward, inputs, y, g, mse, 4, seed=3)[1]
    b = permutation_scores(forward, inputs, y, g, mse, 4, seed=3)[1]
    c = permutation_scores(forward, inputs, y, g, mse, 4, seed=4)[1]
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_batched_forward_matches_one_pass():
    forward, inputs, y, _ = linear_problem(n=777)
    np.testing.assert_allclose(batched_forward(forward, inputs, bs=100), forward(*inputs), rtol=1e-6)
