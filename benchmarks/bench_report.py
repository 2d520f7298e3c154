"""Benchmark of `learn.report` on the demo's Adult model against the cost of the calls it makes (run by hand).

    python benchmarks/bench_report.py [--epochs 3] [--seed 42] [--out /tmp/adult_report.html]

Trains the demo's learner, writes the demo's report (the Adult test set, reliance on race) while recording every call
the report makes, then makes the same calls again on their own, with the same arguments, and prints both times, their
ratio (the report's own work: choosing the examples, drawing and encoding the figures, writing the page) and the
size of the file."""
from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings

warnings.filterwarnings('ignore')

import fastai_featimp  # noqa: F401
from fastai_featimp.datasets import adult
from fastai_featimp.demo import adult_report, train_adult_learner
from fastai_featimp.report import build


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--epochs', type=int, default=3)
    p.add_argument('--seed', type=int, default=42)
    p.add_argument('--out', default=os.path.join(tempfile.gettempdir(), 'adult_report.html'))
    args = p.parse_args()
    train_df, test_df = adult()
    learn = train_adult_learner(train_df, epochs=args.epochs, seed=args.seed)

    made, call = [], build.Run.call
    def recorded(run, method, /, *a, **kw):
        made.append((method, a, {**kw, **run.options.get(method, {})}))
        return call(run, method, *a, **kw)
    build.Run.call = recorded
    start = time.perf_counter()
    try: adult_report(learn, test_df, args.out, seed=args.seed)
    finally: build.Run.call = call
    report = time.perf_counter() - start

    start = time.perf_counter()
    for method, a, kw in made: getattr(learn, method)(*a, **kw)
    calls = time.perf_counter() - start

    size = os.path.getsize(args.out)
    print(f"report of the Adult demo model ({len(test_df):,} test rows): {report:.1f} s; the {len(made)} calls it makes, "
          f"alone: {calls:.1f} s; ratio {report / calls:.2f}; {size / 1e6:.2f} MB ({args.out})")
    for method in dict.fromkeys(m for m, _, _ in made): print(f"  {method}: {sum(m == method for m, _, _ in made)} call(s)")


if __name__ == '__main__':
    main()
