"""The whole model on token ids, in batches that give exactly what the model gives for each text alone.

A batch holds texts of one length only, longest first: no padding at all. fastai pads shorter texts with
whole 72-token chunks in front and its pooling then reads padding for a text 72 or more tokens shorter than
the longest in its batch, and a custom model may not mask padding at all; with one length per batch neither
can happen, for any model. The model's recurrent state (AWD_LSTM keeps its last hidden state on the module)
is put back afterwards."""
from __future__ import annotations

from contextlib import contextmanager

import torch

from ..core.forward import model_device, prime_allocator

__all__ = ['TOKENS_PER_PASS', 'text_forward', 'forward_plan', 'forward_batch', 'plain_output', 'preserved_recurrent_state',
           'masked_ids']

TOKENS_PER_PASS = 16384   # default batch size in tokens: rows per pass = this // text length (see benchmarks/bench_text.py)


def plain_output(out) -> torch.Tensor:
    "The prediction of a model output: fastai text models return `(logits, raw, out)` of tensor subclasses."
    if isinstance(out, (tuple, list)): out = out[0]
    return out.as_subclass(torch.Tensor) if isinstance(out, torch.Tensor) else torch.as_tensor(out)


@contextmanager
def preserved_recurrent_state(model):
    "Put back what recurrent modules keep between calls (AWD_LSTM's `hidden` and `bs`)."
    kept = [(m, {k: getattr(m, k) for k in ('hidden', 'bs') if k in vars(m)}) for m in model.modules()]
    kept = [(m, v) for m, v in kept if v]
    try: yield
    finally:
        for m, values in kept:
            for k, v in values.items(): setattr(m, k, v)


def forward_plan(sequences, bs: int | None = None) -> list:
    """The batches (lists of positions in `sequences`) that `text_forward` runs: texts grouped by length, longest
    first, `bs` texts per pass (default: TOKENS_PER_PASS tokens' worth). The same plan wherever the batches run, so
    outputs are the same bit for bit."""
    lengths = torch.tensor([len(s) for s in sequences])
    order = torch.argsort(lengths, descending=True, stable=True)
    batches, start = [], 0
    while start < len(order):
        length = int(lengths[order[start]])
        same = int((lengths[order[start:]] == length).sum())   # sorted: the run of this length
        rows = max(1, bs or TOKENS_PER_PASS // max(length, 1))
        batches += [order[a:min(a + rows, start + same)].tolist() for a in range(start, start + same, rows)]
        start += same
    return batches


def forward_batch(model, batch: torch.Tensor) -> torch.Tensor:
    "The raw outputs of one batch of same-length texts, on the CPU (the model's recurrent state put back)."
    prime_allocator()
    with torch.inference_mode(), preserved_recurrent_state(model):
        try: return plain_output(model(batch.to(model_device(model)))).float().cpu()
        except RuntimeError as e:
            length = batch.shape[1]
            hint = " (with every unit deleted only `xxbos` is left: mask='unk' keeps the text's length)" if length <= 2 else ''
            raise ValueError(f"the model failed on {batch.shape[0]} text(s) of {length} token(s){hint}: "
                             f"{type(e).__name__}: {e}") from e


def text_forward(model, sequences, bs: int | None = None, progress=None, mapper=None) -> torch.Tensor:
    """Raw outputs (n, n_out) on the CPU for `sequences`, a list of 1-d id tensors (or a 2-d tensor of one
    length), batch by batch of `forward_plan`; each batch runs through the whole model with no padding.
    `progress(k)` hears of every k texts done; `mapper(fn, shared, pieces, sizes)` may run the batches elsewhere
    (e.g. `common.parallel.parallel_map`), by default they run here, one after the other."""
    if isinstance(sequences, torch.Tensor): sequences = list(sequences)
    plan = forward_plan(sequences, bs)
    batches = [torch.stack([sequences[i] for i in idx]) for idx in plan]
    if mapper is None:
        preds = []
        for batch in batches:
            preds.append(forward_batch(model, batch))
            if progress is not None: progress(batch.shape[0])
    else: preds = mapper(forward_batch, model, batches, [len(b) for b in batches])
    if not preds: return torch.empty(0)
    out = preds[0].new_empty((len(sequences), *preds[0].shape[1:]))
    for idx, pred in zip(plan, preds): out[torch.tensor(idx)] = pred
    return out


def masked_ids(ids: torch.Tensor, membership: torch.Tensor, keep: torch.Tensor, mask: str, unk_id: int) -> list:
    """The text for each coalition `keep` (C x M, True = unit present), `membership` (M x length) marking each unit's
    tokens: absent units' tokens replaced by xxunk (mask='unk') or deleted (mask='delete')."""
    drop = (~keep).float() @ membership.float() > 0          # (C, length): token of an absent unit
    if mask == 'unk': return list(torch.where(drop, torch.full_like(ids, unk_id), ids))
    return [ids[~d] for d in drop]
