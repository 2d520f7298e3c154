"""Which words drove this prediction: attributions of a fastai text classifier's output to the units (words,
sentences or tokens) of each text, by Shapley sampling, occlusion or integrated gradients."""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..common.outputs import default_target, is_binary, output_activation, output_kind, output_labels, target_index
from ..common.progress import progress_for
from ..core.checks import check_choice, check_int, plain
from ..core.seeding import root_seed, stream
from ..core.shapley import permutation_shapley
from ..core.state import eval_mode, preserved_state
from ..text.data import load_text
from ..text.forward import text_forward
from ..text.gradients import embedding_layer, integrated_gradients
from ..text.schema import text_schema
from ..text.units import UNITS, align, units_of

__all__ = ['explain_text', 'TEXT_METHODS', 'MASKS']

TEXT_METHODS = ('shapley', 'occlusion', 'integrated_gradients')
MASKS = ('unk', 'delete')
COLUMNS = ['row', 'Variable', 'Start', 'End', 'Contribution', 'Std', 'OOV']


def _masked(ids: torch.Tensor, membership: torch.Tensor, keep: torch.Tensor, mask: str, unk_id: int) -> list:
    "The text for each coalition `keep` (C x M, True = unit present): absent units' tokens replaced by xxunk or deleted."
    drop = (~keep).float() @ membership.float() > 0          # (C, length): token of an absent unit
    if mask == 'unk': return list(torch.where(drop, torch.full_like(ids, unk_id), ids))
    return [ids[~d] for d in drop]


def explain_text(
    learn,                          # a fastai learner over text (text_classifier_learner, or Learner with text dls)
    texts,                          # a string, a list of strings, a Series, or a DataFrame with the learner's text column
    *,
    unit:str='word',                # 'word' (with its xxmaj/xxup/xxrep markers), 'sentence' or 'token'
    method:str='shapley',           # 'shapley' (sampled, with Std), 'occlusion' (each unit masked alone) or 'integrated_gradients'
    n_permutations:int=20,          # permutations for method='shapley' (antithetic pairs)
    mask:str='unk',                 # how a unit is removed: replaced by `xxunk`, or 'delete'd; never `xxpad`
    target=None,                    # class to explain (default: a binary model's positive class, else the predicted class)
    output:str='probability',       # 'probability' (after the loss's activation) or 'raw' (logit)
    seed:int|None=None,             # same seed, same permutations
    bs:int|None=None,               # texts per forward pass (default: 16,384 tokens' worth)
    text_col:str|None=None,         # the text column of a DataFrame (default: the one the learner was built from)
    n_steps:int=50,                 # integration steps for method='integrated_gradients'
    show_progress:bool=True,        # a fastprogress bar over the texts
):
    """Attributions of each text's output to its units: a long DataFrame `row, Variable, Start, End,
    Contribution, Std, OOV`, where `text[Start:End]` is the unit as written (`Variable`). `attrs` hold
    `base_values` (the output with every unit masked), `outputs`, `targets`, `texts`, `method`, `unit`.
    Shapley values add up exactly: base + sum of contributions = output."""
    check_choice('unit', unit, UNITS)
    check_choice('method', method, TEXT_METHODS)
    if mask == 'pad' or mask == 'xxpad':
        raise ValueError("mask='pad' is not offered: fastai text models treat xxpad as padding, which changes their "
                         "output in ways unrelated to the word (use mask='unk' or 'delete')")
    check_choice('mask', mask, MASKS)
    n_permutations = check_int('n_permutations', n_permutations)
    n_steps = check_int('n_steps', n_steps)
    if bs is not None: bs = check_int('bs', bs)
    schema = text_schema(learn)
    out_fn = output_activation(learn, output)
    labels = output_labels(learn, schema)
    if target is not None: target_index(labels, target)   # fail before any work
    layer = None
    if method == 'integrated_gradients':
        if mask != 'unk': raise ValueError("integrated gradients interpolates embeddings from the xxunk baseline: use mask='unk'")
        layer = embedding_layer(learn.model, len(schema.vocab))
        if layer is None:
            raise ValueError("integrated gradients needs an embedding layer over the learner's vocabulary; this model has "
                             "none: use method='shapley' or 'occlusion'")
    root = root_seed(seed)
    data = load_text(learn, schema, texts, text_col=text_col, what='texts')
    records, base_values, outputs, targets, completeness = [], [], [], [], []
    with preserved_state(), eval_mode(learn.model):
        for i in progress_for(learn, show_progress, 'explaining texts')(range(data.n_rows)):
            tokens, ids, text = data.tokens[i], data.ids[i], data.texts[i]
            units = align(text, tokens, units_of(tokens, unit), schema.tokenizer.rules)
            if not units: raise ValueError(f"text {i} ({text[:40]!r}) has no {unit}s to explain")
            m = len(units)
            membership = torch.zeros(m, len(ids), dtype=torch.bool)
            for j, u in enumerate(units): membership[j, u.positions] = True
            # the predicted class is needed only to default to it (several classes, no target given)
            predicted = (int(out_fn(text_forward(learn.model, [ids], bs)).reshape(-1).argmax())
                         if target is None and len(labels) > 1 and not is_binary(schema) else None)
            k = default_target(schema, labels, target, predicted)
            value = lambda keep, k=k: (out_fn(text_forward(learn.model, _masked(ids, membership, keep, mask, schema.unk_id), bs))
                                       .reshape(keep.shape[0], -1)[:, k].double().numpy())
            se = np.full(m, np.nan)
            if method == 'shapley':
                phi, se, base, out = permutation_shapley(value, m, n_permutations, stream(root, 'permutations', i))
            else:
                alone = m if method == 'occlusion' else 0         # IG needs only the base and full values
                keep = torch.ones(alone + 2, m, dtype=torch.bool)
                keep[0] = False                                   # all masked: the base value
                keep[torch.arange(2, alone + 2), torch.arange(alone)] = False   # each unit masked alone
                v = value(keep)
                base, out = float(v[0]), float(v[1])
                phi = out - v[2:]
                if method == 'integrated_gradients':
                    baseline = _masked(ids, membership, torch.zeros(1, m, dtype=torch.bool), 'unk', schema.unk_id)[0]
                    attr = integrated_gradients(learn.model, layer, ids, baseline,
                                                lambda o, k=k: out_fn(o).reshape(o.shape[0], -1)[:, k], n_steps)
                    phi = np.array([float(attr[u.positions].sum()) for u in units])
                    completeness.append(float(phi.sum() - (out - base)))
            base_values.append(float(base)); outputs.append(float(out)); targets.append(plain(labels[k]))
            for u, c, s in zip(units, phi, se):
                oov = all(int(ids[p]) == schema.unk_id for p in u.content)
                records.append(dict(row=i, Variable=text[u.start:u.end], Start=u.start, End=u.end, Contribution=float(c),
                                    Std=float(s), OOV=oov))
    expl = pd.DataFrame.from_records(records, columns=COLUMNS)
    expl.attrs.update(method=method, unit=unit, mask=mask, base_values=base_values, outputs=outputs, targets=targets,
                      output=output_kind(schema, output), texts=list(data.texts), row_index=plain(data.index), seed=seed,
                      n_permutations=n_permutations if method == 'shapley' else None,
                      **({'completeness_error': completeness, 'n_steps': n_steps} if method == 'integrated_gradients' else {}))
    return expl
