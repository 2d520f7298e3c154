"""Results are DataFrames a user keeps working with: pandas compares and deep-copies `attrs` whenever it combines
frames (`nlargest`, `concat` of slices, a groupby's apply), so nothing kept there may make `==` ambiguous (an image,
a label map or a Grad-CAM map is kept as `Kept`: read-only, compared whole, its array for everything else)."""
import pickle

import numpy as np
import pandas as pd
import pytest

import fastai_featimp
from fastai_featimp.core.results import Kept

Q = dict(show_progress=False)


def _worked_with(expl):
    "The pandas a user writes on a result: each keeps the attrs, and a drawing still works from what comes back."
    top = expl.nlargest(3, 'Contribution')
    assert top.attrs.keys() == expl.attrs.keys()
    both = pd.concat([expl.head(2), expl.tail(2)])
    assert both.attrs.keys() == expl.attrs.keys()
    per_row = expl.groupby('row')['Contribution'].apply(lambda c: c.abs().max())
    assert len(per_row) == expl['row'].nunique()
    again = pickle.loads(pickle.dumps(expl))
    pd.testing.assert_frame_equal(again, expl)
    assert again.attrs.keys() == expl.attrs.keys()
    return top


def test_a_tables_explanation(binary_learner, binary_test):
    e = binary_learner.explain(binary_test.head(3), background=binary_test.tail(50), seed=0, **Q)
    _worked_with(e)


def test_a_texts_explanation(custom_text, notes):
    e = custom_text.explain(notes[1]['text'].head(3).tolist(), method='occlusion', **Q)
    _worked_with(e)


@pytest.mark.parametrize('options', [dict(method='occlusion'), dict(method='occlusion', superpixels=20),
                                     dict(method='gradcam')], ids=['grid', 'superpixels', 'gradcam'])
def test_an_images_explanation(marked, options):
    import matplotlib.pyplot as plt
    learn, test = marked
    e = learn.explain(list(test['path'][:3]), **options, **Q)
    top = _worked_with(e)
    kept = [v for key in ('images', 'segments', 'cams') for v in e.attrs.get(key, [])]
    assert kept and all(isinstance(k, Kept) for k in kept)
    image = e.attrs['images'][0]
    assert np.asarray(image).shape == (32, 32, 3) and not np.asarray(image).flags.writeable   # read-only, shared
    assert (image.astype(int) - 1).min() == -1 or image.min() > 0          # arithmetic gives plain arrays
    # what came back from pandas still draws (the slice keeps the attrs the picture needs)
    ax = learn.plot_explanation(e[e['row'] == int(top['row'].iloc[0])], int(top['row'].iloc[0]))
    plt.close(ax.figure)
    np.testing.assert_allclose(fastai_featimp.attribution_map(top, int(top['row'].iloc[0])).sum(),
                               top[top['row'] == top['row'].iloc[0]]['Contribution'].sum(), rtol=1e-9)
