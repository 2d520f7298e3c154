"""Speed of the text explanations, beside captum and shap on the same models.

    python benchmarks/bench_text.py               # per-note times (40-word notes) and the 1,000-note ranking
    python benchmarks/bench_text.py --quick       # fewer notes, no 1,000-note ranking

Models: the small AWD_LSTM of the tests (embedding 100, hidden 256, 2 layers, from scratch) and a custom
model (embeddings, a width-2 convolution), both trained on `clinical_notes(3000)`. Per note: median over notes
of about 40 words. Shapley uses 20 permutations (ours: 10 antithetic pairs; captum's ShapleyValueSampling:
n_samples=20) with the same word groups and the same `xxunk` baseline; occlusion is compared with captum's
FeatureAblation. shap's Partition explainer runs on raw strings through the learner's tokenizer with its
own Text masker (it masks whitespace-separated words with its mask token, not fastai's tokens)."""
from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'tests'))
warnings.filterwarnings('ignore')

import fastai_featimp  # noqa: F401,E402
from fastai_featimp.datasets import clinical_notes  # noqa: E402
from fastai_featimp.text.data import numericalize, tokenize  # noqa: E402
from fastai_featimp.text.schema import text_schema  # noqa: E402
from fastai_featimp.text.units import word_units  # noqa: E402
from helpers import train_awd_lstm, train_custom_text  # noqa: E402


def median_time(fn, items):
    times = []
    for item in items:
        t = time.perf_counter(); fn(item); times.append(time.perf_counter() - t)
    return statistics.median(times)


def captum_inputs(learn, text):
    schema = text_schema(learn)
    tokens = tokenize(schema, [text])[0]
    ids = numericalize(schema, tokens)[None]
    mask = torch.zeros_like(ids)
    for j, w in enumerate(word_units(tokens)): mask[0, w.positions] = j + 1
    return ids, mask, schema.unk_id


def prob_fn(learn):
    k = list(learn.dls.vocab[1]).index('died')
    def f(x):
        out = learn.model(x)
        out = out[0] if isinstance(out, tuple) else out
        return torch.softmax(out.as_subclass(torch.Tensor), -1)[:, k]
    return f


def shap_partition(learn, texts, max_evals):
    import shap
    schema = text_schema(learn)
    k = list(learn.dls.vocab[1]).index('died')
    def predict(strings):
        ids = [numericalize(schema, t) for t in tokenize(schema, [str(s) if str(s).strip() else '.' for s in strings])]
        from fastai_featimp.text.forward import text_forward
        return torch.softmax(text_forward(learn.model, ids), -1)[:, k].numpy()
    explainer = shap.Explainer(predict, shap.maskers.Text(r"\W+"), algorithm='partition')
    return lambda text: explainer([text], max_evals=max_evals, silent=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--quick', action='store_true')
    args = p.parse_args()
    torch.set_num_threads(2)
    train, test = clinical_notes(3000, seed=0), clinical_notes(1000, seed=1)
    words = test['text'].str.split().str.len()
    notes = test['text'][(words >= 38) & (words <= 42)].head(4 if args.quick else 10).tolist()
    print(f"notes of 38-42 words: {len(notes)} (median {int(np.median([len(n.split()) for n in notes]))} words); "
          f"torch threads {torch.get_num_threads()}")
    from captum.attr import FeatureAblation, ShapleyValueSampling
    rows = []
    for name, trainer in [('AWD_LSTM', train_awd_lstm), ('custom CNN', train_custom_text)]:
        t = time.perf_counter(); learn = trainer(train); train_time = time.perf_counter() - t
        learn.model.eval()
        f = prob_fn(learn)
        ex = lambda method, **kw: (lambda text: learn.explain(text, method=method, target='died', seed=0,
                                                                  show_progress=False, **kw))
        ours = {m: median_time(ex(m), notes) for m in ['shapley', 'occlusion', 'integrated_gradients']}
        def captum_run(cls, **kw):
            def run(text):
                ids, mask, unk = captum_inputs(learn, text)
                with torch.no_grad(): cls(f).attribute(ids, baselines=unk, feature_mask=mask, **kw)
            return run
        ref = {'FeatureAblation': median_time(captum_run(FeatureAblation, perturbations_per_eval=64), notes),
               'ShapleyValueSampling': median_time(captum_run(ShapleyValueSampling, n_samples=20,
                                                              perturbations_per_eval=64), notes)}
        try: ref['shap Partition (500 evals)'] = median_time(shap_partition(learn, notes, 500), notes)
        except Exception as e: ref['shap Partition (500 evals)'] = f'failed: {type(e).__name__}: {str(e)[:80]}'
        rank = None
        if not args.quick:
            t = time.perf_counter()
            fi = learn.feature_importance(df=test, seed=0, show_progress=False)
            rank = (time.perf_counter() - t, fi.attrs['n_forward_texts'], len(fi), fi['Variable'][0])
        rows.append((name, train_time, ours, ref, rank))
    print()
    for name, train_time, ours, ref, rank in rows:
        print(f"{name} (trained in {train_time:.0f} s)")
        for m, v in ours.items(): print(f"  ours {m:<22} {v:8.3f} s per note")
        for m, v in ref.items(): print(f"  {m:<27} " + (f"{v:8.3f} s per note" if isinstance(v, float) else v))
        if rank:
            print(f"  global ranking, 1,000 notes: {rank[0]:.1f} s ({rank[1]} note passes, {rank[2]} candidates; "
                  f"top: {rank[3]!r})")


if __name__ == '__main__':
    main()
