"""Shapley values per model evaluation: the package's budgeted estimator against shap's and captum's (run by hand;
shap and captum are [dev] dependencies).

    python benchmarks/bench_shapley.py [--budgets 200 500 1000 3000] [--seeds 3] [--rows 3] [--notes 8]
                                       [--images 6] [--cases table notes images]

Every library gets the same value function, so that they estimate the same numbers: one background row, and the value
of a coalition is the model's output with the coalition's inputs taken from the explained row and the others from the
background row. The truth is exact Shapley by enumeration of all 2^m coalitions. For each budget of evaluations per
explained row, the error (root mean square over the inputs, against exact, averaged over rows and seeds) and seconds:
- ours: `core.shapley_regression.budget_shapley` (what `learn.explain(method='shapley', max_evals=N)` runs), and the
  package's permutation estimator (`method='permutation'`) at the same number of evaluations;
- shap: KernelExplainer with `l1_reg=False` and with its default, PermutationExplainer, SamplingExplainer;
- captum: ShapleyValueSampling (n_samples permutations of m + 1 evaluations each) and KernelShap.
Data: a fastai tabular learner on UCI Adult's 14 inputs (rows differing from the background row in every input, and
typical rows), short clinical notes (at most 14 words) on a small text model (a word masked is xxunk), and images
(a 3x3 grid of regions, a removed region blurred) on a small CNN."""
from __future__ import annotations

import argparse
import logging
import time
import warnings

warnings.filterwarnings('ignore')
logging.getLogger('shap').setLevel(logging.ERROR)
import numpy as np
import pandas as pd
import torch

import fastai_featimp  # noqa: F401
from fastai_featimp.core.shapley import all_coalitions, permutation_plan, shapley_from_plan, shapley_from_values
from fastai_featimp.core.shapley_regression import budget_shapley

CAT = ['workclass', 'education', 'marital-status', 'occupation', 'relationship', 'race', 'sex', 'native-country']
CONT = ['age', 'fnlwgt', 'education-num', 'capital-gain', 'capital-loss', 'hours-per-week']


def _permutation(value, m: int, n_permutations: int, seed: int):
    "Shapley values from antithetic permutations (the estimator of method='permutation')."
    plan = permutation_plan(m, n_permutations, np.random.default_rng(seed))
    return shapley_from_plan(plan, value(torch.from_numpy(plan.distinct)))[0]


def adult_game(n_rows: int, seed: int = 0):
    "`(f, background, rows)`: P(>50K) of a model on processed inputs (8 codes, 6 values), one background row, rows."
    from fastai.tabular.all import Categorify, Normalize, TabularDataLoaders, set_seed, tabular_learner
    from fastai_featimp.datasets import adult
    train_df, test_df = adult()
    for df in (train_df, test_df): df[CAT] = df[CAT].fillna('?')
    set_seed(seed, reproducible=True)
    dls = TabularDataLoaders.from_df(train_df, y_names='salary', cat_names=CAT, cont_names=CONT,
                                     procs=[Categorify, Normalize], bs=256)
    learn = tabular_learner(dls)
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(2)
    learn.model.eval()
    dl = learn.dls.test_dl(test_df.head(4000))
    batch = dl.after_batch(dl.dataset)
    x = torch.cat([batch[0].float(), batch[1].float()], 1).numpy()

    def f(z):
        z = torch.as_tensor(np.asarray(z), dtype=torch.float32)
        with torch.inference_mode():
            return torch.softmax(learn.model(z[:, :len(CAT)].long(), z[:, len(CAT):]), 1)[:, 1].double().numpy()
    rng = np.random.default_rng(seed)
    for candidate in rng.permutation(len(x)):   # a background row from which some rows differ in all 14 inputs
        bg = x[candidate][None]
        differ = np.flatnonzero((x != bg).all(1))
        if len(differ) >= n_rows: break
    rows = {'differ in every input': x[rng.choice(differ, n_rows, replace=False)],
            'typical rows': x[rng.choice(len(x), n_rows, replace=False)]}
    return f, bg, rows


