"Shapley attributions of single predictions of a fastai tabular learner, per input column."
from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from fastai.learner import Learner
from fastcore.basics import patch
from fastcore.meta import delegates

from .checks import check_int
from .columns import resolve_variables
from .progress import progress_for
from .safety import eval_mode, preserved_global_rng
from .shapley import coalition_value_fn, exact_shapley, permutation_shapley
from .outputs import output_activation, output_labels, target_index
from .tabular_data import _gather, model_device, raw_inputs, tabular_schema

__all__ = ['explain', 'EXACT_MAX_PLAYERS']

EXACT_MAX_PLAYERS = 14   # 'auto' enumerates every coalition up to this many columns (2^14 = 16,384)


def _default_background(learn, n_background: int, rng) -> list:
    "A seeded sample of the training set's processed rows."
    to = learn.dls.train_ds
    if len(to) == 0:
        raise ValueError("this learner holds no training data (a learner from load_learner is exported without it): "
                         "pass background=, a DataFrame of typical rows")
    idx = np.sort(rng.choice(len(to), min(n_background, len(to)), replace=False))
    inputs, _ = _gather(learn.dls.train, to.iloc[idx])
    return [x.to(model_device(learn.model)) for x in inputs]


def _display_value(rows: pd.DataFrame, i: int, members) -> object:
    "The value as the user wrote it (several members: 'a=1, b=x')."
    if len(members) == 1: return rows.iloc[i][members[0]]
    return ', '.join(f'{m}={rows.iloc[i][m]}' for m in members)


def explain(
    learn,                         # a fastai tabular Learner
    rows,                          # DataFrame of rows to explain (raw values; labels optional)
    *,
    background=None,               # DataFrame of reference rows; None: a seeded sample of the training set
    n_background:int=100,          # size of that sample
    method:str='auto',             # 'exact', 'permutation', or 'auto' (exact up to 14 columns)
    n_permutations:int|None=None,  # permutations for method='permutation' (default 10 per column, antithetic pairs)
    seed:int|None=None,            # same seed, same background sample and permutations
    target=None,                   # class label or target name to explain (default: the predicted class)
    output:str='probability',      # 'probability' (after the loss's activation) or 'raw' (logit / value)
    groups:dict|None=None,         # `{name: [columns]}` switched together as one player
    show_progress:bool=True,       # a fastprogress bar over the rows
):
    """Interventional Shapley values per input column for each row: a long DataFrame `row, Variable, Value,
    Contribution, Std`; `attrs` hold base values, explained outputs and classes. Base + contributions = output."""
    if method not in ('auto', 'exact', 'permutation'):
        raise ValueError(f"method must be 'auto', 'exact' or 'permutation', got {method!r}")
    n_background = check_int('n_background', n_background)
    schema = tabular_schema(learn)
    players = resolve_variables(schema.cat_names, schema.cont_names, schema.na_parent, groups)
    out_fn = output_activation(learn, output)
    labels = output_labels(learn, schema)
    classifier = schema.y_vocab is not None or schema.multi_label
    if target is not None: target_index(labels, target)   # fail before any work
    m = len(players)
    use_exact = method == 'exact' or (method == 'auto' and m <= EXACT_MAX_PLAYERS)
    n_perm = int(n_permutations or 10 * m)
    bg_seq, perm_seq = np.random.SeedSequence(seed).spawn(2)
    with preserved_global_rng(), eval_mode(learn.model):
        x = raw_inputs(learn, schema, rows, 'rows')
        bg = (_default_background(learn, n_background, np.random.default_rng(bg_seq)) if background is None
              else raw_inputs(learn, schema, background, 'background'))
        with torch.inference_mode(): full_out = out_fn(learn.model(*x)).reshape(x[0].shape[0], -1).cpu()
        records, base_values, outputs, targets = [], [], [], []
        rng = np.random.default_rng(perm_seq)
        for i in progress_for(learn, show_progress, 'explaining rows')(range(x[0].shape[0])):
            k = target_index(labels, target, int(full_out[i].argmax()) if classifier else None)   # predicted class
            value = coalition_value_fn(learn.model, [t[i:i + 1] for t in x], bg, [p.group.slots for p in players],
                                       lambda p, k=k: out_fn(p).reshape(p.shape[0], -1)[:, k])
            if use_exact: phi, base, full = exact_shapley(value, m); se = np.full(m, np.nan)
            else: phi, se, base, full = permutation_shapley(value, m, n_perm, rng)
            base_values.append(base); outputs.append(full); targets.append(labels[k])
            for p, c, s in zip(players, phi, se):
                records.append(dict(row=i, Variable=p.name, Value=_display_value(rows, i, p.members),
                                    Contribution=float(c), Std=float(s)))
    expl = pd.DataFrame.from_records(records, columns=['row', 'Variable', 'Value', 'Contribution', 'Std'])
    expl.attrs.update(method='exact' if use_exact else 'permutation', base_values=base_values, outputs=outputs,
                      targets=targets, output=output, n_background=int(bg[0].shape[0]), seed=seed,
                      n_permutations=None if use_exact else n_perm, row_index=list(rows.index))
    return expl


@patch
@delegates(explain, but=['learn', 'rows'])
def explain(self:Learner, rows, **kwargs):
    "Shapley attributions of each row's prediction, per input column (see `fastai_featimp.explain.explain`)."
    return explain(self, rows, **kwargs)   # @patch leaves the module's free function in place
