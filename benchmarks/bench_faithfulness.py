"""Cost of the faithfulness checks per explained note, next to captum's `infidelity` on the same model, and the figure
of merit of each explanation method on the clinical notes (notes holding the leak).

    python benchmarks/bench_faithfulness.py            # 20 leak notes, the custom CNN and the small AWD_LSTM
    python benchmarks/bench_faithfulness.py --quick    # 5 notes, the custom CNN only

Per note: `evaluate_explanation` (deletion and insertion curves of the explanation's order, 20 random orders and the
reverse: 2 x 22 x (words + 1) masked notes), `sanity_check` (one explanation per randomised block), and captum's
`infidelity` (on the embedding level, 20 perturbations of Gaussian noise) of the same integrated-gradients
attributions. ferret is not run: it works on Hugging Face models only."""
from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'tests'))
warnings.filterwarnings('ignore')


def per_note(fn, items):
    times = []
    for item in items:
        start = time.perf_counter(); fn(item); times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--quick', action='store_true')
    args = ap.parse_args()
    import torch
    from captum.metrics import infidelity
    import fastai_featimp
    from fastai_featimp.datasets import clinical_notes
    from helpers import train_awd_lstm, train_custom_text

    notes, test = clinical_notes(3000, seed=0), clinical_notes(600, seed=1)
    leak = test[test['has_family_visit']]['text'].head(5 if args.quick else 20).tolist()
    models = {'custom CNN': train_custom_text(notes)}
    if not args.quick: models['AWD_LSTM'] = train_awd_lstm(notes)
    q = dict(show_progress=False)
    for name, learn in models.items():
        print(f"\n== {name}, {len(leak)} notes holding the leak (median per note) ==")
        expl = {m: learn.explain(leak, method=m, seed=0, **q) for m in ('shapley', 'occlusion', 'integrated_gradients')}
        t_eval = per_note(lambda t: learn.evaluate_explanation(learn.explain(t, method='occlusion', **q), seed=0, **q), leak)
        t_expl = per_note(lambda t: learn.explain(t, method='occlusion', **q), leak)
        t_sanity = per_note(lambda t: learn.sanity_check(t, method='occlusion', seed=0), leak[:5])

        def captum_infidelity(text):
            ci = fastai_featimp.captum_inputs(learn, text).embedding()
            from captum.attr import IntegratedGradients
            attr = IntegratedGradients(ci.forward_func).attribute(ci.inputs, baselines=ci.baselines, target=ci.target)
            def perturb(x):
                noise = torch.randn_like(x) * 0.01
                return noise, x - noise
            return infidelity(ci.forward_func, perturb, ci.inputs[0], attr, target=ci.target, n_perturb_samples=20)
        t_infid = per_note(captum_infidelity, leak[:5])
        print(f"evaluate_explanation (occlusion): {t_eval - t_expl:.3f} s per note beyond its explanation ({t_expl:.3f} s)")
        print(f"sanity_check (occlusion, every block re-drawn): {t_sanity:.3f} s per note")
        print(f"captum infidelity (integrated gradients, 20 perturbations): {t_infid:.3f} s per note")
        print("figure of merit, mean over the notes (deletion AOPC; explanation / random / reverse):")
        for m, e in expl.items():
            ev = learn.evaluate_explanation(e, seed=0, **q)
            d = ev[(ev['row'] == 'all') & (ev['Metric'] == 'deletion_aopc')].iloc[0]
            c = ev[(ev['row'] == 'all') & (ev['Metric'] == 'comprehensiveness@1')].iloc[0]
            print(f"  {m:22s} {d['Explanation']:.3f} / {d['Random']:.3f} ± {d['RandomStd']:.3f} / {d['Reverse']:.3f}; "
                  f"comprehensiveness@1 {c['Explanation']:.3f} (random {c['Random']:.3f})")
        table = learn.compare_explanations(leak, seed=0, n_random=10)
        print(f"recommended: {table.attrs['recommended']}: {table.attrs['reason']}")


if __name__ == '__main__':
    main()
