"""Benchmark of `learn.feature_importance` (run by hand; not part of the test suite).

    python benchmarks/bench_permutation.py                   # Adult test set, fastai tutorial model
    python benchmarks/bench_permutation.py --rows 1000000 --cols 30   # synthetic scale run
    python benchmarks/bench_permutation.py --device cuda     # the model on a GPU

Prints, from one run on one machine: (a) our time, (b) the floor (plain forward passes over the same
number of rows at the best batch size), (c) the DataFrame-level forum approach (copy, shuffle,
test_dl, validate per column), the ratios a/b and c/a, and the peak memory (a) adds."""
from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
import warnings

warnings.filterwarnings('ignore')
import numpy as np
import pandas as pd
import torch

import fastai_featimp  # noqa: F401  (adds the methods to Learner)
from fastai_featimp.demo import train_adult_learner
from fastai_featimp.core.forward import batched_forward
from fastai_featimp.core.state import eval_mode
from fastai_featimp.tabular.data import load_tabular
from fastai_featimp.tabular.schema import tabular_schema


def rss_bytes() -> int:
    with open('/proc/self/statm') as f: return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


class PeakRSS:
    "Peak resident memory above the level at entry, sampled every millisecond in a thread."
    def __enter__(self):
        self.start = self.peak = rss_bytes(); self.done = False
        self.thread = threading.Thread(target=self._watch, daemon=True); self.thread.start()
        return self
    def _watch(self):
        while not self.done:
            self.peak = max(self.peak, rss_bytes()); time.sleep(0.001)
    def __exit__(self, *exc):
        self.done = True; self.thread.join(); self.peak = max(self.peak, rss_bytes())
    @property
    def added(self): return self.peak - self.start


def median_time(fn, runs):
    times = []
    for _ in range(runs):
        t = time.perf_counter(); fn(); times.append(time.perf_counter() - t)
    return statistics.median(times), times


def floor_time(learn, data, total_rows, batch_sizes, runs):
    "Plain forward passes over `total_rows` rows (whole-set passes), eval mode, inference_mode: best bs wins."
    n = data.n_rows
    passes, rest = divmod(total_rows, n)
    results = {}
    with eval_mode(learn.model):
        for bs in batch_sizes:
            def run():
                for _ in range(passes): batched_forward(learn.model, data.inputs, bs)
                if rest: batched_forward(learn.model, [x[:rest] for x in data.inputs], bs)
                if data.inputs[0].is_cuda: torch.cuda.synchronize()
            results[bs] = median_time(run, runs)[0]
    best = min(results, key=results.get)
    return results[best], best, results


def dataframe_approach(learn, test_df, n_repeats, seed=0):
    "What forum snippets do: per column, copy the raw frame, shuffle it, build a test_dl and validate."
    rng = np.random.default_rng(seed)
    cols = [c for c in learn.dls.cat_names if not c.endswith('_na')] + list(learn.dls.cont_names)
    with learn.no_bar():
        base = learn.validate(dl=learn.dls.test_dl(test_df))[0]
        out = {}
        for c in cols:
            scores = []
            for _ in range(n_repeats):
                shuffled = test_df.copy()
                shuffled[c] = rng.permutation(shuffled[c].values)
                scores.append(learn.validate(dl=learn.dls.test_dl(shuffled))[0] - base)
            out[c] = np.mean(scores)
    return out


def synthetic(rows, cols, seed=0):
    "Half categorical (12 levels), half continuous; the target depends on a few of each."
    rng = np.random.default_rng(seed)
    n_cat = cols // 2
    df = pd.DataFrame({f'cat{i}': rng.integers(0, 12, rows).astype(str) for i in range(n_cat)})
    for i in range(cols - n_cat): df[f'num{i}'] = rng.normal(size=rows).astype('float32')
    df['y'] = np.where(df['num0'] + (df['cat0'] == '3') + rng.normal(size=rows) > 0.5, 'a', 'b')
    return df, [f'cat{i}' for i in range(n_cat)], [f'num{i}' for i in range(cols - n_cat)]


