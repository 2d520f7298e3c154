"""The image kind on images with a known answer (a magenta marker in the top-left corner that the label correlates
with): ground truth, references (exact Shapley by enumeration, captum's FeatureAblation, pytorch-grad-cam), coordinates
in the image's own pixels, the learner left as it was, and clear errors."""
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

import fastai_featimp
from fastai_featimp.core.params import ParameterError
from fastai_featimp.datasets.marked import marker_box
from helpers import assert_call_leaves_everything

MARKER = 'r0c0'   # the marker's region in 2x2, 3x3 and 4x4 grids of a 32-pixel image


def preds(learn, items):
    "P(yes) from fastai's own get_preds."
    with learn.no_bar(), warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return learn.get_preds(dl=learn.dls.test_dl(items))[0][:, 1].numpy()


def top_region(expl):
    return expl.loc[expl.groupby('row')['Contribution'].idxmax(), 'Variable'].to_numpy()


def no_hooks(model):
    return all(not m._forward_hooks and not m._forward_pre_hooks and not m._backward_hooks for m in model.modules())


@pytest.fixture(scope='module')
def positives(marked):
    "The first 20 held-out marked images the model calls positive."
    learn, test = marked
    p = preds(learn, list(test['path']))
    chosen = test[test['has_marker'].to_numpy() & (p > 0.5)]
    assert len(chosen) >= 20
    return chosen.head(20)


def test_every_input_form_gives_the_outputs_of_get_preds(marked):
    learn, test = marked
    paths = list(test['path'][:6])
    expected = preds(learn, paths)
    arrays = [np.asarray(Image.open(p).convert('RGB')) for p in paths]
    forms = [paths, test.head(6), [Image.open(p) for p in paths], arrays, learn.dls.test_dl(paths)]
    for form in forms:
        e = learn.explain(form, method='occlusion', show_progress=False)
        assert e.attrs['kind'] == 'vision' and e.attrs['targets'] == ['yes'] * 6
        np.testing.assert_allclose(e.attrs['outputs'], expected, atol=1e-6)
    one = learn.explain(paths[0], method='occlusion', show_progress=False)   # one path alone
    assert one['row'].nunique() == 1 and list(one.columns) == ['row', 'Variable', 'Top', 'Left', 'Bottom', 'Right',
                                                               'Contribution', 'Std']


@pytest.mark.parametrize('method', ['occlusion', 'shapley'])
def test_the_marker_is_the_strongest_region(marked, positives, method):
    learn, _ = marked
    e = learn.explain(list(positives['path']), method=method, seed=0, show_progress=False)
    assert (top_region(e) == MARKER).mean() >= 0.9
    if method == 'shapley':   # adds up: base + sum = output, and the output is get_preds'
        total = e.groupby('row')['Contribution'].sum().to_numpy() + np.array(e.attrs['base_values'])
        np.testing.assert_allclose(total, e.attrs['outputs'], atol=1e-9)
        np.testing.assert_allclose(e.attrs['outputs'], preds(learn, list(positives['path'])), atol=1e-6)
    # a neutral region (top-right corner, never touched by the disk) moves predictions far less
    by = e.pivot(index='row', columns='Variable', values='Contribution')
    assert by[MARKER].abs().mean() > 5 * by['r0c3'].abs().mean()


def _exact_reference(learn, path, grid, colour):
    "Exact Shapley values by enumerating every coalition, masking after Normalize on fastai's own batch."
    from fastai_featimp.core.shapley import all_coalitions, shapley_from_values
    xb = learn.dls.test_dl([path]).one_batch()[0].as_subclass(torch.Tensor)
    norm = next(f for f in learn.dls.after_batch.fs if type(f).__name__ == 'Normalize')
    fill = ((torch.tensor(colour, dtype=torch.float32) / 255).view(1, 3, 1, 1) - norm.mean.cpu()) / norm.std.cpu()
    bounds = np.round(np.linspace(0, 32, grid + 1))   # the grid's boundaries in the 32 pixels
    band = torch.from_numpy(np.searchsorted(bounds, np.arange(32) + 0.5) - 1)
    region = band[:, None] * grid + band[None, :]
    coalitions = all_coalitions(grid * grid)
    images = torch.where(coalitions[:, region][:, None], xb, fill)
    with torch.no_grad():
        learn.model.eval()
        values = torch.softmax(learn.model(images), 1)[:, 1].double().numpy()
    return shapley_from_values(values, grid * grid)


