"""Figures as a new user meets them (issue 28): a flagged waterfall's title whole when saved as the README says and
worded as a check either way, value labels clear of the base and prediction lines, the deletion curves' axis and
legend saying what is drawn, ALE showing where the data are, PD with ICE naming its thin lines."""
import io

import matplotlib.pyplot as plt
import numpy as np
import pytest

import fastai_featimp
from helpers import BIN_CONT

Q = dict(show_progress=False)


@pytest.mark.parametrize('dpi', [72, 200])
def test_a_flagged_waterfall_title_is_whole_when_saved(binary_learner, binary_test, dpi):
    rows = binary_test.head(3)
    flag = BIN_CONT[0]
    expl = binary_learner.explain(rows, n_background=30, seed=0, flagged=[flag], **Q)
    for row, rel in enumerate(expl.attrs['reliance']):
        ax = binary_learner.plot_explanation(expl, row=row)
        ax.figure.savefig(io.BytesIO(), dpi=dpi)   # as the README says: the figure as it stands, no bbox_inches
        ax.figure.set_dpi(dpi); ax.figure.canvas.draw()   # the drawn extents at that dpi
        title = ax.title
        box, page = title.get_window_extent(ax.figure.canvas.get_renderer()), ax.figure.bbox
        assert page.x0 - 0.5 <= box.x0 and box.x1 <= page.x1 + 0.5 and box.y1 <= page.y1 + 0.5, (box, page)
        said = ' '.join(title.get_text().split())
        change = f"without the flagged {flag}, {rel['Prediction']:.3g} -> {rel['Without']:.3g}"
        assert change in said
        assert ('discount this prediction' in said) == rel['Relies']
        assert ('this prediction does not rest on them' in said) == (not rel['Relies'])
        plt.close(ax.figure)


def test_waterfall_value_labels_stay_clear_of_the_base_and_prediction_lines(binary_learner, binary_test):
    expl = binary_learner.explain(binary_test.head(12), n_background=30, seed=0, **Q)
    checked = 0
    for row in range(12):
        ax = binary_learner.plot_explanation(expl, row=row)
        fig = ax.figure
        for dpi in (72, 150):
            fig.set_dpi(dpi); fig.canvas.draw()
            r = fig.canvas.get_renderer()
            lines = [l for l in ax.lines if l.get_gid() in ('featimp-base', 'featimp-prediction')]
            xs = [ax.transData.transform((l.get_xdata()[0], 0))[0] for l in lines]
            for t in (t for t in ax.texts if t.get_gid() == 'featimp-value'):
                box = t.get_window_extent(r)
                crossing = [x for x in xs if box.x0 + 1 < x < box.x1 - 1]
                # a label may only sit on a line where it is drawn on white above it
                assert not crossing or (t.get_bbox_patch() is not None and t.get_zorder() > 2), (row, t.get_text())
                checked += 1
        plt.close(fig)
    assert checked > 50


@pytest.fixture(scope='module')
def evaluation(custom_text, notes):
    note = notes[1][notes[1]['has_family_visit']]['text'].iloc[0]
    expl = custom_text.explain(note, method='occlusion', **Q)
    return custom_text.evaluate_explanation(expl, n_random=5, seed=0, **Q)


def test_deletion_curves_name_what_is_drawn(evaluation):
    ax = fastai_featimp.plot_deletion_curves(evaluation)
    assert 'insertion' not in ax.get_xlabel() and 'removed' in ax.get_xlabel()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert 'random orders (deletion), mean' in labels and not any('insertion' in l for l in labels)
    mean_line = [l for l in ax.lines if l.get_label() == 'random orders (deletion), mean'][0]
    assert mean_line.get_color() == 'grey'
    plt.close(ax.figure)
    ax = fastai_featimp.plot_deletion_curves(evaluation, insertion=True)
    assert 'put back (insertion)' in ax.get_xlabel()
    assert 'random orders (insertion), mean' in [t.get_text() for t in ax.get_legend().get_texts()]
    plt.close(ax.figure)


