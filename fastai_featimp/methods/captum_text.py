"""captum's attribution methods on a fastai text learner: the whole model as a forward function of token ids (in
eval mode, its recurrent state put back), `xxunk` baselines for the units (never `xxpad`), a feature mask that keeps
each word's tokens (its markers too) together, and captum's attributions back as this package's explanation frame
(units as written, with their offsets). Gradient methods get the embedding layer (`layer`, for
LayerIntegratedGradients) or the problem on the embeddings (`embedding()`), with the text read as one chunk and cuDNN
off, so that the gradient crosses AWD_LSTM's 72-token chunks and works in eval mode."""
from __future__ import annotations

import pandas as pd
import torch

from ..common.setup import method_setup
from ..core.captum import CaptumInputs
from ..core.checks import plain
from ..core.forward import model_device
from ..core.params import Choice, ParameterError, checked
from ..core.state import eval_mode
from ..text.data import load_text
from ..text.forward import masked_ids, plain_output, preserved_recurrent_state
from ..text.gradients import embedding_layer, embeddings_from, fits_one_chunk, gradient_ready
from ..text.kind import TEXT
from ..text.units import UNITS, align, units_of

__all__ = ['text_captum_inputs']


@checked(unit=Choice(*UNITS), output=Choice('probability', 'raw'))
def text_captum_inputs(
    learn,                       # a fastai learner over text
    text,                        # one text (a string, or a one-row DataFrame / Series / list)
    *,
    target=None,                 # class to attribute (default: a binary model's positive class, else the predicted class)
    output:str='probability',    # 'probability' (after the loss's activation) or 'raw'
    unit:str='word',             # what a feature-mask group is: 'word', 'sentence' or 'token'
    text_col:str|None=None,      # the text column of a DataFrame
) -> CaptumInputs:
    """Everything captum needs to attribute this text learner's prediction of one text: `forward_func(ids)`, `inputs`
    (the ids, 1 x length), `baselines` (every unit's tokens xxunk), `feature_mask` (group j: unit j; 0: `xxbos`),
    `target`, `layer` (the embedding layer) and `to_frame(attributions)`; `embedding()` for IntegratedGradients."""
    s = method_setup(learn, TEXT, output=output, target=target)
    schema, model = s.schema, learn.model
    data = load_text(learn, schema, text, text_col=text_col, param='text')
    if data.n_rows != 1:
        raise ParameterError('text', f"captum attributes one text at a time (its inputs have that text's length); `text` "
                                     f"holds {data.n_rows}: call captum_inputs for each")
    device = model_device(model)
    tokens, ids, written = data.tokens[0], data.ids[0].to(device), data.texts[0]
    units = align(written, tokens, units_of(tokens, unit), schema.tokenizer.rules)
    if not units: raise ParameterError('text', f"the text has no {unit}s to attribute")
    membership = torch.zeros(len(units), len(ids), dtype=torch.bool, device=device)
    mask = torch.zeros(1, len(ids), dtype=torch.long, device=device)
    for j, u in enumerate(units, start=1): membership[j - 1, u.positions] = True; mask[0, u.positions] = j
    baseline = masked_ids(ids, membership, torch.zeros(1, len(units), dtype=torch.bool, device=device), 'unk',
                          schema.unk_id)[0]
    layer = embedding_layer(model, len(schema.vocab))

    def forward_func(x):
        # gradients and layer hooks (IntegratedGradients, LayerIntegratedGradients) need the text read in one chunk
        # with cuDNN off; a text too long for one chunk still runs captum's perturbation methods (under no_grad)
        # through the model's own chunked forward
        grads = layer is not None and (torch.is_grad_enabled() or fits_one_chunk(model, x.shape[1]))
        with eval_mode(model), gradient_ready(model, x.shape[1]) if grads else preserved_recurrent_state(model):
            return s.activation(plain_output(model(x))).reshape(x.shape[0], -1)

    with torch.no_grad(): out = forward_func(ids[None])
    k = s.target(target, int(out[0].argmax()))

    def frame(values):
        with torch.no_grad():
            full, base = (float(forward_func(t[None])[0, k]) for t in (ids, baseline))
        records = [dict(row=0, Variable=written[u.start:u.end], Start=u.start, End=u.end, Contribution=float(values[0, j]),
                        Std=float('nan'), OOV=all(int(ids[p]) == schema.unk_id for p in u.content),
                        Tokens=' '.join(tokens[p] for p in u.positions)) for j, u in enumerate(units)]
        expl = pd.DataFrame.from_records(records)
        expl.attrs.update(method='captum', unit=unit, mask='unk', base_values=[base], outputs=[full],
                          targets=[plain(s.labels[k])], output=s.output_kind, texts=[written], row_index=plain(data.index))
        return expl

    def embedding():
        weight = layer[1]
        with torch.no_grad(): e_x, e_b = weight[ids][None].detach(), weight[baseline][None].detach()
        def from_embeddings(emb):
            with embeddings_from(layer, emb): return forward_func(ids[None].expand(emb.shape[0], -1).contiguous())
        return CaptumInputs(from_embeddings, (e_x,), (e_b,), (mask,), k, [written[u.start:u.end] for u in units], frame,
                            summed=True)

    return CaptumInputs(forward_func, (ids[None],), (baseline[None],), (mask,), k,
                        [written[u.start:u.end] for u in units], frame, layer=None if layer is None else layer[0],
                        embedding_fn=embedding if layer is not None else None)
