"""Superpixels as an image's regions: SLIC follows colour boundaries; on the marked images the marker's superpixel is
the marker itself and the strongest region; label maps equal to the grid give the grid's explanation exactly; captum
through `captum_inputs` agrees; maps in each image's own pixels; pictures outline superpixels; clear errors."""
import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

import fastai_featimp
from fastai_featimp.cli import main
from fastai_featimp.core.params import ParameterError
from fastai_featimp.datasets.marked import marker_box
from fastai_featimp.plot.image import _own_labels, image_explanation_page
from fastai_featimp.vision.superpixels import slic
from helpers import assert_call_leaves_everything


def _marker_row(e, row, box):
    "The row's region holding the marker's centre pixel, found from the map (not from the names)."
    t, l, b, r = box
    labels = _own_labels(e, row)
    return e[e['row'] == row].iloc[labels[(t + b) // 2, (l + r) // 2]]


@pytest.fixture(scope='module')
def marked_positives(marked):
    "10 held-out marked images the model calls positive."
    learn, test = marked
    e = learn.explain(list(test['path'][:60]), method='occlusion', grid=2, show_progress=False)
    p = np.array(e.attrs['outputs'])
    return test[:60][test['has_marker'][:60].to_numpy() & (p > 0.5)].head(10)


def test_slic_follows_colour_boundaries():
    rng = np.random.default_rng(0)
    img = np.full((48, 64, 3), 90, np.uint8)
    img[:, 32:] = (200, 60, 40)                       # two halves of different colour
    img[10:20, 8:18] = (20, 200, 30)                  # and a green square in the left half
    noisy = np.clip(img + rng.normal(0, 8, img.shape), 0, 255).astype(np.uint8)
    for image in (img, noisy):
        s = slic(image, 24)
        assert 12 <= s.max() + 1 <= 36 and s.min() == 0
        colours = [{tuple(c) for c in img[s == k]} for k in range(s.max() + 1)]
        assert all(len(c) == 1 for c in colours)       # no superpixel crosses a colour boundary
        square = s[10:20, 8:18]
        assert len(np.unique(square)) == 1 and (s == square[0, 0]).sum() == 100   # the square is one superpixel
    from scipy import ndimage
    s = slic(noisy, 24)
    assert all(ndimage.label(s == k)[1] == 1 for k in range(s.max() + 1))      # each one connected piece
    gray = slic(img[..., 0], 8)                                                 # one channel works too
    assert gray.shape == (48, 64) and gray.max() >= 1


@pytest.mark.parametrize('method', ['occlusion', 'shapley'])
def test_the_markers_superpixel_is_the_marker_and_the_strongest(marked, marked_positives, method):
    learn, _ = marked
    paths = list(marked_positives['path'])
    e = learn.explain(paths, method=method, superpixels=25, seed=0, show_progress=False)
    assert e.attrs['superpixels'] == 25 and len(e.attrs['segments']) == len(paths)
    marker = [_marker_row(e, r, marker_box(32)) for r in range(len(paths))]
    assert sum(tuple(m[['Top', 'Left', 'Bottom', 'Right']]) == marker_box(32) for m in marker) >= 0.9 * len(paths)
    strongest = e.loc[e.groupby('row')['Contribution'].idxmax(), 'Variable'].to_numpy()
    assert np.mean([s == m['Variable'] for s, m in zip(strongest, marker)]) >= 0.9
    for r in range(len(paths)):   # the map sums to the contributions, and puts the marker's value on its own pixels
        m, labels = fastai_featimp.attribution_map(e, r), _own_labels(e, r)
        np.testing.assert_allclose(m.sum(), e[e['row'] == r]['Contribution'].sum(), rtol=1e-9, atol=1e-12)
        t, l, b, rr = marker_box(32)
        inside = labels == labels[(t + b) // 2, (l + rr) // 2]
        np.testing.assert_allclose(m[inside].sum(), marker[r]['Contribution'], rtol=1e-9)
        assert len(np.unique(m[inside])) == 1 and (m[~inside] != m[inside][0]).any()
    if method == 'shapley':
        total = e.groupby('row')['Contribution'].sum().to_numpy() + np.array(e.attrs['base_values'])
        np.testing.assert_allclose(total, e.attrs['outputs'], atol=1e-9)


def _grid_labels(size, n):
    "A label map of an n x n grid over a size x size image, as the package's grid places it."
    band = np.searchsorted(np.round(np.linspace(0, size, n + 1)), np.arange(size) + 0.5) - 1
    return (band[:, None] * n + band[None, :]).astype(np.int64)


@pytest.mark.parametrize('method', ['occlusion', 'shapley', 'integrated_gradients', 'gradcam'])
def test_label_maps_of_the_grid_give_the_grids_explanation(marked, method):
    learn, test = marked
    paths = list(test['path'][:3])
    kw = dict(method=method, seed=0, show_progress=False)
    grid = learn.explain(paths, grid=3, **kw)
    given = learn.explain(paths, superpixels=[_grid_labels(32, 3)] * 3, **kw)
    assert given.attrs['superpixels'] == 'given'
    assert list(given['Variable'][:9]) == [f'sp{k}' for k in range(9)]
    np.testing.assert_allclose(given['Contribution'], grid['Contribution'], atol=1e-12)
    assert given[['Top', 'Left', 'Bottom', 'Right']].equals(grid[['Top', 'Left', 'Bottom', 'Right']])
    for r in range(3):
        np.testing.assert_allclose(fastai_featimp.attribution_map(given, r), fastai_featimp.attribution_map(grid, r),
                                   atol=1e-12)


def test_captum_feature_ablation_on_superpixels_equals_occlusion(marked):
    from captum.attr import FeatureAblation
    learn, test = marked
    paths = list(test['path'][:3])
    ci = fastai_featimp.captum_inputs(learn, paths, superpixels=20, mask=(0, 0, 0))
    attr = FeatureAblation(ci.forward_func).attribute(ci.inputs, baselines=ci.baselines, feature_mask=ci.feature_mask,
                                                      target=ci.target)
    theirs = ci.to_frame(attr)
    e = learn.explain(paths, method='occlusion', superpixels=20, mask=(0, 0, 0), show_progress=False)
    np.testing.assert_allclose(theirs['Contribution'], e['Contribution'], atol=1e-5)
    assert list(theirs['Variable']) == list(e['Variable'])


def test_superpixels_are_in_each_images_own_pixels(marked, marked_positives, tmp_path):
    learn, _ = marked
    path = marked_positives['path'].iloc[0]
    big = tmp_path / 'big.png'
    Image.open(path).resize((64, 64), Image.NEAREST).save(big)
    e = learn.explain([path, str(big)], method='occlusion', superpixels=25, show_progress=False)
    assert e.attrs['sizes'] == [(32, 32), (64, 64)]
    t, l, b, r = marker_box(32)
    assert tuple(_marker_row(e, 0, marker_box(32))[['Top', 'Left', 'Bottom', 'Right']]) == (t, l, b, r)
    assert tuple(_marker_row(e, 1, tuple(2 * v for v in marker_box(32)))[['Top', 'Left', 'Bottom', 'Right']]) == \
        (2 * t, 2 * l, 2 * b, 2 * r)
    for row, side in [(0, 32), (1, 64)]:
        m = fastai_featimp.attribution_map(e, row)
        assert m.shape == (side, side)
        np.testing.assert_allclose(m.sum(), e[e['row'] == row]['Contribution'].sum(), rtol=1e-9)


def test_evaluate_and_the_picture_of_a_superpixel_explanation(marked, marked_positives):
    import matplotlib.pyplot as plt
    learn, test = marked
    paths = list(marked_positives['path'][:3])
    e = learn.explain(paths, method='occlusion', superpixels=25, show_progress=False)
    ev = learn.evaluate_explanation(e, paths, n_random=3, seed=0, show_progress=False)
    overall = ev[ev['row'] == 'all'].set_index('Metric')
    # removing the superpixels it ranks first lowers the prediction more than removing random ones
    assert overall.loc['deletion_aopc', 'Explanation'] > overall.loc['deletion_aopc', 'Random']
    with pytest.raises(ParameterError, match='regions differ|other images'):
        learn.evaluate_explanation(e, list(test['path'][-3:]), show_progress=False)
    for dpi in (72, 150):
        ax = learn.plot_explanation(e, 0, top=2)
        ax.figure.set_dpi(dpi)
        ax.figure.canvas.draw()
        outlines = [c for c in ax.collections if c.get_gid() == 'featimp-top']
        assert len(outlines) == 2                                       # contours, not boxes
        assert not [p for p in ax.patches if p.get_gid() == 'featimp-top']
        marker = _marker_row(e, 0, marker_box(32))['Variable']
        label = next(t for t in ax.texts if t.get_gid() == 'featimp-label' and t.get_text().startswith(marker + ' '))
        x, y = label.get_position()
        t, l, b, r = marker_box(32)
        assert l <= x <= r and t <= y <= b                              # named inside its own superpixel
        plt.close(ax.figure)
    page = image_explanation_page(e)
    assert page.count('<figure class="featimp-image">') == 3


def test_bad_superpixels_are_named_and_change_nothing(marked):
    learn, test = marked
    path = test['path'].iloc[0]
    cases = [(dict(superpixels=1), 'at least 2'),
             (dict(superpixels=[_grid_labels(16, 2)]), "16x16 but image 0 is 32x32"),
             (dict(superpixels=[_grid_labels(32, 2)] * 2), 'holds 2 label map'),
             (dict(superpixels=[-_grid_labels(32, 2)]), 'negative'),
             (dict(superpixels=[np.zeros((32, 32))]), 'label map 0 of superpixels is a float64 array'),
             (dict(superpixels=[torch.zeros(32, 32, dtype=torch.long)]), 'is a Tensor'),
             (dict(superpixels=[np.zeros((32, 32), int)]), 'only 1 superpixel'),
             (dict(superpixels=[]), 'got list \\(empty\\)'),
             (dict(superpixels='slic'), 'integer label maps'),
             (dict(superpixels=20, grid=3), 'give the regions once')]
    for kwargs, match in cases:
        with pytest.raises(ParameterError, match=match) as info:
            assert_call_leaves_everything(learn, lambda: learn.explain([path], method='occlusion', show_progress=False,
                                                                       **kwargs))
        assert info.value.name == ('grid' if 'grid' in kwargs else 'superpixels')
    labelled = test.head(8)
    with pytest.raises(ParameterError, match='each image has superpixels of its own') as info:
        assert_call_leaves_everything(learn, lambda: learn.feature_importance(df=labelled, superpixels=20,
                                                                              show_progress=False), labelled)
    assert info.value.name == 'superpixels'


def test_the_command_line_explains_with_superpixels(marked, marked_positives, tmp_path, capsys):
    learn, _ = marked
    learn.export(tmp_path / 'model.pkl')
    files = list(marked_positives['path'][:2])
    assert main(['explain', str(tmp_path / 'model.pkl'), *files, '--method', 'occlusion', '--superpixels', '25',
                 '--quiet', '--csv', str(tmp_path / 'e.csv'), '--plot', str(tmp_path / 'e.png')]) == 0
    said = capsys.readouterr().out
    assert said.count('image ') == 2 and ' sp' in said
    table = pd.read_csv(tmp_path / 'e.csv')
    assert table['Variable'].str.startswith('sp').all() and table.groupby('row').size().min() >= 15
    assert (tmp_path / 'e.png').read_bytes()[:4] == b'\x89PNG'


def test_a_large_image_and_images_of_different_sizes(marked, marked_positives, tmp_path):
    """SLIC runs on the copy kept for drawing (256 pixels a side at most): an explanation of a larger image keeps maps
    at that resolution and is evaluated from them; images with different counts of superpixels go through captum."""
    from captum.attr import FeatureAblation
    learn, _ = marked
    path = marked_positives['path'].iloc[0]
    big, wide = tmp_path / 'big.png', tmp_path / 'wide.png'
    Image.open(path).resize((320, 320), Image.NEAREST).save(big)
    Image.open(path).resize((64, 48)).save(wide)
    e = learn.explain([str(big)], method='occlusion', superpixels=25, show_progress=False)
    assert np.asarray(e.attrs['segments'][0]).shape == (256, 256) and e.attrs['sizes'] == [(320, 320)]
    np.testing.assert_allclose(fastai_featimp.attribution_map(e, 0).sum(), e['Contribution'].sum(), rtol=1e-9)
    assert tuple(_marker_row(e, 0, tuple(10 * v for v in marker_box(32)))[['Top', 'Left', 'Bottom', 'Right']]) == \
        tuple(10 * v for v in marker_box(32))
    ev = learn.evaluate_explanation(e, [str(big)], n_random=2, seed=0, show_progress=False)
    assert len(ev) and ev['Explanation'].notna().all()
    images = [path, str(wide)]
    ci = fastai_featimp.captum_inputs(learn, images, superpixels=20, mask=(0, 0, 0))
    attr = FeatureAblation(ci.forward_func).attribute(ci.inputs, baselines=ci.baselines, feature_mask=ci.feature_mask,
                                                      target=ci.target)
    theirs = ci.to_frame(attr)
    mine = learn.explain(images, method='occlusion', superpixels=20, mask=(0, 0, 0), show_progress=False)
    assert mine.groupby('row').size().nunique() == 2          # the two images have different counts
    assert list(theirs['Variable']) == list(mine['Variable'])
    np.testing.assert_allclose(theirs['Contribution'], mine['Contribution'], atol=1e-5)


def test_kept_arrays_compare_element_by_element_with_anything_else(marked):
    learn, test = marked
    e = learn.explain(list(test['path'][:1]), method='occlusion', superpixels=20, show_progress=False)
    seg = e.attrs['segments'][0]
    assert (seg == 3).sum() == (np.asarray(seg) == 3).sum() > 0 and (seg != 3).sum() == seg.size - (seg == 3).sum()
    assert seg == e.attrs['segments'][0] and not (seg != e.attrs['segments'][0])   # whole, against a Kept
