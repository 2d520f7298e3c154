"""Drawing image explanations: the image as the user gave it, its regions' contributions over it on one stated
diverging scale (red towards the target, blue away), a colour bar in the output's own units, the strongest regions
outlined and named. As a matplotlib figure, or as HTML with the picture embedded (a data URI)."""
from __future__ import annotations

import base64
import html
import io
import textwrap

import numpy as np
import pandas as pd

from ..core.results import own_labels
from .banner import banner_html, check_clause, reliance_of
from .labels import quantity

__all__ = ['attribution_map', 'is_image_explanation', 'plot_image_explanation', 'image_explanation_html',
           'show_image_explanation', 'regions_table', 'image_explanation_page', 'plot_image_grid',
           'plot_region_importance']

METHOD_WORDS = {
    'shapley': "each region's share of the prediction (Shapley values)",
    'occlusion': "how much the prediction falls when the region alone is removed (occlusion)",
    'gradcam': "each region's share of the Grad-CAM map",
    'integrated_gradients': "each region's contribution on the way from every region removed to the image (integrated gradients)",
}


def is_image_explanation(expl) -> bool:
    return isinstance(expl, pd.DataFrame) and {'Top', 'Left', 'Bottom', 'Right'} <= set(expl.columns)


def _rows(expl, row: int) -> pd.DataFrame:
    if not is_image_explanation(expl):
        raise TypeError("expected the DataFrame returned by learn.explain(images) for an image learner")
    if 'sizes' not in expl.attrs:
        raise ValueError("this explanation has lost its attrs (the images, their sizes and the outputs), as pandas does "
                         "in to_csv or a concat of different results: draw the DataFrame returned by learn.explain")
    rows = sorted(expl['row'].unique())
    if row not in rows: raise ValueError(f"row {row!r} is not in this explanation; it has rows {rows[:10]}")
    return expl[expl['row'] == row]


def _own_labels(expl, row: int) -> np.ndarray | None:
    """(height, width): the index of the superpixel under each pixel of the image in its own pixels (-1: a pixel the
    model does not see, or of a superpixel it does not see), in the order of the row's regions; None for a grid."""
    segments = expl.attrs.get('segments')
    if segments is None: return None
    seg = np.asarray(segments[row])
    own, inside = own_labels(seg, expl.attrs['sizes'][row], expl.attrs['visible'][row])
    labels = [int(v[2:]) for v in _rows(expl, row)['Variable']]
    lookup = np.full(int(seg.max()) + 1, -1)
    lookup[labels] = np.arange(len(labels))
    index = lookup[own]
    seen = np.unique(index[inside & (index >= 0)])
    sliver = np.isin(index, np.setdiff1d(np.arange(len(labels)), seen))   # seen only at a crop's edge: all its pixels
    return np.where(inside | sliver, index, -1)


def attribution_map(expl, row: int = 0) -> np.ndarray:
    """The (height, width) map of one explained image in its own pixels: each region's contribution spread evenly over
    its pixels (the pixels of its box, or of its superpixel), so that the map sums to the contributions (0 where the
    model sees nothing, e.g. cropped)."""
    part = _rows(expl, row)
    h, w = expl.attrs['sizes'][row]
    labels = _own_labels(expl, row)
    if labels is not None:
        values = part['Contribution'].to_numpy(float)
        counts = np.bincount(labels[labels >= 0], minlength=len(values))
        per_pixel = np.append(np.divide(values, counts, out=np.zeros_like(values), where=counts > 0), 0.0)
        return per_pixel[labels]   # -1 takes the appended 0
    out = np.zeros((h, w))
    for t, l, b, r, c in part[['Top', 'Left', 'Bottom', 'Right', 'Contribution']].itertuples(index=False):
        out[t:b, l:r] += c / ((b - t) * (r - l))
    return out


def _scale(expl, scale) -> tuple:
    "`(limit, description)`: the |value per pixel| drawn in full colour, the same for every image of the explanation."
    if scale is not None:
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale > 0:
            raise ValueError(f"scale must be None or a positive number, got {scale!r}")
        return float(scale), 'the scale asked for (scale=)'
    largest = max(float(np.abs(attribution_map(expl, r)).max()) for r in sorted(expl['row'].unique()))
    return (largest or 1.0), "the largest |value| per pixel over the explained images"


