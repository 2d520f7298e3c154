"""Flagged columns of a tabular learner: which variables they are, and each row's expected output without them (the
flagged columns, with their `_na`, taken from each background row, the outputs averaged: the value of the coalition
of all other columns in interventional Shapley values). Shared by `reliance` and by `explain(..., flagged=)`."""
from __future__ import annotations

import torch

from ..common.reliance import flagged_names
from ..core.params import ParameterError

__all__ = ['flagged_variables', 'without_flagged_columns', 'raw_from_expected']


def flagged_variables(variables, flagged) -> list:
    "The variables named by `flagged`: column (or group) names, or the `Variable`s of the top rows of an importance table."
    flagged = flagged_names(flagged, 'columns')
    odd = [f for f in flagged if not isinstance(f, str)]
    if odd: raise ParameterError('flagged', f"`flagged` names the table's columns (strings), got {odd[0]!r}")
    by_name = {v.name: v for v in variables}
    members = {m: v for v in variables for m in v.members}
    unknown = [f for f in flagged if f not in by_name and f not in members]
    if unknown:
        raise ParameterError('flagged', f"unknown column(s) {unknown} in `flagged`; the learner's columns are "
                                        f"{list(by_name)}")
    return list(dict.fromkeys(by_name.get(f) or members[f] for f in flagged))


def without_flagged_columns(model, x, bg, flagged, activation, bs: int, progress=None) -> torch.Tensor:
    """(rows x outputs): for each row, the mean over the background rows of the activated outputs with the `flagged`
    variables' slots (their `_na` too) taken from the background row and every other slot from the row (the value
    of the coalition of all other columns, as in Shapley values)."""
    n, n_bg = x[0].shape[0], bg[0].shape[0]
    slots = {t: [c for v in flagged for tt, c in v.group.slots if tt == t] for t in range(len(x))}
    per_pass = max(1, bs // n_bg)
    out = []
    with torch.inference_mode():
        for a in range(0, n, per_pass):
            rows = slice(a, min(a + per_pass, n))
            batch = []
            for t, (xt, bt) in enumerate(zip(x, bg)):
                mixed = xt[rows].repeat_interleave(n_bg, dim=0)               # each row, once per background row
                if slots[t]: mixed[:, slots[t]] = bt[:, slots[t]].repeat(rows.stop - rows.start, 1)
                batch.append(mixed)
            y = activation(model(*batch)).reshape(rows.stop - rows.start, n_bg, -1)
            out.append(y.double().mean(1).cpu())
            if progress is not None: progress(rows.stop - rows.start)
    return torch.cat(out)


def raw_from_expected(mean_activated: torch.Tensor, schema, output: str) -> torch.Tensor:
    "A raw output whose activation is the expected (background-averaged) prediction, for the loss and the metrics."
    if output == 'raw' or (schema.y_vocab is None and not schema.multi_label): return mean_activated.float()
    p = mean_activated.clamp(1e-12, 1 - 1e-12)
    return (p.log() if not schema.multi_label else (p / (1 - p)).log()).float()