def notes_game(n_notes: int, seed: int = 0):
    "`(f per note, x per note)`: P(died) of a small text model with the words where z = 0 masked by xxunk."
    from fastai.text.all import Learner, TextDataLoaders, set_seed
    from fastai_featimp.datasets import clinical_notes
    from fastai_featimp.text.data import numericalize, tokenize
    from fastai_featimp.text.schema import text_schema
    from fastai_featimp.text.forward import text_forward
    from fastai_featimp.text.units import word_units
    notes = clinical_notes(1500, seed=0)
    set_seed(seed, reproducible=True)
    dls = TextDataLoaders.from_df(notes, text_col='text', label_col='outcome', valid_pct=0.2, bs=64, seed=seed)

    class BagCNN(torch.nn.Module):
        def __init__(self, n):
            super().__init__()
            self.emb, self.conv = torch.nn.Embedding(n, 32), torch.nn.Conv1d(32, 32, 2, padding=1)
            self.head = torch.nn.Linear(32, 2)
        def forward(self, ids): return self.head(torch.relu(self.conv(self.emb(ids).transpose(1, 2))).max(2).values)
    learn = Learner(dls, BagCNN(len(dls.vocab[0])))
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(4, 1e-2)
    learn.model.eval()
    schema = text_schema(learn)
    games = []
    for note in clinical_notes(400, seed=1)['text']:
        if len(games) == n_notes: break
        text = ' '.join(note.split('. ')[:2])   # a short note: its first sentences, at most 14 words and signs
        tokens = tokenize(schema, [text])[0]
        ids, units = numericalize(schema, tokens), word_units(tokens)
        if not 6 <= len(units) <= 14: continue
        member = torch.zeros(len(units), len(ids), dtype=torch.bool)
        for j, u in enumerate(units): member[j, u.positions] = True
        known = np.array([any(int(ids[p]) != schema.unk_id for p in u.positions) for u in units], float)

        def f(z, ids=ids, member=member):
            keep = torch.as_tensor(np.asarray(z) > 0.5)
            drop = ((~keep).float() @ member.float()) > 0
            seqs = torch.where(drop, torch.full_like(ids, schema.unk_id), ids)
            return torch.softmax(text_forward(learn.model, seqs), 1)[:, 1].double().numpy()
        games.append((f, known[None]))   # x: 1 where the word is known, 0 where it is already xxunk (= background)
    return games


def images_game(n_images: int, seed: int = 0):
    """`(f per image, x per image)`: P(yes) of the test suite's small CNN on 32-pixel `marked_images` (a planted marker
    in the top-left corner), with the regions of a 3x3 grid where z = 0 blurred (before Normalize)."""
    import sys
    import tempfile
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'tests'))   # the suite's CNN and its recipe
    from helpers import train_marked_cnn
    from fastai_featimp.common.setup import method_setup
    from fastai_featimp.vision.data import load_images
    from fastai_featimp.vision.kind import VISION
    from fastai_featimp.vision.masking import masked_outputs
    from fastai_featimp.vision.units import region_setup
    folder = tempfile.mkdtemp()
    learn, df = train_marked_cnn(folder, n=800, size=32, epochs=5, seed=seed)
    s = method_setup(learn, VISION)
    paths = [str(Path(folder) / p) for p in df[df['has_marker']]['path'].head(n_images)]
    data = load_images(learn, s.schema, paths, param='images')
    setups = region_setup(data, (3, 3), 'blur')
    games = []
    for i in range(len(paths)):
        def f(z, i=i):
            keeps = torch.as_tensor(np.asarray(z) > 0.5)
            raw = masked_outputs(learn.model, data.model_input, data.pixels[i], setups[i][1], setups[i][0].pixel_region,
                                 keeps, 4096)
            return s.activation(raw).reshape(len(keeps), -1)[:, 1].double().numpy()
        games.append((f, (~setups[i][2]).numpy().astype(float)[None]))   # 0 where a region already equals the blur
    return games


