"""The image kind over a labelled set: the marker's region first in the importance ranking (with intervals), the
images that rest on the marker found by reliance, and the pictures."""
import numpy as np
import pytest

from fastai_featimp.core.params import ParameterError
from fastai_featimp.datasets.marked import marker_box
from helpers import assert_call_leaves_everything

NEUTRAL = (2, 25, 7, 30)   # the top-right corner: never marker nor disk


def test_the_marker_region_is_first_in_the_ranking(marked):
    learn, test = marked
    fi = assert_call_leaves_everything(learn, lambda: learn.feature_importance(df=test[['path', 'label']], n_bootstrap=50,
                                                                               seed=0, show_progress=False), test)
    assert fi['Variable'].iloc[0] == 'r0c0' and fi['CI_low'].iloc[0] > 0 and fi['p_value'].iloc[0] < 0.05
    assert fi.loc[0, ['Top', 'Left', 'Bottom', 'Right']].tolist() == [0, 0, 8, 8]
    assert fi['MeanDelta'].iloc[0] > 0 and fi.attrs['kind'] == 'vision' and len(fi) == 16
    assert (fi['CI_low'] <= fi['Importance']).all() and (fi['Importance'] <= fi['CI_high']).all()
    # the same from a labelled test_dl, and the same seed gives the same table
    import os   # fastai's own reader prefixes the training folder: paths relative to it
    relative = test[['path', 'label']].assign(path=[os.path.relpath(p, learn.dls.path) for p in test['path']])
    again = learn.feature_importance(learn.dls.test_dl(relative, with_labels=True), n_bootstrap=50,
                                     seed=0, show_progress=False)
    np.testing.assert_allclose(again.set_index('Variable').loc[fi['Variable'], 'Importance'], fi['Importance'], atol=1e-6)


def test_reliance_on_the_marker(marked):
    learn, test = marked
    rel = learn.reliance(test, flagged=[marker_box(32)], show_progress=False)
    assert list(rel.columns[:7]) == ['row', 'Prediction', 'Without', 'Change', 'Predicted', 'PredictedWithout', 'Flipped']
    marked_yes = (test['has_marker'] & (rel['Prediction'] > 0.5)).to_numpy()
    assert rel.loc[marked_yes, 'Relies'].mean() >= 0.9 and (rel.loc[marked_yes, 'Change'] > 0).all()
    assert rel.attrs['kind'] == 'vision' and 'score_without' in rel.attrs['summary']
    neutral = learn.reliance(test, flagged=[NEUTRAL], show_progress=False)
    assert neutral['Change'].abs().mean() < rel['Change'].abs().mean() / 5
    # the same pixels as a boolean mask
    mask = np.zeros((32, 32), bool); t, l, b, r = marker_box(32); mask[t:b, l:r] = True
    np.testing.assert_allclose(learn.reliance(test, flagged=mask, show_progress=False)['Without'], rel['Without'])


def test_reliance_errors_are_named(marked):
    learn, test = marked
    for flagged, match in [([(0, 0, 40, 8)], 'reaches outside image 0'), ([(5, 5, 5, 9)], 'empty'),
                           ('corner', 'boxes'), (np.zeros((8, 8), bool), 'mask in flagged is 8 x 8')]:
        with pytest.raises(ParameterError, match=match) as info:
            assert_call_leaves_everything(learn, lambda: learn.reliance(test.head(3), flagged=flagged,
                                                                        show_progress=False))
        assert info.value.name == 'flagged'
    with pytest.raises(ParameterError, match='label column') as info:
        learn.feature_importance(df=test[['path']], show_progress=False)
    assert info.value.name == 'label_col'