@pytest.mark.parametrize('bad', ['yes', 1, None])
def test_deletion_curves_refuse_a_non_boolean_insertion_by_name(evaluation, bad):
    with pytest.raises(fastai_featimp.ParameterError, match=r'insertion must be True or False'):
        fastai_featimp.plot_deletion_curves(evaluation, insertion=bad)


def test_ale_shows_where_the_data_are(binary_learner, binary_test):
    """A continuous ALE marks its bins' edges on the curve and draws the data's deciles as a rug: the last bin (the
    top 5% of the rows, stretched over the tail) holds no tick, so its long segment reads as sparse, not as a trend;
    nothing claims the bins hold equal shares (with ties they do not)."""
    res = binary_learner.accumulated_local_effects('signal', binary_test, bins=20)
    ax = res.plot()
    rug = [l for l in ax.lines if l.get_gid() == 'featimp-deciles'][0]
    np.testing.assert_allclose(rug.get_xdata(), res.deciles['signal'])
    grid = res.grid_values[0]
    assert not ((rug.get_xdata() > grid[-2]) & (rug.get_xdata() < grid[-1])).any()
    assert grid[-1] - grid[-2] > 3 * np.median(np.diff(grid))   # the sparse last bin this is about
    curve = [l for l in ax.lines if l.get_gid() == 'featimp-curve'][0]
    np.testing.assert_allclose(curve.get_xdata(), grid)
    assert curve.get_marker() == 'o'
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert 'ALE (a dot at each bin edge)' in labels and 'deciles of the rows' in labels
    assert not any('%' in l for l in labels)
    plt.close(ax.figure)


def test_pd_with_ice_names_its_thin_lines(binary_learner, binary_test):
    res = binary_learner.partial_dependence('signal', binary_test.head(300), kind='both', grid_resolution=5, **Q)
    ax = res.plot(max_ice_lines=50)
    ice = [l for l in ax.lines if l.get_gid() == 'featimp-ice']
    assert len(ice) == 50
    legend = ax.get_legend()
    labels = [t.get_text() for t in legend.get_texts()]
    assert 'one row each (ICE, 50 of 300)' in labels and 'average' in labels
    handle = legend.legend_handles[labels.index('one row each (ICE, 50 of 300)')]
    assert ice[0].get_alpha() < 0.3 and handle.get_alpha() >= 0.5   # the lines faint, their legend entry seen
    plt.close(ax.figure)


def test_plot_reliance_refuses_an_empty_table_and_a_bad_decision(binary_learner, binary_test):
    rel = binary_learner.reliance(binary_test.head(40), [BIN_CONT[0]], n_background=20, seed=0, **Q)
    with pytest.raises(ValueError, match='no rows'):
        fastai_featimp.plot_reliance(rel.iloc[:0])
    with pytest.raises(fastai_featimp.ParameterError, match=r"decision must be a .*got 'a'"):
        fastai_featimp.plot_reliance(rel, decision='a')
    ax = fastai_featimp.plot_reliance(rel, decision=0.3)
    assert any(np.allclose(l.get_ydata(), 0.3) for l in ax.lines)
    plt.close(ax.figure)