def estimators(f, x, bg, budget, seed):
    "`{name: (values, seconds)}` of every estimator at `budget` evaluations."
    import shap
    from captum.attr import KernelShap, ShapleyValueSampling
    m = x.shape[1]
    value = lambda masks: f(np.where(masks.numpy(), x, bg))
    active = (x != bg)[0]
    forward = lambda t: torch.as_tensor(f(t.detach().numpy()))
    xt, bt = torch.as_tensor(x, dtype=torch.float64), torch.as_tensor(bg, dtype=torch.float64)
    runs = {
        'ours (budgeted)': lambda: budget_shapley(value, m, budget, np.random.default_rng(seed), active)[0],
        'ours (permutation)': lambda: _permutation(value, m, max(2, budget // max(1, m - 1)), seed),
        'shap Kernel l1_reg=False': lambda: _seeded(seed, lambda: shap.KernelExplainer(f, bg).shap_values(
            x, nsamples=budget, l1_reg=False, silent=True)),
        'shap Kernel default': lambda: _seeded(seed, lambda: shap.KernelExplainer(f, bg).shap_values(
            x, nsamples=budget, silent=True)),
        'shap Permutation': lambda: _seeded(seed, lambda: shap.PermutationExplainer(
            f, shap.maskers.Independent(bg)).shap_values(x, npermutations=max(1, budget // (2 * m)), silent=True)),
        'shap Sampling': lambda: _seeded(seed, lambda: shap.SamplingExplainer(f, bg).shap_values(x, nsamples=budget)),
        'captum ShapleyValueSampling': lambda: _seeded(seed, lambda: ShapleyValueSampling(forward).attribute(
            xt, baselines=bt, n_samples=max(1, budget // (m + 1))).numpy()),
        'captum KernelShap': lambda: _seeded(seed, lambda: KernelShap(forward).attribute(
            xt, baselines=bt, n_samples=budget).numpy()),
    }
    out = {}
    for name, run in runs.items():
        start = time.perf_counter()
        try: values = np.asarray(run(), dtype=float).reshape(-1)[:m]
        except Exception as e: values = np.full(m, np.nan); print(f'  {name} failed: {type(e).__name__}: {e}')
        out[name] = (values, time.perf_counter() - start)
    return out


def _seeded(seed, fn):
    np.random.seed(seed); torch.manual_seed(seed)
    return fn()


def bench(case, pairs, budgets, seeds) -> list:
    records = []
    for r, (f, x, bg) in enumerate(pairs):
        m = x.shape[1]
        exact = shapley_from_values(f(np.where(all_coalitions(m).numpy(), x, bg)), m)
        for budget in budgets:
            for seed in range(seeds):
                for name, (values, seconds) in estimators(f, x, bg, budget, seed).items():
                    records.append(dict(case=case, row=r, budget=budget, seed=seed, estimator=name, seconds=seconds,
                                        rmse=float(np.sqrt(np.mean((values - exact) ** 2)))))
    return records


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--budgets', type=int, nargs='+', default=[200, 500, 1000, 3000])
    p.add_argument('--seeds', type=int, default=3)
    p.add_argument('--rows', type=int, default=3)
    p.add_argument('--notes', type=int, default=8)
    p.add_argument('--images', type=int, default=6)
    p.add_argument('--cases', nargs='+', default=['table', 'notes', 'images'], choices=['table', 'notes', 'images'])
    args = p.parse_args()
    torch.set_num_threads(2)
    records = []
    if 'table' in args.cases:
        f, bg, rows = adult_game(args.rows)
        for case, xs in rows.items():
            records += bench(f'Adult, {case}', [(f, x[None], bg) for x in xs], args.budgets, args.seeds)
    if 'notes' in args.cases:
        games = notes_game(args.notes)
        assert games, 'no short note found'
        records += bench(f'{len(games)} short notes', [(f, x, np.zeros_like(x)) for f, x in games], args.budgets,
                         args.seeds)
    if 'images' in args.cases:
        games = images_game(args.images)
        records += bench(f'{len(games)} marked images, 3x3 grid', [(f, x, np.zeros_like(x)) for f, x in games],
                         args.budgets, args.seeds)
    frame = pd.DataFrame(records)
    table = frame.groupby(['case', 'budget', 'estimator'], sort=False)[['rmse', 'seconds']].mean().reset_index()
    ours = table[table['estimator'] == 'ours (budgeted)'].set_index(['case', 'budget'])['rmse']
    # where ours is exact (error at rounding level) the ratio is shown as inf
    table['error / ours'] = [r / ours.loc[(c, b)] if ours.loc[(c, b)] > 1e-12 else (np.inf if r > 1e-12 else 1.0)
                             for c, b, r in zip(table['case'], table['budget'], table['rmse'])]
    pd.set_option('display.width', 200)
    for case, part in table.groupby('case', sort=False):
        print(f'\n{case}: RMSE against exact (mean over rows and seeds), error relative to ours, seconds per row')
        print(part.pivot(index='estimator', columns='budget', values='error / ours').round(2).to_string())
        print(part.pivot(index='estimator', columns='budget', values='rmse').map(lambda v: f'{v:.2e}').to_string())
        print(part.pivot(index='estimator', columns='budget', values='seconds').round(3).to_string())


if __name__ == '__main__':
    main()
