"""Batch size on a CUDA device: permutation importance on the Adult test set replicated 20 times (325,620 rows,
9 columns, n_repeats=1: 10 passes) at several `bs`, beside the floor (the same number of plain forward passes).

    python benchmarks/bench_cuda.py        # needs a GPU"""
import time
import warnings

import pandas as pd
import torch

warnings.filterwarnings('ignore')

import fastai_featimp  # noqa: E402,F401
from fastai_featimp.core.forward import batched_forward  # noqa: E402
from fastai_featimp.core.state import eval_mode  # noqa: E402
from fastai_featimp.datasets import adult  # noqa: E402
from fastai_featimp.demo import train_adult_learner  # noqa: E402
from fastai_featimp.tabular.data import load_tabular  # noqa: E402
from fastai_featimp.tabular.schema import tabular_schema  # noqa: E402


def timed(fn, runs=3):
    fn(); torch.cuda.synchronize()
    times = []
    for _ in range(runs):
        t = time.perf_counter(); fn(); torch.cuda.synchronize(); times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2]


def main():
    assert torch.cuda.is_available(), 'this benchmark needs a CUDA device'
    train_df, test_df = adult()
    learn = train_adult_learner(train_df, epochs=1)
    learn.model.cuda()
    big = pd.concat([test_df] * 20, ignore_index=True)
    dl = learn.dls.test_dl(big)   # processed once: the timings are the passes, not fastai's procs
    data = load_tabular(learn, tabular_schema(learn), dl, labelled=True)
    print(f"{torch.cuda.get_device_name()}; {data.n_rows} rows, 9 columns, n_repeats=1 (10 passes)")
    for bs in [4096, 16384, 65536, 262144]:
        with eval_mode(learn.model):
            floor = timed(lambda: [batched_forward(learn.model, data.inputs, bs) for _ in range(10)])
        ours = timed(lambda: learn.feature_importance(dl, n_repeats=1, seed=0, bs=bs, show_progress=False))
        print(f"bs {bs:>6}: feature_importance {ours:.3f} s, floor {floor:.3f} s (10 forward passes)")


if __name__ == '__main__':
    main()