def test_the_picture(marked, tmp_path):
    import matplotlib.pyplot as plt
    learn, test = marked
    e = learn.explain(list(test[test['has_marker']]['path'][:2]), method='occlusion', show_progress=False)
    ax = learn.plot_explanation(e, 0)
    assert [p.get_gid() for p in ax.patches] == ['featimp-top'] * 3
    assert ax.images[1].get_array().shape == (32, 32) and ax.images[1].norm.vmin == -ax.images[1].norm.vmax
    assert 'r0c0' in ' '.join(t.get_text() for t in ax.texts)
    for dpi in (60, 150): ax.figure.savefig(tmp_path / f'expl_{dpi}.png', dpi=dpi)
    plt.close('all')
    from fastai_featimp import image_explanation_html
    page = image_explanation_html(e, 1)
    assert page.startswith('<figure') and 'data:image/png;base64,' in page and 'r0c0' in page


def test_evaluate_compare_and_sanity_check(marked):
    learn, test = marked
    paths = list(test[test['has_marker']]['path'][:4])
    e = learn.explain(paths, method='occlusion', show_progress=False)
    ev = assert_call_leaves_everything(learn, lambda: learn.evaluate_explanation(e, paths, n_random=10, seed=0,
                                                                                 show_progress=False))
    overall = ev[ev['row'] == 'all'].set_index('Metric')
    # removing the regions in the explanation's order lowers P(yes) faster than random orders and the reverse
    assert overall.loc['deletion_aopc', 'Explanation'] > overall.loc['deletion_aopc', 'Random'] > \
        overall.loc['deletion_aopc', 'Reverse']
    with pytest.raises(ParameterError, match='not the image explained|on other images') as info:
        learn.evaluate_explanation(e, paths[::-1], show_progress=False)
    assert info.value.name == 'data'
    table = learn.compare_explanations(paths[:2], n_random=5, seed=0)
    assert list(table['Method']) == ['shapley', 'occlusion', 'integrated_gradients', 'gradcam'] and (table['Status'] == 'ok').all()
    sc = learn.sanity_check(paths[:3], method='occlusion', seed=0)
    assert sc['RankCorrelation'].iloc[-1] < 0.9   # the fully randomised model explains differently


def test_explain_with_the_marker_flagged_draws_its_box_and_the_banner(marked):
    "The image form of the clinician's view: the marker's box on the picture, and a banner saying to discount it."
    learn, test = marked
    rows = test[test['has_marker']].head(6)
    e = learn.explain(list(rows['path']), method='occlusion', flagged=[marker_box(32)], show_progress=False)
    rel = learn.reliance(list(rows['path']), flagged=[marker_box(32)], show_progress=False)
    # the explanation's check is reliance's own answer, and the flagged regions are the ones the box covers
    assert [r['Relies'] for r in e.attrs['reliance']] == rel['Relies'].tolist()
    np.testing.assert_allclose([r['Without'] for r in e.attrs['reliance']], rel['Without'], atol=1e-6)
    assert set(e.loc[e['Flagged'], 'Variable']) == {'r0c0'} and e.attrs['flagged'] == [list(marker_box(32))]
    relies = [i for i, r in enumerate(e.attrs['reliance']) if r['Relies']]
    assert relies, "the marked images the model calls positive rest on the marker"
    ax = learn.plot_explanation(e, relies[0])
    boxes = [p for p in ax.patches if p.get_gid() == 'featimp-flagged']
    assert len(boxes) == 1 and (boxes[0].get_x(), boxes[0].get_y(), boxes[0].get_width()) == (2, 2, 5)
    assert 'discount this prediction' in ax.get_title()
    import matplotlib.pyplot as plt
    plt.close(ax.figure)
    from fastai_featimp import image_explanation_html
    page = image_explanation_html(e, relies[0])
    assert 'class="featimp-banner"' in page and 'Discount this prediction.' in page and 'box (2, 2, 7, 7)' in page


