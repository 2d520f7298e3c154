"""Real images that ship with a dependency: scikit-learn's handwritten digits (0 against 1), drawn white on black and
written as PNG files, a small CNN trained on them. What is known: a region with no ink is already what a black fill
makes it, so it contributes exactly 0; the values add up to the output, which is get_preds' own; and removing the
regions in the explanation's order lowers the prediction faster than random orders."""
import numpy as np
import pandas as pd
import pytest


@pytest.mark.slow
def test_real_digits(tmp_path):
    from PIL import Image
    from sklearn.datasets import load_digits
    from fastai.vision.all import ImageDataLoaders, Learner, Normalize, Resize, accuracy, imagenet_stats, set_seed
    from helpers import SmallCNN
    digits = load_digits()
    keep = np.isin(digits.target, [0, 1])
    rows = []
    for i, (image, label) in enumerate(zip(digits.images[keep], digits.target[keep])):
        pixels = (np.kron(image, np.ones((4, 4))) * 255 / 16).astype(np.uint8)   # 8x8 -> 32x32, ink 0..255
        Image.fromarray(pixels).convert('RGB').save(tmp_path / f'd{i}.png')
        rows.append((f'd{i}.png', str(label)))
    df = pd.DataFrame(rows, columns=['path', 'label'])
    train, test = df.iloc[:280], df.iloc[280:]
    set_seed(0, reproducible=True)
    dls = ImageDataLoaders.from_df(train, path=tmp_path, fn_col='path', label_col='label', valid_pct=0.2, seed=0,
                                   item_tfms=Resize(32), batch_tfms=Normalize.from_stats(*imagenet_stats), bs=32,
                                   num_workers=0)
    learn = Learner(dls, SmallCNN(), metrics=accuracy)
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(12, 1e-2)
    assert float(learn.validate()[1]) > 0.95

    paths = [str(tmp_path / p) for p in test['path'][:6]]
    expl = learn.explain(paths, grid=4, mask=(0, 0, 0), max_evals=600, seed=0, show_progress=False)
    preds, _ = learn.get_preds(dl=learn.dls.test_dl(paths))
    np.testing.assert_allclose(expl.attrs['outputs'], preds[:, 1].numpy(), atol=1e-5)
    for r, part in expl.groupby('row'):
        ink = np.asarray(Image.open(paths[r]).convert('L'))
        blank = [(ink[t:b, l:rr] == 0).all() for t, l, b, rr in part[['Top', 'Left', 'Bottom', 'Right']].to_numpy()]
        assert any(blank) and (part.loc[np.array(blank), 'Contribution'] == 0).all()   # no ink: exactly 0
        assert part['Contribution'].sum() + expl.attrs['base_values'][r] == pytest.approx(expl.attrs['outputs'][r],
                                                                                          abs=1e-6)
    ev = learn.evaluate_explanation(expl, paths, n_random=10, seed=0, show_progress=False)
    overall = ev[ev['row'] == 'all'].set_index('Metric')
    assert overall.loc['deletion_aopc', 'Explanation'] > overall.loc['deletion_aopc', 'Random']
