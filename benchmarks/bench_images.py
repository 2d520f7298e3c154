"""Explaining one image: this package against captum, shap and pytorch-grad-cam on the same model, image and regions.

    python benchmarks/bench_images.py [--size 128] [--grid 8] [--evals 512] [--repeats 3]

A resnet18 (`vision_learner`, pretrained=False: the weights do not change the cost) on one `marked_images` picture of
`--size` pixels, explained for P(yes) with a `--grid` x `--grid` grid of regions, a removed region blurred (ours) or
taken from the same blurred baseline (captum; shap's Partition explainer blurs with its own kernel). For each method:
the median seconds per image over `--repeats` runs (after one warm-up), the model evaluations (masked images run
through the model) it needs, and the ratio to ours. Occlusion and Shapley of ours build the masked copies as tensors
on the model's device and run many per forward pass; captum's default runs one perturbation per pass
(`perturbations_per_eval=1`), shown also with as many per pass as ours. Ratios are what this benchmark reports; the
seconds depend on the machine."""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

import fastai_featimp  # noqa: F401


def learner(size: int):
    "An untrained resnet18 vision_learner over marked images of `size` pixels, and the path of one image."
    from fastai.vision.all import ImageDataLoaders, Resize, resnet18, vision_learner
    from fastai_featimp.datasets import marked_images
    folder = Path(tempfile.mkdtemp())
    df = marked_images(64, seed=0, size=size, path=folder)
    dls = ImageDataLoaders.from_df(df.drop(columns='image'), path=folder, fn_col='path', label_col='label',
                                   valid_pct=0.2, seed=0, item_tfms=Resize(size), bs=16, num_workers=0)
    learn = vision_learner(dls, resnet18, pretrained=False)
    learn.model.eval()
    return learn, str(folder / df[df['has_marker']]['path'].iloc[0])


def timed(fn, repeats: int) -> float:
    "Median seconds of `fn()` over `repeats` runs, after one warm-up."
    fn()
    runs = []
    for _ in range(repeats):
        start = time.perf_counter(); fn(); runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--size', type=int, default=128)
    p.add_argument('--grid', type=int, default=8)
    p.add_argument('--evals', type=int, default=512)
    p.add_argument('--repeats', type=int, default=3)
    args = p.parse_args()
    warnings.filterwarnings('ignore')
    torch.set_num_threads(max(1, torch.get_num_threads()))
    learn, image = learner(args.size)
    R, q = args.grid ** 2, dict(show_progress=False, seed=0)
    ci = learn.captum_inputs([image], grid=args.grid)
    x, base, mask, k = ci.inputs[0], ci.baselines[0], ci.feature_mask[0], ci.target
    layer = ci.layer
    rows = []   # (method, seconds, evaluations)

    rows.append(('ours occlusion', timed(lambda: learn.explain([image], method='occlusion', grid=args.grid, **q),
                                         args.repeats), R + 1))
    from captum.attr import FeatureAblation, Occlusion, ShapleyValueSampling
    fa = FeatureAblation(ci.forward_func)
    for per_pass in (1, R):
        rows.append((f'captum FeatureAblation ({per_pass} per pass)', timed(lambda: fa.attribute(
            x, baselines=base, feature_mask=mask, target=k, perturbations_per_eval=per_pass), args.repeats), R + 1))
    side = args.size // args.grid
    occ = Occlusion(ci.forward_func)
    rows.append(('captum Occlusion (window = a region, 1 per pass)', timed(lambda: occ.attribute(
        x, sliding_window_shapes=(3, side, side), strides=(3, side, side), baselines=base, target=k), args.repeats),
        R + 1))

    budget = args.evals
    rows.append((f'ours shapley (max_evals={budget})', timed(lambda: learn.explain(
        [image], method='shapley', grid=args.grid, max_evals=budget, **q), args.repeats), budget + 2))
    svs = ShapleyValueSampling(ci.forward_func)
    n_samples = max(1, budget // R)
    for per_pass in (1, R):
        rows.append((f'captum ShapleyValueSampling (n_samples={n_samples}, {per_pass} per pass)', timed(
            lambda: svs.attribute(x, baselines=base, feature_mask=mask, target=k, n_samples=n_samples,
                                  perturbations_per_eval=per_pass), args.repeats), n_samples * R + 1))
    try:
        import shap
        from fastai.vision.all import imagenet_stats
        mean, std = (torch.tensor(s).view(1, 3, 1, 1) for s in imagenet_stats)
        def f(batch):   # shap's images: (n, H, W, C) in 0..255
            t = torch.as_tensor(np.asarray(batch), dtype=torch.float32).permute(0, 3, 1, 2) / 255
            with torch.no_grad(): return torch.softmax(learn.model((t - mean) / std), 1).numpy()
        from PIL import Image
        pixels = np.asarray(Image.open(image).convert('RGB'), dtype=np.float32)[None]
        explainer = shap.Explainer(f, shap.maskers.Image(f'blur({side},{side})', pixels[0].shape))
        rows.append((f'shap Partition (max_evals={budget})', timed(lambda: explainer(
            pixels, max_evals=budget, batch_size=64, outputs=[k], silent=True), args.repeats), budget))
    except ImportError: print('shap not installed: skipped')

    rows.append(('ours gradcam', timed(lambda: learn.explain([image], method='gradcam', grid=args.grid, **q),
                                       args.repeats), 1))
    try:
        from pytorch_grad_cam import GradCAM
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
        def theirs():
            with GradCAM(model=learn.model, target_layers=[layer]) as cam:
                cam(input_tensor=x, targets=[ClassifierOutputTarget(k)])
        rows.append(('pytorch-grad-cam GradCAM', timed(theirs, args.repeats), 1))
    except ImportError: print('pytorch-grad-cam not installed: skipped')

    from fastai_featimp.vision.masking import default_bs
    per_pass = default_bs(x)
    def model_alone(n):   # the floor: n copies of the image through the model, as many per pass as ours
        with torch.no_grad():
            for start in range(0, n, per_pass): learn.model(x.expand(min(per_pass, n - start), -1, -1, -1))
    rows.insert(0, (f'the model alone on {R + 1} copies (the floor of occlusion)', timed(lambda: model_alone(R + 1),
                                                                                        args.repeats), R + 1))
    rows.insert(5, (f'the model alone on {budget + 2} copies (the floor of Shapley)',
                    timed(lambda: model_alone(budget + 2), args.repeats), budget + 2))
    ours = {'occlusion': rows[1][1], 'shapley': next(s for m, s, _ in rows if m.startswith('ours shapley')),
            'gradcam': next(s for m, s, _ in rows if m == 'ours gradcam')}
    family = lambda m: 'gradcam' if 'rad' in m.lower() and 'cam' in m.lower() else \
        'shapley' if 'hapley' in m or 'Partition' in m else 'occlusion'
    print(f"one {args.size}-pixel image, resnet18 on {'cuda' if next(learn.model.parameters()).is_cuda else 'cpu'} "
          f"({torch.get_num_threads()} threads), {args.grid}x{args.grid} regions")
    print(f"{'method':<62}{'s / image':>10}{'evaluations':>13}{'x ours':>8}")
    for method, seconds, evals in rows:
        print(f"{method:<62}{seconds:>10.3f}{evals:>13}{seconds / ours[family(method)]:>8.2f}")


if __name__ == '__main__':
    main()