@pytest.mark.parametrize('dpi', [72, 200])
def test_waterfall_value_labels_stay_inside_the_axes(binary_learner, binary_test, dpi):
    """A value label moved to a bar's left end never runs into the column names, nor past the frame on the right
    (the leftmost bar's end was the Axes' edge: bars' ends are sticky and the margin never opened there)."""
    expl = binary_learner.explain(binary_test.head(12), n_background=30, seed=0, **Q)
    moved = 0
    for row in range(12):
        ax = binary_learner.plot_explanation(expl, row=row)
        fig = ax.figure
        fig.set_dpi(dpi); fig.canvas.draw()
        r = fig.canvas.get_renderer()
        frame = ax.get_window_extent(r)
        names = [t.get_window_extent(r) for t in ax.get_yticklabels()]
        for t in (t for t in ax.texts if t.get_gid() == 'featimp-value'):
            box = t.get_window_extent(r)
            assert frame.x0 - 1 <= box.x0 and box.x1 <= frame.x1 + 1, (row, t.get_text(), box, frame)
            assert not any(box.overlaps(n) for n in names), (row, t.get_text())
            moved += t.get_ha() == 'right'
        plt.close(fig)
    assert moved   # some labels sat at a bar's left end: the case this is about


def test_a_waterfall_names_several_flagged_columns_and_keeps_the_change_whole(binary_learner, binary_test):
    expl = binary_learner.explain(binary_test.head(4), n_background=30, seed=0, flagged=BIN_CONT[:2], **Q)
    for row, rel in enumerate(expl.attrs['reliance']):
        ax = binary_learner.plot_explanation(expl, row=row)
        title = ax.get_title()
        a, b = sorted(map(str, rel['names']))
        assert f"without the flagged {a} and {b}," in ' '.join(title.split())
        change = f"{rel['Prediction']:.3g}\u00a0->\u00a0{rel['Without']:.3g}"
        assert any(change in line for line in title.split('\n')), title   # never broken inside the change
        assert title.startswith(f'row {row}:')   # the index is said only where it differs from the row
        plt.close(ax.figure)


def test_deletion_band_stays_within_probabilities_and_title_says_what_is_drawn(evaluation):
    ax = fastai_featimp.plot_deletion_curves(evaluation, insertion=True)
    for kind in ('deletion', 'insertion'):
        band = [c for c in ax.collections if c.get_gid() == f'featimp-random-{kind}'][0]
        ys = np.concatenate([p.vertices[:, 1] for p in band.get_paths()])
        assert ys.min() >= 0 and ys.max() <= 1
    title = ax.get_title()
    overall = evaluation[evaluation['row'] == 'all'].set_index('Metric')['Explanation']
    assert f"deletion AOPC {overall['deletion_aopc']:.3f}" in title and f"insertion AOPC {overall['insertion_aopc']:.3f}" in title
    plt.close(ax.figure)
    row = [r for r in evaluation['row'].unique() if r != 'all'][0]
    ax = fastai_featimp.plot_deletion_curves(evaluation, row=row)
    own = evaluation[(evaluation['row'].astype(str) == str(row)) & (evaluation['Metric'] == 'deletion_aopc')]
    assert f"(row {row}): deletion AOPC {own.iloc[0]['Explanation']:.3f}" in ax.get_title()
    assert 'insertion' not in ax.get_title()
    plt.close(ax.figure)


@pytest.mark.parametrize('dpi', [72, 200])
def test_text_figure_header_starts_where_the_text_does(custom_text, notes, dpi):
    "The header (and the check above it) is not drawn on the figure's edge: it starts with the text's first word."
    note = notes[1][notes[1]['has_family_visit']]['text'].iloc[0]
    expl = custom_text.explain(note, method='occlusion', flagged=['family visit'], **Q)
    ax = fastai_featimp.plot_explanation(expl)
    fig = ax.figure
    fig.set_dpi(dpi); fig.canvas.draw()
    r = fig.canvas.get_renderer()
    header = [t for t in (ax.title, ax._left_title, ax._right_title) if t.get_text()][0]
    first = [t for t in ax.texts if t.get_gid() == 'featimp-word'][0]
    head, word = header.get_window_extent(r), first.get_window_extent(r)
    assert head.x0 >= fig.bbox.x0 + 2 * dpi / 72 and abs(head.x0 - word.x0) <= 2 * dpi / 72, (head, word)
    assert head.x1 <= fig.bbox.x1 and head.y1 <= fig.bbox.y1
    plt.close(fig)
