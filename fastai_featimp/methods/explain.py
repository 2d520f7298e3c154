"Shapley attributions of single predictions of a fastai tabular learner, per input column."
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..common.outputs import default_target, output_activation, output_kind, output_labels, target_index
from ..common.progress import progress_for
from ..core.checks import check_choice, check_int, plain
from ..core.seeding import root_seed, stream
from ..core.shapley import EXACT_MAX_PLAYERS, exact_shapley, permutation_shapley
from ..core.state import eval_mode, preserved_state
from ..tabular.coalitions import display_value, explained_and_background, row_value
from ..tabular.schema import tabular_schema
from ..tabular.variables import resolve_variables

__all__ = ['explain']


def explain(
    learn,                         # a fastai tabular Learner
    rows,                          # DataFrame of rows to explain (raw values; labels optional)
    *,
    background=None,               # DataFrame of reference rows; None: a seeded sample of the training set
    n_background:int=100,          # size of that sample
    method:str='auto',             # 'exact', 'permutation', or 'auto' (exact up to 14 columns)
    n_permutations:int|None=None,  # permutations for method='permutation' (default 10 per column, antithetic pairs)
    seed:int|None=None,            # same seed, same background sample and permutations
    target=None,                   # class or target to explain (default: a binary model's positive class, else the predicted class)
    output:str='probability',      # 'probability' (after the loss's activation) or 'raw' (logit / value)
    groups:dict|None=None,         # `{name: [columns]}` switched together as one player
    show_progress:bool=True,       # a fastprogress bar over the rows
):
    """Interventional Shapley values per input column for each row: a long DataFrame `row, Variable, Value,
    Contribution, Std`; `attrs` hold base values, explained outputs and classes. Base + contributions = output."""
    check_choice('method', method, ('auto', 'exact', 'permutation'))
    n_background = check_int('n_background', n_background)
    schema = tabular_schema(learn)
    players = resolve_variables(schema.cat_names, schema.cont_names, schema.na_parent, groups)
    out_fn = output_activation(learn, output)
    labels = output_labels(learn, schema)
    if target is not None: target_index(labels, target)   # fail before any work
    m = len(players)
    use_exact = method == 'exact' or (method == 'auto' and m <= EXACT_MAX_PLAYERS)
    n_perm = int(n_permutations or 10 * m)
    root = root_seed(seed)
    with preserved_state(), eval_mode(learn.model):
        x, bg = explained_and_background(learn, schema, rows, background, n_background, stream(root, 'background'))
        with torch.inference_mode(): full_out = out_fn(learn.model(*x)).reshape(x[0].shape[0], -1).cpu()
        records, base_values, outputs, targets = [], [], [], []
        for i in progress_for(learn, show_progress, 'explaining rows')(range(x[0].shape[0])):
            k = default_target(schema, labels, target, int(full_out[i].argmax()))
            value = row_value(learn.model, x, i, bg, players, out_fn, k)
            if use_exact: phi, base, full = exact_shapley(value, m); se = np.full(m, np.nan)
            else: phi, se, base, full = permutation_shapley(value, m, n_perm, stream(root, 'permutations', i))
            base_values.append(base); outputs.append(full); targets.append(plain(labels[k]))
            for p, c, s in zip(players, phi, se):
                records.append(dict(row=i, Variable=p.name, Value=display_value(rows, i, p.members),
                                    Contribution=float(c), Std=float(s)))
    expl = pd.DataFrame.from_records(records, columns=['row', 'Variable', 'Value', 'Contribution', 'Std'])
    expl.attrs.update(method='exact' if use_exact else 'permutation', base_values=base_values, outputs=outputs,
                      targets=targets, output=output_kind(schema, output), n_background=int(bg[0].shape[0]), seed=seed,
                      n_permutations=None if use_exact else n_perm, row_index=list(rows.index))
    return expl
