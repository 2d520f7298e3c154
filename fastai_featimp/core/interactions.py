"""Friedman's H-statistic (Friedman & Popescu 2008) on tensors: partial dependence functions evaluated at the rows
of a sample, from batched forward passes with columns set to each evaluation row's values.

For a pair (j, k), with every partial dependence centred over the evaluation rows,
    H^2_jk = sum_i [PD_jk(x_i) - PD_j(x_i) - PD_k(x_i)]^2 / sum_i PD_jk(x_i)^2,
and for one column j, with f the model's output (centred),
    H^2_j = sum_i [f(x_i) - PD_j(x_i) - PD_-j(x_i)]^2 / sum_i f(x_i)^2.
H is the square root: the share of the variance of the joint effect that the parts do not explain. Each partial
dependence at one evaluation row averages the model over all n sample rows, so the cost grows with n times
the number of evaluation rows (n^2 when every sample row is evaluated)."""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch

from .forward import prime_allocator

__all__ = ['partial_dependence_at', 'h_statistic']


def partial_dependence_at(forward: Callable, inputs: Sequence[torch.Tensor], columns: dict, points: torch.Tensor,
                          output: Callable, bs: int) -> np.ndarray:
    """For each evaluation row `p` in `points`, the mean of `output(forward(...))` over all rows of `inputs` with
    the `columns` (`{tensor index: column indices}`) set to row p's values. Returns (n_points,) floats."""
    n = inputs[0].shape[0]
    per_pass = max(1, bs // n)                      # evaluation rows per forward pass
    cols = {t: torch.as_tensor(c, dtype=torch.long, device=inputs[t].device) for t, c in columns.items()}
    out = []
    prime_allocator()
    with torch.inference_mode():
        for a in range(0, len(points), per_pass):
            chunk = points[a:a + per_pass]
            xb = []
            for t, x in enumerate(inputs):
                rep = x.repeat(len(chunk), 1)       # (chunk * n, columns): every row, once per evaluation row
                if t in cols:
                    rep[:, cols[t]] = x[chunk][:, cols[t]].repeat_interleave(n, dim=0)
                xb.append(rep)
            out.append(output(forward(*xb)).reshape(len(chunk), n).double().mean(1).cpu())
    return torch.cat(out).numpy()


def h_statistic(joint: np.ndarray, *parts: np.ndarray) -> float:
    "H from the joint function and its parts at the evaluation rows (all centred here): 0 when the parts add up to it."
    joint = joint - joint.mean()
    rest = joint - sum(p - p.mean() for p in parts)
    denominator = float((joint ** 2).sum())
    return float(np.sqrt((rest ** 2).sum() / denominator)) if denominator > 0 else 0.0
