"""Benchmark of `learn.explain` against shap (run by hand; shap is a [dev] dependency).

    python benchmarks/bench_explain.py [--cols 14] [--background 100] [--runs 5]

One row, a tabular model with `cols` inputs (half categorical), `background` reference rows: times our exact
and permutation methods and shap's ExactExplainer and PermutationExplainer on the same model function and
background, prints the ratios and the largest differences of the values."""
from __future__ import annotations

import argparse
import statistics
import time
import warnings

warnings.filterwarnings('ignore')
import numpy as np
import pandas as pd
import torch

import fastai_featimp  # noqa: F401


def make_learner(cols, rows=3000, seed=0):
    from fastai.tabular.all import Categorify, Normalize, TabularDataLoaders, set_seed, tabular_learner
    rng = np.random.default_rng(seed)
    n_cat = cols // 2
    df = pd.DataFrame({f'cat{i}': rng.integers(0, 8, rows).astype(str) for i in range(n_cat)})
    for i in range(cols - n_cat): df[f'num{i}'] = rng.normal(size=rows)
    df['y'] = np.where(df['num0'] * df['num1'] + (df['cat0'] == '3') + rng.normal(size=rows) > 0.5, 'a', 'b')
    set_seed(seed)
    dls = TabularDataLoaders.from_df(df, y_names='y', cat_names=[c for c in df if c.startswith('cat')],
                                     cont_names=[c for c in df if c.startswith('num')], procs=[Categorify, Normalize])
    learn = tabular_learner(dls)
    with learn.no_bar(): learn.fit_one_cycle(1)
    return learn, df


def timed(fn, runs):
    times, out = [], None
    for _ in range(runs):
        t = time.perf_counter(); out = fn(); times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--cols', type=int, default=14)
    p.add_argument('--background', type=int, default=100)
    p.add_argument('--runs', type=int, default=5)
    args = p.parse_args()
    import shap
    learn, df = make_learner(args.cols)
    row, bg = df.iloc[[5]], df.iloc[100:100 + args.background]
    kw = dict(background=bg, target='a', show_progress=False)
    for _ in range(3): learn.explain(row, method='exact', **kw)   # warm-up: this shared machine starts slow
    t_exact, ours = timed(lambda: learn.explain(row, method='exact', **kw), args.runs)
    t_perm, ours_perm = timed(lambda: learn.explain(row, method='permutation', seed=0, **kw), args.runs)

    def matrix(frame):
        to = learn.dls.test_dl(frame).dataset
        return np.hstack([to.cats.to_numpy(float), to.conts.to_numpy(float)])
    n_cat = len(learn.dls.cat_names)
    learn.model.eval()
    def f(X):
        X = torch.as_tensor(np.asarray(X), dtype=torch.float32)
        with torch.inference_mode():
            return torch.softmax(learn.model(X[:, :n_cat].long(), X[:, n_cat:]), -1)[:, 0].double().numpy()
    X, B = matrix(row), matrix(bg)
    masker = shap.maskers.Independent(B, max_samples=len(B))
    t_shap_exact, ref = timed(lambda: shap.ExactExplainer(f, masker)(X).values[0], max(1, args.runs // 2))
    t_shap_perm, ref_perm = timed(lambda: shap.PermutationExplainer(f, masker, seed=0)(X).values[0],
                                  max(1, args.runs // 2))
    names = list(learn.dls.cat_names) + list(learn.dls.cont_names)
    mine = ours.set_index('Variable')['Contribution'][names].to_numpy()
    mine_perm = ours_perm.set_index('Variable')['Contribution'][names].to_numpy()
    print(f"one row, {args.cols} columns, {args.background} background rows, torch threads={torch.get_num_threads()}")
    print(f"ours exact:                  {t_exact:.3f}s")
    print(f"shap ExactExplainer:         {t_shap_exact:.3f}s   ratio shap/ours {t_shap_exact / t_exact:.1f}")
    print(f"  max |ours - shap| exact:   {np.abs(mine - ref).max():.2e}")
    print(f"ours permutation ({ours_perm.attrs['n_permutations']} perms): {t_perm:.3f}s")
    print(f"shap PermutationExplainer:   {t_shap_perm:.3f}s   ratio shap/ours {t_shap_perm / t_perm:.1f}")
    print(f"  max |ours perm - exact|:   {np.abs(mine_perm - ref).max():.2e}; "
          f"max |shap perm - exact|: {np.abs(ref_perm - ref).max():.2e}")


if __name__ == '__main__':
    main()