def _header(expl, row: int) -> str:
    out, base = expl.attrs['outputs'][row], expl.attrs['base_values'][row]
    q = quantity(expl.attrs.get('output'), expl.attrs['targets'][row])
    text = f"{q} = {out:.3g}"
    if base == base: text += f" (every region removed: {base:.3g})"
    return text


def _top(part: pd.DataFrame, top: int) -> pd.DataFrame:
    return part.reindex(part['Contribution'].abs().sort_values(ascending=False, kind='stable').index).head(top)


def plot_image_explanation(expl, row: int = 0, top: int = 3, ax=None, scale=None, alpha: float = 0.55,
                           colorbar: bool = True, scale_words: str | None = None):
    """One explained image: the image, the map over it (`scale`: the value per pixel in full colour; default the largest
    over the explanation's images, so they compare), a colour bar, and the `top` regions outlined and named. Returns
    the Axes. `row` as a list: those images side by side on one scale (`plot_image_grid`)."""
    if isinstance(row, (list, tuple, range)): return plot_image_grid(expl, rows=list(row), top=top, scale=scale)
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle
    part = _rows(expl, row)
    h, w = expl.attrs['sizes'][row]
    limit, how = _scale(expl, scale)
    how = scale_words or how   # a page or a grid passes its shared scale with what it is
    if ax is None: _, ax = plt.subplots(figsize=(5.2, 4.6 * h / max(w, 1) + 0.8))
    image = np.asarray(expl.attrs['images'][row])
    ax.imshow(image, extent=(0, w, h, 0), cmap='gray' if image.ndim == 2 else None, interpolation='nearest')
    shown = ax.imshow(attribution_map(expl, row), extent=(0, w, h, 0), cmap='RdBu_r', vmin=-limit, vmax=limit,
                      alpha=alpha, interpolation='nearest')
    labels = _own_labels(expl, row)
    for t, l, b, r, name, c in _top(part, top)[['Top', 'Left', 'Bottom', 'Right', 'Variable', 'Contribution']].itertuples(index=False):
        if labels is None:
            ax.add_patch(Rectangle((l, t), r - l, b - t, fill=False, edgecolor='black', linewidth=2, gid='featimp-top'))
            at, align = (l + 0.5, t + 0.5), dict(va='top', ha='left')
        else:   # a superpixel's own outline (closed at the border), named at its innermost pixel
            from scipy.ndimage import distance_transform_edt
            inside = labels == list(part['Variable']).index(name)
            ax.contour(np.arange(-1, w + 1) + 0.5, np.arange(-1, h + 1) + 0.5, np.pad(inside.astype(float), 1),
                       levels=[0.5], colors='black', linewidths=2).set_gid('featimp-top')
            y, x = np.unravel_index(np.argmax(distance_transform_edt(np.pad(inside, 1))), (h + 2, w + 2))
            at, align = (x - 0.5, y - 0.5), dict(va='center', ha='center')
        ax.text(*at, f"{name} {c:+.2g}", fontsize=8, gid='featimp-label', **align,
                bbox=dict(facecolor='white', edgecolor='none', pad=1, alpha=0.8))
    flagged = [b for b in expl.attrs.get('flagged', []) if isinstance(b, (list, tuple)) and len(b) == 4] \
        if reliance_of(expl, row) is not None else []
    for t, l, b, r in flagged:   # the flagged boxes themselves, dashed: what the check removed
        ax.add_patch(Rectangle((l, t), r - l, b - t, fill=False, edgecolor='#b00020', linewidth=2, linestyle='--',
                               gid='featimp-flagged'))
    if colorbar: _colorbar(ax, shown, expl, row)
    check = f"\n{textwrap.fill(check_clause(expl, row), 70)}" if reliance_of(expl, row) is not None else ''
    ax.set_title(f"{_header(expl, row)}\n{METHOD_WORDS.get(expl.attrs.get('method'), '')}{check}", fontsize=9,
                 color='#b00020' if check and reliance_of(expl, row)['Relies'] else 'black')
    ax.set_xlabel(textwrap.fill(f"colour: +/-{limit:.2g} per pixel ({how}); outlined: the {top} strongest regions",
                                70), fontsize=7)
    ax.set_xticks([]); ax.set_yticks([])
    return ax