def synthetic_learner(df, cat, cont, device):
    from fastai.tabular.all import Categorify, Normalize, TabularDataLoaders, tabular_learner
    dls = TabularDataLoaders.from_df(df.iloc[:2000], y_names='y', cat_names=cat, cont_names=cont,
                                     procs=[Categorify, Normalize], bs=256, device=device)
    learn = tabular_learner(dls)   # untrained: time does not depend on the weights
    learn.model.to(device)
    return learn


def time_importance(learn, test_dl, n_repeats, bs=None):
    return lambda: learn.feature_importance(test_dl, n_repeats=n_repeats, seed=0, bs=bs, show_progress=False)


def adult_benchmark(args):
    from fastai_featimp.datasets import adult
    train_df, test_df = adult()
    learn = train_adult_learner(train_df, epochs=1, seed=0)
    learn.model.to(args.device); learn.dls.to(args.device)
    test_dl = learn.dls.test_dl(test_df)
    schema = tabular_schema(learn)
    data = load_tabular(learn, schema, test_dl, labelled=True)
    n_cols = len(schema.feature_names)
    total = (1 + n_cols * args.repeats) * data.n_rows
    print(f"Adult test set: {data.n_rows} rows, {n_cols} columns, n_repeats={args.repeats}, device={args.device}, "
          f"torch threads={torch.get_num_threads()}")
    sizes = [256, 1024, 4096, 16384, 65536]
    time_importance(learn, test_dl, 1)()   # warm-up
    floor_time(learn, data, data.n_rows, sizes, 1)
    by_bs_ours = {bs: median_time(time_importance(learn, test_dl, args.repeats, bs), args.runs)[0] for bs in sizes}
    t_floor, best_bs, by_bs = floor_time(learn, data, total, sizes, args.runs)
    print('floor by batch size:      ' + ', '.join(f'{bs}: {t:.3f}s' for bs, t in by_bs.items()))
    print('feature_importance by bs: ' + ', '.join(f'{bs}: {t:.3f}s' for bs, t in by_bs_ours.items()))
    t_ours, all_ours = median_time(time_importance(learn, test_dl, args.repeats), args.runs)
    print(f"(a) feature_importance (default bs):     {t_ours:.3f}s  (runs: {', '.join(f'{t:.3f}' for t in all_ours)})")
    print(f"(b) floor, {total:,} rows at bs={best_bs}:      {t_floor:.3f}s")
    print(f"    a/b = {t_ours / t_floor:.2f}")
    if not args.skip_dataframe:
        t_df, _ = median_time(lambda: dataframe_approach(learn, test_df, args.repeats), 1)
        print(f"(c) DataFrame copy+shuffle+test_dl+validate: {t_df:.3f}s")
        print(f"    c/a = {t_df / t_ours:.1f}")
    tensor_bytes = sum(x.numel() * x.element_size() for x in data.inputs) + data.target.numel() * data.target.element_size()
    widths = [m.out_features for m in learn.model.modules() if isinstance(m, torch.nn.Linear)]
    act_bytes = 16384 * (sum(widths) + sum(e.embedding_dim for e in learn.model.embeds)) * 4
    if args.device == 'cpu':
        memory_benchmark(learn, test_df, tensor_bytes, act_bytes, args.memory_scale)
    else:
        for reps in (1, 5, 20):
            torch.cuda.reset_peak_memory_stats(); before = torch.cuda.memory_allocated()
            time_importance(learn, test_dl, reps)()
            print(f"peak GPU memory added, n_repeats={reps:>2}: {(torch.cuda.max_memory_allocated() - before) / 2**20:7.1f} MiB")
    return learn, test_dl