def test_to_shap_of_images_adds_up_and_draws(marked):
    shap = pytest.importorskip('shap')
    import fastai_featimp
    learn, test = marked
    e = learn.explain(list(test['path'][:3]), method='occlusion', show_progress=False)
    s = fastai_featimp.to_shap(e)
    assert s.values.shape == (3, 32, 32, 3) and s.data.shape == (3, 32, 32, 3) and s.data.dtype == np.uint8
    np.testing.assert_allclose(s.values.sum((1, 2, 3)), e.groupby('row')['Contribution'].sum().to_numpy(), atol=1e-9)
    import matplotlib
    matplotlib.use('Agg')
    shap.image_plot(s, show=False)   # shap's own image plot draws it
    import matplotlib.pyplot as plt
    assert plt.gcf().axes
    plt.close('all')


def test_the_ranking_is_drawn_over_the_mean_image_and_several_images_share_one_scale(marked):
    import matplotlib.pyplot as plt
    learn, test = marked
    fi = learn.feature_importance(df=test[['path', 'label']], n_bootstrap=0, seed=0, show_progress=False)
    assert np.asarray(fi.attrs['mean_image']).shape == (32, 32, 3) and tuple(fi.attrs['image_size']) == (32, 32)
    for dpi in (72, 200):
        ax = learn.plot_feature_importance(fi)
        fig = ax.figure
        ax_map = [a for a in fig.axes if a is not ax][0]
        regions = [p for p in ax_map.patches if p.get_gid() == 'featimp-region']
        assert len(regions) == 16
        first = [t for t in ax_map.texts if t.get_gid() == 'featimp-rank' and t.get_text() == '1'][0]
        assert first.get_position() == (0.5, 0.5)   # rank 1 written in the marker's corner, r0c0
        assert ax.get_yticklabels()[-1].get_text() == 'r0c0'   # and on top of the bars
        fig.savefig(__import__('io').BytesIO(), format='png', dpi=dpi)
        plt.close(fig)
    e = learn.explain(list(test['path'][:4]), method='occlusion', show_progress=False)
    fig = learn.plot_explanation(e, row=[0, 1, 2, 3])
    maps = [a.images[-1] for a in fig.axes if len(a.images) == 2]
    assert len(maps) == 4 and len({m.norm.vmax for m in maps}) == 1   # one scale for all four
    assert sum(1 for a in fig.axes if not a.images) >= 1                # and one colour bar
    plt.close(fig)


@pytest.mark.slow
def test_the_training_callback_watches_the_model_learn_the_marker(marked, tmp_path):
    "Region importance epoch by epoch: the marker's corner leads the held-out importance and the report names it."
    from fastai.vision.all import ImageDataLoaders, Learner, Normalize, Resize, accuracy, imagenet_stats, set_seed
    from fastai_featimp import ImportanceCallback
    from fastai_featimp.datasets import marked_images
    from helpers import SmallCNN
    _, test = marked
    train = marked_images(600, 3, 32, path=tmp_path)
    set_seed(0, reproducible=True)
    dls = ImageDataLoaders.from_df(train.drop(columns='image'), path=tmp_path, fn_col='path', label_col='label',
                                   valid_pct=0.2, seed=0, item_tfms=Resize(32),
                                   batch_tfms=Normalize.from_stats(*imagenet_stats), bs=64, num_workers=0)
    learn = Learner(dls, SmallCNN(), metrics=accuracy)
    cb = ImportanceCallback(df=test[['path', 'label']], max_rows=100, train_rows=100, seed=0)
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(4, 1e-2, cbs=cb)
    h = cb.history
    assert set(h['split']) == {'valid', 'train'} and h['epoch'].nunique() == 4 and h['Variable'].nunique() == 16
    last = h[(h['epoch'] == h['epoch'].max()) & (h['split'] == 'valid')].set_index('Variable')['Importance']
    assert last.idxmax() == 'r0c0' and last['r0c0'] > 5 * last.drop('r0c0').abs().max()
    assert h[h['Variable'] == 'r0c0']['Type'].iloc[0] == 'region'
    assert any('r0c0' in s for s in cb.report().sentences)
