"""Plots say what they show: bar lengths, interval whiskers and labels from the result, regression outputs named
as the target, categorical levels in vocabulary order and readable, legends off the data."""
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from fastai.tabular.all import RegressionBlock

import fastai_featimp
from helpers import train

Q = dict(show_progress=False)


def test_importance_bars_whiskers_and_subtitle(binary_learner, binary_test):
    fi = binary_learner.feature_importance(df=binary_test, n_repeats=4, seed=0, **Q)
    ax = fastai_featimp.plot_importance(fi, top=4)
    shown = fi.head(4)[::-1]
    assert [t.get_text() for t in ax.get_yticklabels()] == list(shown['Variable'])
    bars = sorted(ax.patches, key=lambda p: p.get_y())
    assert [b.get_width() for b in bars] == pytest.approx(list(shown['Importance']))
    # the whiskers run from CI_low to CI_high
    segments = [seg for c in ax.collections for seg in c.get_segments()]
    spans = sorted((float(s[:, 0].min()), float(s[:, 0].max())) for s in segments if np.ptp(s[:, 0]) > 0)
    expected = sorted(zip(shown['CI_low'], shown['CI_high']))
    # flat lists: pytest.approx compares numbers and flat sequences only (nested ones raise since pytest 9.2)
    assert np.ravel(spans).tolist() == pytest.approx(np.ravel(expected).tolist(), rel=1e-6)
    title = ax.get_title()
    assert 'loss' in title and f"baseline {fi.attrs['baseline']:.4g}" in title and '4 repeats' in title
    plt.close(ax.figure)


@pytest.fixture(scope='module')
def many_levels():
    "A regression on a 30-level categorical whose effect rises with the level number, and a continuous column."
    rng = np.random.default_rng(0)
    n = 3000
    k = rng.integers(0, 30, n)
    df = pd.DataFrame({'shop': [f's{i:02d}' for i in k], 'x': rng.normal(size=n)})
    df['logp'] = 0.1 * k + df['x'] + 0.1 * rng.normal(size=n)
    return train(df, 'logp', ['shop'], ['x'], epochs=3, y_block=RegressionBlock()), df


def test_regression_outputs_are_labelled_as_the_target(many_levels):
    learn, df = many_levels
    ax = learn.plot_partial_dependence('x', df, **Q)
    assert ax.get_ylabel() == 'partial dependence of logp' and 'P(' not in ax.get_ylabel()
    plt.close(ax.figure)
    e = learn.explain(df.iloc[:3], n_background=20, seed=0, **Q)
    ax = learn.plot_explanation(e, row=0)
    assert ax.get_xlabel().startswith('logp: base') and 'P(' not in ax.get_xlabel()
    plt.close(ax.figure)


def test_categorical_levels_in_vocabulary_order_and_readable(many_levels):
    learn, df = many_levels
    res = learn.partial_dependence('shop', df, kind='both', **Q)
    assert res.grid_values[0] == [f's{i:02d}' for i in range(30)]   # no '#na#': it never occurred in training
    ax = res.plot()
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == res.grid_values[0]                           # 30 levels: horizontal bars, top to bottom
    widths = [p.get_width() for p in sorted(ax.patches, key=lambda p: p.get_y())]
    np.testing.assert_allclose(widths, res.average, rtol=1e-6)
    assert ax.figure.get_size_inches()[1] >= 0.2 * 30
    legend = ax.get_legend()
    ax.figure.canvas.draw()
    box, axes_box = legend.get_window_extent(), ax.get_window_extent()
    assert box.x0 >= axes_box.x1 - 1   # the legend sits right of the data, not over it
    plt.close(ax.figure)
    by_value = res.plot(sort='value')
    heights = [p.get_width() for p in sorted(by_value.patches, key=lambda p: p.get_y())]
    assert heights == sorted(heights, reverse=True)
    plt.close(by_value.figure)


def test_few_levels_are_vertical_bars(binary_learner, binary_test):
    ax = binary_learner.partial_dependence('level', binary_test, **Q).plot()
    assert [t.get_text() for t in ax.get_xticklabels()] == ['a', 'b', 'c']
    plt.close(ax.figure)


def test_beeswarm_colours_categories_grey(binary_learner, binary_test):
    e = binary_learner.explain(binary_test.iloc[:15], n_background=15, seed=0, **Q)
    fig = binary_learner.plot_explanation_summary(e)
    dots = fig.axes[1]
    names = [t.get_text() for t in dots.get_yticklabels()] or [t.get_text() for t in fig.axes[0].get_yticklabels()]
    for name, coll in zip(names, dots.collections):
        colours = np.unique(np.round(coll.get_facecolors()[:, :3], 3), axis=0)
        if name in ('level', 'noise_cat', 'row_id'): assert len(colours) == 1 and np.allclose(colours[0], 0.498, atol=0.01)
        else: assert coll.get_array() is not None   # numbers: a low-to-high colour scale
    plt.close(fig)


def test_dendrogram_draws_merges_at_distance_zero():
    rng = np.random.default_rng(0)
    x = rng.normal(size=300)
    base = np.stack([x, x, rng.normal(size=300), rng.normal(size=300)], 1)
    names = ['a', 'a_copy', 'b', 'c']
    assoc = pd.DataFrame(np.abs(np.corrcoef(base.T)), index=names, columns=names)
    fig = fastai_featimp.plot_dependence(assoc)
    tree = fig.axes[0]
    left, right = tree.get_xlim()
    xs = np.concatenate([line.get_xdata() for line in tree.get_lines()] +
                        [seg[:, 0] for c in tree.collections for seg in c.get_segments()])
    assert xs.min() == 0 and right < 0 < left   # the merge at 0 lies inside the axes, not on its frame
    plt.close(fig)


def test_values_in_messages_and_attrs_are_plain_python(binary_learner, binary_test):
    fi = binary_learner.feature_importance(df=binary_test, n_repeats=2, seed=0, **Q)
    for v in fi.attrs.values():
        assert type(v).__module__ == 'builtins', (v, type(v))
    e = binary_learner.explain(binary_test.iloc[:2], n_background=10, seed=0, **Q)
    assert all(type(t).__module__ == 'builtins' for t in e.attrs['targets'])
