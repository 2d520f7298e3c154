"""Integrated gradients on a text model's embeddings (Sundararajan et al. 2017).

The interpolated embeddings are put in place of the embedding layer's output by a forward hook: on fastai's
AWD_LSTM that is `encoder_dp` (its EmbeddingDropout computes the embeddings without calling the Embedding
module, so a hook there would never fire); on another model, its Embedding over the vocabulary. AWD_LSTM
cuts a text into 72-token chunks and detaches the state between them, which would stop the gradient at
every chunk: the text runs as one chunk instead (the same forward computation)."""
from __future__ import annotations

from contextlib import contextmanager

import torch

from .forward import plain_output, preserved_recurrent_state

__all__ = ['embedding_layer', 'integrated_gradients', 'gradient_ready', 'embeddings_from', 'fits_one_chunk']


def embedding_layer(model, vocab_size: int):
    "`(module to hook, its weight)`: fastai's EmbeddingDropout, else the Embedding over the vocabulary; None if neither."
    for m in model.modules():
        if type(m).__name__ == 'EmbeddingDropout' and hasattr(m, 'emb'): return m, m.emb.weight
    for m in model.modules():
        if isinstance(m, torch.nn.Embedding) and m.num_embeddings == vocab_size: return m, m.weight
    return None


def _encoders(model) -> list: return [m for m in model.modules() if hasattr(m, 'bptt') and hasattr(m, 'pad_idx')]


def fits_one_chunk(model, length: int) -> bool:
    "Whether every fastai SentenceEncoder of `model` can read `length` tokens in one chunk (within its max_len)."
    return all(getattr(e, 'max_len', None) is None or length <= e.max_len for e in _encoders(model))


@contextmanager
def _one_chunk(model, length: int):
    "Let every fastai SentenceEncoder read `length` tokens in one chunk (gradients then cross the whole text)."
    encoders = _encoders(model)
    if not fits_one_chunk(model, length):
        limit = min(e.max_len for e in encoders if getattr(e, 'max_len', None) is not None)
        raise ValueError(f"integrated gradients runs a text as one chunk; this one has {length} tokens, more than "
                         f"the encoder's max_len={limit}: use method='shapley' or 'occlusion'")
    saved = [e.bptt for e in encoders]
    for e in encoders: e.bptt = max(e.bptt, length)
    try: yield
    finally:
        for e, b in zip(encoders, saved): e.bptt = b


@contextmanager
def gradient_ready(model, length: int):
    """What a gradient through a fastai text model needs: cuDNN off (its RNN backward works in training mode only; the
    model stays in eval mode, no dropout), the text read as one chunk, and the recurrent state put back after."""
    with torch.backends.cudnn.flags(enabled=False), _one_chunk(model, length), preserved_recurrent_state(model): yield


@contextmanager
def embeddings_from(layer, embeddings: torch.Tensor):
    "The embedding layer (`embedding_layer(...)`) gives `embeddings` instead of looking the ids up."
    handle = layer[0].register_forward_hook(lambda m, inp, out: embeddings)
    try: yield
    finally: handle.remove()


def integrated_gradients(model, layer, ids: torch.Tensor, baseline: torch.Tensor, output, n_steps: int = 50):
    """Per-token attributions of `output(raw model output) -> (n,)` from `baseline` ids to `ids` (both 1-d, one
    length), by the midpoint rule over `n_steps` points on the straight path between their embeddings."""
    weight = layer[1]
    device = weight.device
    ids, baseline = ids.to(device), baseline.to(device)
    with torch.no_grad(): e_x, e_b = weight[ids].detach(), weight[baseline].detach()
    alphas = (torch.arange(n_steps, device=device, dtype=e_x.dtype) + 0.5) / n_steps
    path = (e_b + alphas[:, None, None] * (e_x - e_b)).requires_grad_(True)   # (steps, length, dim)
    with torch.enable_grad(), gradient_ready(model, len(ids)), embeddings_from(layer, path):
        y = output(plain_output(model(ids.expand(n_steps, -1).contiguous())))
        grads, = torch.autograd.grad(y.sum(), path)
    return ((e_x - e_b) * grads.mean(0)).sum(-1).detach().double().cpu()