def _colorbar(ax, shown, expl, row: int, axes=None):
    "The colour scale in full colour (not faded like the overlay), in the output's own units."
    from matplotlib.cm import ScalarMappable
    bar = ax.figure.colorbar(ScalarMappable(norm=shown.norm, cmap=shown.cmap), ax=axes if axes is not None else ax,
                             fraction=0.046, pad=0.04)
    bar.set_label(f"contribution per pixel to {quantity(expl.attrs.get('output'), expl.attrs['targets'][row])}",
                  fontsize=8)


def plot_image_grid(expl, rows=None, ncols: int = 3, top: int = 3, scale=None):
    """Several explained images side by side (`rows`: default all, at most 12), on one colour scale with one colour
    bar, so that their maps compare. Returns the Figure."""
    import matplotlib.pyplot as plt
    available = sorted(expl['row'].unique())
    rows = available[:12] if rows is None else list(rows)
    if not rows: raise ValueError("rows is empty: give the rows of the explanation to draw")
    limit, how = _scale(expl, scale)
    ncols = max(1, min(ncols, len(rows)))
    nrows = -(-len(rows) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols + 0.8, 4.0 * nrows + 0.6), squeeze=False,
                             layout='constrained')   # room for the titles, the suptitle and the colour bar
    for ax, r in zip(axes.flat, rows):
        plot_image_explanation(expl, row=r, top=top, ax=ax, scale=limit, colorbar=False)
        ax.set_title(textwrap.fill(f"image {r}: {_header(expl, r)}", 40), fontsize=8)   # the method once, above
        ax.set_xlabel('')
    for ax in list(axes.flat)[len(rows):]: ax.set_axis_off()
    _colorbar(axes.flat[0], axes.flat[0].images[-1], expl, rows[0], axes=list(axes.flat))
    fig.suptitle(f"{METHOD_WORDS.get(expl.attrs.get('method'), '')}\ncolour: +/-{limit:.2g} per pixel ({how}); "
                 f"outlined: the {top} strongest regions of each", fontsize=8)
    return fig