@pytest.mark.parametrize('grid', [2, 3])
def test_shapley_on_small_grids_is_exact(marked, grid):
    learn, test = marked
    path = test['path'].iloc[0]
    e = learn.explain([path], method='shapley', grid=grid, mask=(0, 0, 0), show_progress=False)
    assert e.attrs['exact'] == [True]
    np.testing.assert_allclose(e['Contribution'].to_numpy(), _exact_reference(learn, path, grid, (0, 0, 0)), atol=1e-6)
    assert (e['Std'] == 0).all()


def test_a_3x3_grid_is_exact_within_the_default_budget(marked):
    learn, test = marked
    e = learn.explain(list(test['path'][:2]), method='shapley', grid=3, show_progress=False)
    assert e.attrs['exact'] == [True, True] and (e['Std'] == 0).all()
    total = e.groupby('row')['Contribution'].sum().to_numpy() + np.array(e.attrs['base_values'])
    np.testing.assert_allclose(total, e.attrs['outputs'], atol=1e-9)


def test_occlusion_equals_captum_feature_ablation(marked):
    from captum.attr import FeatureAblation
    learn, test = marked
    paths = list(test['path'][:3])
    e = learn.explain(paths, method='occlusion', mask=(0, 0, 0), show_progress=False)
    xb = learn.dls.test_dl(paths).one_batch()[0].as_subclass(torch.Tensor)
    norm = next(f for f in learn.dls.after_batch.fs if type(f).__name__ == 'Normalize')
    baseline = ((torch.zeros(1, 3, 1, 1) - norm.mean.cpu()) / norm.std.cpu()).expand_as(xb).contiguous()
    region = (torch.arange(32)[:, None] // 8) * 4 + torch.arange(32)[None, :] // 8
    learn.model.eval()
    forward = lambda x: torch.softmax(learn.model(x), 1)
    attr = FeatureAblation(forward).attribute(xb, baselines=baseline, target=1,
                                              feature_mask=region[None, None].expand(len(paths), 3, 32, 32))
    ref = np.stack([[float(attr[i, 0][region == r][0]) for r in range(16)] for i in range(len(paths))])
    np.testing.assert_allclose(e['Contribution'].to_numpy().reshape(len(paths), 16), ref, atol=1e-5)


def test_captum_inputs_give_occlusion_through_captum(marked):
    from captum.attr import FeatureAblation
    learn, test = marked
    paths = list(test['path'][:3])
    for mask in ['blur', (0, 0, 0)]:
        ci = fastai_featimp.captum_inputs(learn, paths, mask=mask)
        assert ci.inputs[0].shape == (3, 3, 32, 32) and ci.feature_mask[0].shape == (3, 1, 32, 32)
        attr = FeatureAblation(ci.forward_func).attribute(ci.inputs, baselines=ci.baselines,
                                                          feature_mask=ci.feature_mask, target=ci.target)
        theirs = ci.to_frame(attr)
        e = learn.explain(paths, method='occlusion', mask=mask, show_progress=False)
        np.testing.assert_allclose(theirs['Contribution'], e['Contribution'], atol=1e-5)
        assert theirs[['Variable', 'Top', 'Left', 'Bottom', 'Right']].equals(e[['Variable', 'Top', 'Left', 'Bottom', 'Right']])
        np.testing.assert_allclose(theirs.attrs['base_values'], e.attrs['base_values'], atol=1e-6)


def test_gradcam_equals_pytorch_grad_cam_on_a_resnet_body(marked):
    import os
    saved = os.environ.get('LD_LIBRARY_PATH')
    pytest.importorskip('pytorch_grad_cam')
    import cv2   # OpenCV sets LD_LIBRARY_PATH on import: put it back (later subprocesses inherit the environment)
    if saved is None: os.environ.pop('LD_LIBRARY_PATH', None)
    else: os.environ['LD_LIBRARY_PATH'] = saved
    from fastai.vision.all import resnet18, vision_learner
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
    learn, test = marked
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        resnet = vision_learner(learn.dls, resnet18, pretrained=False)
    paths = list(test['path'][:4])
    e = assert_call_leaves_everything(resnet, lambda: resnet.explain(paths, method='gradcam', output='raw',
                                                                     show_progress=False))
    # the last block with more than one pixel: at 32 pixels resnet's layer4 is 1 x 1, so its layer3
    assert e.attrs['layer'] == '0.6' and no_hooks(resnet.model)
    xb = resnet.dls.test_dl(paths).one_batch()[0].as_subclass(torch.Tensor)
    with GradCAM(model=resnet.model.eval(), target_layers=[resnet.model[0][6]]) as cam:
        theirs = cam(input_tensor=xb, targets=[ClassifierOutputTarget(1)] * len(paths))
    for mine, ref in zip(e.attrs['cams'], theirs):   # their post-processing: min-max scaled, resized with OpenCV
        scaled = (mine - mine.min()) / (1e-7 + (mine - mine.min()).max())
        np.testing.assert_allclose(cv2.resize(scaled.astype(np.float32), (32, 32)), ref, atol=1e-4)
    resnet.model.train()


def test_gradcam_finds_the_marker_in_the_small_cnn_and_leaves_no_hook(marked, positives):
    learn, _ = marked
    e = learn.explain(list(positives['path']), method='gradcam', show_progress=False)
    assert e.attrs['layer'] == '10'   # the last ReLU before global pooling
    assert (top_region(e) == MARKER).mean() >= 0.9 and no_hooks(learn.model)
    bad = learn.model[-1]   # a Linear layer: no spatial activation, an error raised after its hook was attached
    assert_call_leaves_everything(learn, lambda: learn.explain(list(positives['path'][:2]), method='gradcam', layer=bad,
                                                               show_progress=False), raises=ParameterError, match='layer')
    assert no_hooks(learn.model)


def test_maps_are_in_each_images_own_pixels(marked, tmp_path):
    learn, test = marked
    path = test[test['has_marker']]['path'].iloc[0]
    big = tmp_path / 'big.png'
    Image.open(path).resize((64, 64), Image.NEAREST).save(big)
    e = learn.explain([path, str(big)], method='occlusion', show_progress=False)
    assert e.attrs['sizes'] == [(32, 32), (64, 64)]
    small_box = e[(e['row'] == 0) & (e['Variable'] == MARKER)][['Top', 'Left', 'Bottom', 'Right']].to_numpy()
    big_box = e[(e['row'] == 1) & (e['Variable'] == MARKER)][['Top', 'Left', 'Bottom', 'Right']].to_numpy()
    assert small_box.tolist() == [[0, 0, 8, 8]] and big_box.tolist() == [[0, 0, 16, 16]]
    for row, side in [(0, 32), (1, 64)]:
        m = fastai_featimp.attribution_map(e, row)
        assert m.shape == (side, side)
        np.testing.assert_allclose(m.sum(), e[e['row'] == row]['Contribution'].sum(), rtol=1e-9)
        t, l, b, r = (v * side // 32 for v in marker_box(32))
        peak = np.unravel_index(np.argmax(m), m.shape)
        assert peak[0] < side // 4 and peak[1] < side // 4   # the marker's quarter, in this image's own pixels


@pytest.mark.parametrize('method,visible,columns', [
    ('crop', (0, 8, 32, 40), [8, 16, 24, 32, 40]),      # the centre 32 of 48 columns
    ('pad', (0, 0, 32, 48), [0, 12, 24, 36, 48]),       # all of it: 48 x 32 padded to 48 x 48, then 32
    ('squish', (0, 0, 32, 48), [0, 12, 24, 36, 48]),
])
def test_resize_methods_map_regions_back(marked, tmp_path, method, visible, columns):
    from fastai.vision.all import ImageDataLoaders, Learner, Normalize, Resize, imagenet_stats
    learn, test = marked
    wide = np.concatenate([np.asarray(Image.open(p)) for p in test['path'][:2]], axis=1)[:, :48]   # 32 x 48
    Image.fromarray(wide).save(tmp_path / 'wide.png')
    frame = pd.DataFrame({'path': ['wide.png'] * 4, 'label': ['no', 'yes'] * 2})
    dls = ImageDataLoaders.from_df(frame, path=tmp_path, fn_col='path', label_col='label', valid_pct=0.5, seed=0,
                                   item_tfms=Resize(32, method=method), batch_tfms=Normalize.from_stats(*imagenet_stats),
                                   num_workers=0, bs=2)
    other = Learner(dls, learn.model)
    e = other.explain([str(tmp_path / 'wide.png')], method='occlusion', show_progress=False)
    assert e.attrs['visible'] == [tuple(float(v) for v in visible)]
    assert sorted(set(e['Left']) | set(e['Right'])) == columns
    np.testing.assert_allclose(e.attrs['outputs'], preds(other, [str(tmp_path / 'wide.png')]), atol=1e-6)
    m = fastai_featimp.attribution_map(e, 0)
    assert m.shape == (32, 48)
    np.testing.assert_allclose(m.sum(), e['Contribution'].sum(), rtol=1e-9)
    if method == 'crop': assert (m[:, :8] == 0).all() and (m[:, 40:] == 0).all()   # never seen by the model


def test_null_regions_are_exactly_zero(marked, tmp_path):
    learn, test = marked
    img = np.asarray(Image.open(test['path'].iloc[0])).copy()
    img[16:, 16:] = 0                                       # the bottom-right quarter already black
    e = learn.explain([img], method='shapley', grid=2, mask=(0, 0, 0), show_progress=False)
    assert e.loc[e['Variable'] == 'r1c1', 'Contribution'].tolist() == [0.0] and e.attrs['null'] == [['r1c1']]
    o = learn.explain([img], method='occlusion', grid=2, mask=(0, 0, 0), show_progress=False)
    assert o.loc[o['Variable'] == 'r1c1', 'Contribution'].tolist() == [0.0]


def test_a_seed_gives_identical_results_and_the_learner_is_untouched(marked):
    learn, test = marked
    paths = list(test['path'][:2])
    call = lambda: learn.explain(paths, method='shapley', max_evals=100, seed=3, show_progress=False)
    a = assert_call_leaves_everything(learn, call, test)
    pd.testing.assert_frame_equal(a, call())
    assert a.attrs['exact'] == [False, False] and (a['Std'] > 0).any() and no_hooks(learn.model)


def test_bad_inputs_are_named(marked, tmp_path):
    learn, test = marked
    (tmp_path / 'notes.txt').write_text('not an image')
    gray = Image.open(test['path'].iloc[0]).convert('L')
    cases = [(dict(images=[str(tmp_path / 'notes.txt')]), 'images', 'cannot be read as an image'),
             (dict(images=[str(tmp_path / 'missing.png')]), 'images', 'no file'),
             (dict(images=[gray]), 'images', "'L' image but this model reads 'RGB'"),
             (dict(images=[test['path'].iloc[0]], grid=40), 'grid', 'finer'),
             (dict(images=[test['path'].iloc[0]], grid=(2,)), 'grid', 'rows, columns'),
             (dict(images=[test['path'].iloc[0]], mask=(1, 2)), 'mask', '3 value'),
             (dict(images=[test['path'].iloc[0]], method='occlusion', max_evals=5), 'max_evals', 'budget'),
             (dict(images=[test['path'].iloc[0]], layer='nope', method='gradcam'), 'layer', 'module')]
    for kwargs, name, match in cases:
        with pytest.raises(ParameterError, match=match) as info:
            assert_call_leaves_everything(learn, lambda: learn.explain(**kwargs, show_progress=False))
        assert info.value.name == name


def test_integrated_gradients_complete_and_equal_captum(marked, positives):
    from captum.attr import IntegratedGradients
    learn, _ = marked
    paths = list(positives['path'][:3])
    e = learn.explain(paths, method='integrated_gradients', n_steps=64, show_progress=False)
    # completeness: the regions' attributions add up to output - base, up to the integral's discretisation
    assert np.abs(e.attrs['completeness_error']).max() < 0.02
    assert (top_region(e) == MARKER).mean() >= 2 / 3
    ci = fastai_featimp.captum_inputs(learn, paths)   # the same baseline, after Normalize: IG is the same integral
    attr = IntegratedGradients(ci.forward_func).attribute(ci.inputs, baselines=ci.baselines, target=ci.target,
                                                          n_steps=64, method='riemann_middle')
    np.testing.assert_allclose(ci.to_frame(attr, reduce='sum')['Contribution'], e['Contribution'], atol=1e-4)


def test_no_hook_is_left_after_ctrl_c(marked, monkeypatch):
    learn, test = marked
    def interrupted(*args, **kwargs): raise KeyboardInterrupt
    monkeypatch.setattr(torch.autograd, 'grad', interrupted)   # Ctrl-C while the hook is attached
    modes = [m.training for m in learn.model.modules()]
    for method in ['gradcam', 'integrated_gradients']:
        with pytest.raises(KeyboardInterrupt):
            learn.explain(list(test['path'][:2]), method=method, show_progress=False)
        assert no_hooks(learn.model) and [m.training for m in learn.model.modules()] == modes