def memory_benchmark(learn, test_df, tensor_bytes, act_bytes, scale):
    "Peak RSS added by the call, each n_repeats in a fresh process, on the test set replicated `scale` times."
    import subprocess, sys, tempfile
    from pathlib import Path
    with tempfile.TemporaryDirectory() as tmp:
        learn.export(Path(tmp) / 'learner.pkl')
        pd.concat([test_df] * scale, ignore_index=True).to_pickle(Path(tmp) / 'test.pkl')
        print(f"memory: test set x{scale} ({len(test_df) * scale:,} rows), each in a fresh process")
        for reps in (1, 5, 20):
            out = subprocess.run([sys.executable, __file__, '--memory-child', tmp, '--repeats', str(reps)],
                                 capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
            print(f"  peak memory added, n_repeats={reps:>2}: {int(out) / 2**20:7.1f} MiB")
    tensors, act = tensor_bytes * scale, act_bytes
    print(f"  test tensors: {tensors / 2**20:.1f} MiB; limit 3 x tensors + one batch of activations: "
          f"{(3 * tensors + act) / 2**20:.1f} MiB")


def memory_child(folder, reps):
    from pathlib import Path
    from fastai.learner import load_learner
    learn = load_learner(Path(folder) / 'learner.pkl')
    test_df = pd.read_pickle(Path(folder) / 'test.pkl')
    learn.feature_importance(learn.dls.test_dl(test_df.iloc[:300]), n_repeats=1, show_progress=False)  # warm-up
    test_dl = learn.dls.test_dl(test_df)
    with PeakRSS() as peak: time_importance(learn, test_dl, reps)()
    print(peak.added)


def scale_benchmark(args):
    print(f"synthetic: {args.rows:,} rows x {args.cols} columns, n_repeats={args.repeats}, device={args.device}")
    df, cat, cont = synthetic(args.rows, args.cols)
    learn = synthetic_learner(df, cat, cont, args.device)
    t = time.perf_counter(); test_dl = learn.dls.test_dl(df); t_proc = time.perf_counter() - t
    with PeakRSS() as peak:
        t_ours, _ = median_time(time_importance(learn, test_dl, args.repeats), 1)
    print(f"feature_importance: {t_ours:.1f}s (fastai test_dl processing before it: {t_proc:.1f}s); "
          f"peak memory added {peak.added / 2**20:.0f} MiB")
    # time against size: rows at full width, then columns at a quarter of the rows
    rows = [args.rows // 8, args.rows // 4, args.rows // 2]
    t_rows = [median_time(time_importance(learn, learn.dls.test_dl(df.iloc[:r]), 1), 1)[0] for r in rows]
    slope_rows = np.polyfit(np.log(rows), np.log(t_rows), 1)[0]
    print('rows:    ' + ', '.join(f'{r:,}: {t:.2f}s' for r, t in zip(rows, t_rows)) + f'  -> exponent {slope_rows:.2f}')
    widths = [max(2, args.cols // 4), max(4, args.cols // 2), args.cols]
    sub_rows = args.rows // 4
    t_cols, t_pass = [], []
    for w in widths:
        d, c, n = synthetic(sub_rows, w)
        lw = synthetic_learner(d, c, n, args.device)
        dl = lw.dls.test_dl(d)
        t_cols.append(median_time(time_importance(lw, dl, 1), 1)[0])
        data = load_tabular(lw, tabular_schema(lw), dl, labelled=True)
        with eval_mode(lw.model): t_pass.append(median_time(lambda: batched_forward(lw.model, data.inputs, 4096), 3)[0])
    slope_cols = np.polyfit(np.log(widths), np.log(t_cols), 1)[0]
    passes = [1 + w for w in widths]   # n_repeats=1: one baseline pass plus one per column
    slope_passes = np.polyfit(np.log(passes), np.log(np.array(t_cols) / np.array(t_pass)), 1)[0]
    print(f'columns ({sub_rows:,} rows): ' + ', '.join(f'{w}: {t:.2f}s' for w, t in zip(widths, t_cols))
          + f'  -> exponent {slope_cols:.2f}')
    print('  a wider table also widens the model; time in units of one forward pass of that model: '
          + ', '.join(f'{w}: {t / tp:.1f}' for w, t, tp in zip(widths, t_cols, t_pass))
          + f'  -> exponent against the number of passes {slope_passes:.2f}')


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--repeats', type=int, default=5)
    p.add_argument('--runs', type=int, default=5, help='timed runs per measurement (the median is printed)')
    p.add_argument('--rows', type=int, default=None, help='synthetic scale run with this many rows')
    p.add_argument('--cols', type=int, default=30)
    p.add_argument('--device', default='cpu')
    p.add_argument('--skip-dataframe', action='store_true', help='skip (c), the slow DataFrame-level approach')
    p.add_argument('--memory-scale', type=int, default=20, help='replicate the test set this often to measure memory')
    p.add_argument('--memory-child', help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.memory_child: memory_child(args.memory_child, args.repeats)
    elif args.rows: scale_benchmark(args)
    else: adult_benchmark(args)


if __name__ == '__main__':
    main()