def plot_region_importance(fi, ax=None, top: int = 20, title=None):
    """Region importance drawn where the regions are: the images' mean with each region shaded by how much removing
    it costs (red: the metric worsens) and the five strongest numbered, beside the ranking's bars. Returns the bars'
    Axes (given `ax`, only the bars are drawn there)."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle
    from .importance import plot_importance
    if 'mean_image' not in fi.attrs or ax is not None: return plot_importance(fi, ax=ax, top=top, title=title)
    shown = min(top or len(fi), len(fi))
    fig, (ax_map, ax) = plt.subplots(1, 2, figsize=(11, max(4.0, 0.35 * shown + 1.4)),
                                     gridspec_kw=dict(width_ratios=[1, 1.4]))
    plot_importance(fi, ax=ax, top=top, title=title)
    h, w = fi.attrs['image_size']
    mean = np.asarray(fi.attrs['mean_image'], dtype=np.uint8)
    mean = mean[..., 0] if mean.ndim == 3 and mean.shape[-1] == 1 else mean
    ax_map.imshow(mean, extent=(0, w, h, 0), interpolation='nearest', cmap='gray' if mean.ndim == 2 else None)
    largest = float(fi['Importance'].abs().max()) or 1.0
    ranked = fi.sort_values('Importance', ascending=False, kind='stable').reset_index(drop=True)
    for k, (t, l, b, r, v) in enumerate(ranked[['Top', 'Left', 'Bottom', 'Right', 'Importance']].itertuples(index=False)):
        colour = (0.84, 0.15, 0.16) if v > 0 else (0.12, 0.47, 0.71)
        ax_map.add_patch(Rectangle((l, t), r - l, b - t, facecolor=colour, alpha=0.6 * min(1.0, abs(v) / largest),
                                   edgecolor='white', linewidth=0.5, gid='featimp-region'))
        if k < 5: ax_map.text(l + 0.5, t + 0.5, str(k + 1), va='top', ha='left', fontsize=9, fontweight='bold',
                              bbox=dict(facecolor='white', edgecolor='none', pad=1, alpha=0.85), gid='featimp-rank')
    ax_map.set_title(textwrap.fill(f"where they are: the mean of the {fi.attrs.get('n_rows', '')} images, shaded by "
                                   "importance; 1-5: the strongest", 48), fontsize=8)
    ax_map.set_xticks([]); ax_map.set_yticks([])
    fig.tight_layout()
    return ax


def image_explanation_html(expl, row: int = 0, top: int = 3, scale=None, dpi: int = 100,
                           scale_words: str | None = None) -> str:
    "The picture of `plot_image_explanation` as self-contained HTML (a PNG data URI), with the strongest regions listed."
    import matplotlib.pyplot as plt
    ax = plot_image_explanation(expl, row=row, top=top, scale=scale, scale_words=scale_words)
    buffer = io.BytesIO()
    ax.figure.savefig(buffer, format='png', dpi=dpi, bbox_inches='tight')
    plt.close(ax.figure)
    uri = 'data:image/png;base64,' + base64.b64encode(buffer.getvalue()).decode('ascii')
    items = ''.join(f"<li>{html.escape(str(v))} (rows {t}-{b}, columns {l}-{r}): {c:+.3g}</li>"
                    for v, t, l, b, r, c in _top(_rows(expl, row), top)[
                        ['Variable', 'Top', 'Left', 'Bottom', 'Right', 'Contribution']].itertuples(index=False))
    what = quantity(expl.attrs.get('output'), expl.attrs['targets'][row])
    return (banner_html(expl, row, what[:1].upper() + what[1:]) +
            f'<figure class="featimp-image"><img alt="{html.escape(_header(expl, row))}" src="{uri}"/>'
            f'<figcaption>{html.escape(_header(expl, row))}<ul>{items}</ul></figcaption></figure>')


def show_image_explanation(expl, row: int = 0, **kwargs) -> None:
    "Display the HTML in Jupyter; elsewhere print the strongest regions."
    page = image_explanation_html(expl, row=row, **kwargs)
    try:
        from IPython import get_ipython
        from IPython.display import HTML, display
        if get_ipython() is not None and getattr(get_ipython(), 'kernel', None) is not None:
            display(HTML(page)); return
    except ImportError: pass
    part = _top(_rows(expl, row), kwargs.get('top', 3))
    print(_header(expl, row))
    for v, c in zip(part['Variable'], part['Contribution']): print(f"  {v}: {c:+.3g}")


def regions_table(expl, top: int | None = 5) -> str:
    """Images' explanations as plain text, image by image: the output and base value, what the check of flagged boxes
    found, and the `top` regions by |contribution| with their boxes (None: all)."""
    lines = []
    for r in sorted(expl['row'].unique()):
        part = _rows(expl, r)
        lines.append(f"image {r}: {_header(expl, r)}")
        if reliance_of(expl, r) is not None: lines.append('  ' + check_clause(expl, r))
        shown = part if top is None else _top(part, top)
        lines.append(shown[['Variable', 'Top', 'Left', 'Bottom', 'Right', 'Contribution']].to_string(
            index=False, float_format=lambda v: f'{v:.4f}'))
    return '\n'.join(lines)


def image_explanation_page(expl, *, top: int = 3, scale=None, title: str = 'Explanations') -> str:
    "A self-contained HTML page of every explained image (one colour scale for all), for a file or a browser."
    limit, how = _scale(expl, scale)   # the same scale for every image of the page, so that they compare
    body = ''.join(image_explanation_html(expl, r, top=top, scale=limit, scale_words=how)
                   for r in sorted(expl['row'].unique()))
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>'
            f'<body style="font-family: sans-serif"><h1>{html.escape(title)}</h1>{body}</body></html>')
