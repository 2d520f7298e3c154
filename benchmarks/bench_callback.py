"""Training time with and without the ImportanceCallback: the fastai tutorial model on UCI Adult, 5 epochs.

    python benchmarks/bench_callback.py [--epochs 5] [--runs 2]

The callback runs with its defaults (after every epoch, one repeat, 2,000 held-out rows from the validation
set and 2,000 training rows). Runs alternate (without, with, without, ...) and the medians are compared."""
import argparse
import statistics
import time
import warnings

import torch

warnings.filterwarnings('ignore')

import fastai_featimp  # noqa: E402
from fastai_featimp.datasets import adult  # noqa: E402
from fastai_featimp.demo import adult_dls  # noqa: E402


def fit(train_df, epochs, with_callback):
    from fastai.tabular.all import accuracy, set_seed, tabular_learner
    set_seed(42, reproducible=True)
    learn = tabular_learner(adult_dls(train_df), metrics=accuracy)
    cbs = [fastai_featimp.ImportanceCallback()] if with_callback else []
    start = time.perf_counter()
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(epochs, cbs=cbs)
    return time.perf_counter() - start, learn


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--epochs', type=int, default=5)
    p.add_argument('--runs', type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(2)
    train_df, _ = adult()
    fit(train_df, 1, True)   # warm-up
    times = {False: [], True: []}
    for _ in range(args.runs):
        for flag in (False, True):
            times[flag].append(fit(train_df, args.epochs, flag)[0])
    plain, watched = statistics.median(times[False]), statistics.median(times[True])
    print(f"Adult, {args.epochs} epochs, torch threads {torch.get_num_threads()}, runs {args.runs}")
    print(f"without the callback: {plain:.2f} s   (runs: {', '.join(f'{t:.2f}' for t in times[False])})")
    print(f"with the callback:    {watched:.2f} s   (runs: {', '.join(f'{t:.2f}' for t in times[True])})")
    print(f"overhead: {100 * (watched / plain - 1):.1f}% ({(watched - plain) / args.epochs:.3f} s per epoch)")


if __name__ == '__main__':
    main()
