"""captum's attribution methods on a fastai tabular learner: the model as a forward function of `(codes, values)`,
baselines from one background row, a feature mask that keeps a continuous column with its FillMissing `_na`
indicator, and captum's attributions back as this package's explanation frame. The embedding-level variant gives
gradient methods (IntegratedGradients) float inputs: the categorical columns' embedding vectors."""
from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import pandas as pd
import torch

from ..common.setup import method_setup
from ..core.captum import CaptumInputs
from ..core.checks import plain
from ..core.params import Choice, Integer, ParameterError, Seed, checked
from ..core.state import eval_mode
from ..tabular.coalitions import display_value, explained_and_background
from ..tabular.kind import TABULAR
from ..tabular.variables import CAT, CONT

__all__ = ['tabular_captum_inputs']


@checked(output=Choice('probability', 'raw'), n_background=Integer(1), seed=Seed())
def tabular_captum_inputs(
    learn,                       # a fastai tabular Learner
    rows,                        # DataFrame of the rows to attribute (raw values; labels optional)
    *,
    target=None,                 # class to attribute (default: a binary model's positive class, else each row's predicted class)
    output:str='probability',    # 'probability' (after the loss's activation) or 'raw'
    background=None,             # DataFrame of reference rows: the first one is the baseline; None: a seeded training row
    n_background:int=1,          # (with background=None) how many training rows are drawn; the first is the baseline
    seed:int|None=None,          # the seeded training row
) -> CaptumInputs:
    """Everything captum needs to attribute this tabular learner's predictions of `rows`: `forward_func(x_cat, x_cont)`
    (the model after its activation, in eval mode), `inputs` (codes and processed values), `baselines` (one background
    row's), `feature_mask` (one group per variable: a continuous column with its `_na` indicator), `target`, and
    `to_frame(attributions)`; `embedding()` for gradient methods."""
    s = method_setup(learn, TABULAR, output=output, seed=seed, target=target)
    model, variables = learn.model, s.variables
    with s.computing():   # fastai's test_dl draws from Python's `random`: the caller's state is put back
        x, bg = explained_and_background(learn, s.schema, rows, background, n_background, s.stream('background'))
    x = [t.detach() for t in x]
    baselines = tuple(t[:1].detach() for t in bg)
    masks = [torch.zeros(1, t.shape[1], dtype=torch.long, device=t.device) for t in x]
    for g, v in enumerate(variables):   # from 0: every position is a variable, and captum wants 0..n-1
        for t, c in v.group.slots: masks[t][0, c] = g

    def forward_func(*inputs):
        with eval_mode(model): return s.activation(model(*inputs)).reshape(inputs[0].shape[0], -1)

    with eval_mode(model), torch.no_grad():
        predicted = forward_func(*x).argmax(1).tolist()
    targets = [s.target(target, p) for p in predicted]
    target_arg = targets[0] if len(set(targets)) == 1 else targets

    def frame(values):
        with torch.no_grad():
            out = forward_func(*x)[torch.arange(len(targets)), targets].double().cpu().numpy()
            base = forward_func(*[b.expand(len(targets), -1) for b in baselines])[torch.arange(len(targets)), targets]
        records = [dict(row=i, Variable=v.name, Value=display_value(rows, i, v.members), Contribution=float(values[i, j]),
                        Std=float('nan')) for i in range(len(targets)) for j, v in enumerate(variables)]
        expl = pd.DataFrame.from_records(records, columns=['row', 'Variable', 'Value', 'Contribution', 'Std'])
        expl.attrs.update(method='captum', base_values=[float(b) for b in base.double().cpu()], outputs=out.tolist(),
                          targets=[plain(s.labels[k]) for k in targets], output=s.output_kind, n_background=1,
                          row_index=plain(list(rows.index)))
        return expl

    embedding = None
    if isinstance(getattr(model, 'embeds', None), torch.nn.ModuleList) and len(model.embeds) == x[CAT].shape[1] > 0:
        embedding = lambda: _embedding_level(model, x, baselines, variables, forward_func, target_arg, frame)
    return CaptumInputs(forward_func, tuple(x), baselines, tuple(masks), target_arg, [v.name for v in variables], frame,
                        layer=None, embedding_fn=embedding, first_group=0)


@contextmanager
def _embeddings_from(model, emb: torch.Tensor, sizes: list):
    "Each of `model.embeds` gives its slice of `emb` (rows x all embedding dimensions) instead of looking codes up."
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    handles = [e.register_forward_hook(lambda m, i, o, a=int(offsets[k]), b=int(offsets[k + 1]): emb[:, a:b])
               for k, e in enumerate(model.embeds)]
    try: yield
    finally:
        for h in handles: h.remove()


def _embedding_level(model, x, baselines, variables, forward_codes, target, frame) -> CaptumInputs:
    "The tabular problem on the categorical columns' embedding vectors (float), the continuous values unchanged."
    sizes = [e.embedding_dim for e in model.embeds]
    with torch.no_grad():
        embed = lambda codes: torch.cat([e(codes[:, k]) for k, e in enumerate(model.embeds)], 1).detach()
        inputs, bases = (embed(x[CAT]),) + tuple(x[1:]), (embed(baselines[CAT]),) + tuple(baselines[1:])
    dims = np.repeat(np.arange(len(sizes)), sizes)   # the categorical column of each embedding dimension
    group_of = {(t, c): g for g, v in enumerate(variables) for t, c in v.group.slots}   # from 0, as captum wants
    masks = [torch.tensor([[group_of[(CAT, int(c))] for c in dims]], device=inputs[0].device)] + \
            [torch.tensor([[group_of[(CONT, c)] for c in range(t.shape[1])]], device=t.device) for t in inputs[1:]]

    def forward_func(emb, *rest):
        codes = torch.zeros(emb.shape[0], len(sizes), dtype=torch.long, device=emb.device)
        with _embeddings_from(model, emb, sizes): return forward_codes(codes, *rest)

    if x[CAT].shape[1] != len(sizes): raise ParameterError('rows', "the model's embeddings do not match its categorical columns")
    return CaptumInputs(forward_func, inputs, bases, tuple(masks), target, [v.name for v in variables], frame,
                        summed=True, first_group=0)
