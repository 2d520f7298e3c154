"""Forward passes of a table's rows in chunks, with an edited copy of each chunk (a column permuted, a value set): the
loop of permutation importance, partial dependence and retraining scores.

`inputs` is a list of tensors with one row per example (for a tabular model: categorical codes and
continuous values); `forward(*chunk)` returns the model's raw output for those rows."""
from __future__ import annotations

import os
from typing import Callable, Iterable, Sequence

import torch

__all__ = ['Forward', 'default_bs', 'allocator_priming', 'prime_allocator', 'batched_forward', 'fixed_forward',
           'replaced_forward', 'model_device']

Forward = Callable[..., torch.Tensor]


def default_bs(device) -> int:
    "Rows per forward pass: where throughput plateaus (benchmarks/bench_permutation.py on 2 CPU cores, bench_cuda.py on an H100)."
    return 65536 if getattr(device, 'type', str(device)) == 'cuda' else 4096


# glibc's malloc returns freed heap memory above a trim threshold to the OS, and every chunk's activations
# are then faulted in again: that doubled the time of an exact explanation here. Allocating and freeing one
# large block (never touched) raises the threshold for the rest of the process, exactly as any large
# tensor would. It is a process-wide change, so it is explicit: on by default, off with
# `allocator_priming(False)` or the environment variable FASTAI_FEATIMP_PRIME_ALLOCATOR=0.
_PRIMING = {'enabled': os.environ.get('FASTAI_FEATIMP_PRIME_ALLOCATOR', '1') != '0', 'done': False}


def allocator_priming(enabled: bool | None = None) -> bool:
    "Turn the one-time allocator priming before chunked passes on or off; returns the setting in force."
    if enabled is not None: _PRIMING['enabled'] = bool(enabled)
    return _PRIMING['enabled']


def prime_allocator() -> None:
    "Free one 30 MB block, once per process, before the first chunked pass (unless turned off)."
    if _PRIMING['enabled'] and not _PRIMING['done']:
        block = torch.empty(30 * 2**20, dtype=torch.uint8)   # allocated and freed, never touched
        del block
        _PRIMING['done'] = True


def _chunks(n: int, bs: int) -> Iterable[slice]:
    for start in range(0, n, bs): yield slice(start, min(start + bs, n))


def batched_forward(forward: Forward, inputs: Sequence[torch.Tensor], bs: int,
                    replace: Callable[[int, slice, torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
    "Model outputs for all rows of `inputs`, in chunks of `bs` rows; `replace(t, rows, chunk)` may edit a chunk's copy."
    n = inputs[0].shape[0]
    out = None
    prime_allocator()
    with torch.inference_mode():
        for rows in _chunks(n, bs):
            xb = [x[rows] if replace is None else replace(t, rows, x[rows]) for t, x in enumerate(inputs)]
            pred = forward(*xb)
            if out is None: out = pred.new_empty((n, *pred.shape[1:]))   # one buffer, filled in place
            out[rows] = pred
    return out


def replaced_forward(forward: Forward, inputs: Sequence[torch.Tensor], edits: dict, bs: int) -> torch.Tensor:
    """Outputs with some columns replaced; `edits` maps a tensor index to `(columns, fn)` where
    `fn(rows, chunk_columns) -> new values` for those columns. Inputs are never modified: only a chunk-sized
    copy is edited, so memory does not grow with the set or the repeats."""
    def replace(t, rows, chunk):
        if t not in edits: return chunk
        cols, fn = edits[t]
        chunk = chunk.clone()
        chunk[:, cols] = fn(rows, chunk[:, cols])
        return chunk
    return batched_forward(forward, inputs, bs, replace)


def fixed_forward(forward: Forward, inputs: Sequence[torch.Tensor], fixed: dict, bs: int) -> torch.Tensor:
    "Outputs with the columns in `fixed` (`{(tensor, column): value}`) set to one value on every row."
    by_tensor: dict = {}
    for (t, c), v in fixed.items(): by_tensor.setdefault(t, {})[c] = v
    edits = {}
    for t, values in by_tensor.items():
        cols = list(values)
        new = torch.tensor([values[c] for c in cols], dtype=inputs[t].dtype, device=inputs[t].device)
        edits[t] = (torch.tensor(cols, device=inputs[t].device), lambda rows, old, new=new: new.expand_as(old))
    return replaced_forward(forward, inputs, edits, bs)


def model_device(model) -> torch.device:
    "Where the model's parameters live (the CPU for a model without any)."
    p = next(iter(model.parameters()), None)
    return p.device if p is not None else torch.device('cpu')
