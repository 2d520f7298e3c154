"Plots are drawn from results, return their Axes, and save from a headless script."
import os
import subprocess
import sys

import matplotlib
import pytest

matplotlib.use('Agg')
import matplotlib.pyplot as plt

import fastai_featimp


@pytest.fixture(scope='module')
def fi(binary_learner, binary_test):
    return binary_learner.feature_importance(df=binary_test, n_repeats=3, seed=0, show_progress=False,
                                             groups={'pair': ['noise', 'noise_cat']})


def test_bars_in_importance_order_with_intervals(fi):
    ax = fastai_featimp.plot_importance(fi, top=3)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == list(fi['Variable'][:3])[::-1]   # most important at the top
    widths = [p.get_width() for p in ax.patches]
    assert widths == pytest.approx(list(fi['Importance'][:3])[::-1])
    assert 'loss' in ax.get_xlabel() and '95% CI' in ax.get_xlabel()
    assert ax.lines or ax.collections   # the zero line and the error bars
    plt.close(ax.figure)


def test_colours_by_type_and_uses_given_axes(fi):
    fig, ax = plt.subplots()
    out = fastai_featimp.plot_importance(fi, ax=ax, top=None)
    assert out is ax
    colours = {tuple(p.get_facecolor()) for p in ax.patches}
    assert len(colours) == 3   # categorical, continuous, group
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ['categorical', 'continuous', 'group']
    plt.close(fig)


def test_method_computes_when_no_result_given(binary_learner, binary_test):
    ax = binary_learner.plot_feature_importance(df=binary_test, n_repeats=1, seed=0, show_progress=False, top=2)
    assert len(ax.patches) == 2
    plt.close(ax.figure)
    fi = binary_learner.feature_importance(df=binary_test, n_repeats=1, show_progress=False)
    with pytest.raises(TypeError, match='only when fi is None'):
        binary_learner.plot_feature_importance(fi, n_repeats=3)


def test_dict_of_results_gets_a_helpful_error(binary_learner, binary_test):
    res = binary_learner.feature_importance(df=binary_test, metric=['loss', 'accuracy'], n_repeats=1,
                                            show_progress=False)
    with pytest.raises(TypeError, match=r"plot_importance\(fi\['loss'\]\)"):
        fastai_featimp.plot_importance(res)


@pytest.mark.slow
def test_saves_from_a_headless_script(tmp_path):
    script = f"""
import numpy as np, pandas as pd
import fastai_featimp
fi = pd.DataFrame(dict(Variable=['a', 'b'], Type=['continuous', 'categorical'], Importance=[0.3, 0.1],
                       Std=[0.01, 0.02], CI_low=[0.28, 0.07], CI_high=[0.32, 0.13], p_value=[0.0, 0.01]))
fi.attrs.update(metric='loss', greater_is_better=False)
fastai_featimp.plot_importance(fi).figure.savefig({str(tmp_path / 'fi.png')!r})
"""
    env = {k: v for k, v in os.environ.items() if k not in ('DISPLAY', 'MPLBACKEND')}   # as a headless script
    subprocess.run([sys.executable, '-c', script], check=True, env=env, timeout=120)
    assert (tmp_path / 'fi.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
