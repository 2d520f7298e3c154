"""`to_shap(expl)`: an explanation of this package as a `shap.Explanation`, so that shap's own plots (waterfall,
beeswarm, bar, heatmap, text) draw it. shap stays optional: it is imported here, when asked for."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..common.kinds import picture
from ..plot.image import attribution_map
from ..core.results import units_by_span

__all__ = ['to_shap', 'table_to_shap', 'text_to_shap', 'image_to_shap']

EXTRA = 'pip install "fastai_featimp[shap]"'


def _shap():
    try: import shap
    except ImportError as e:
        raise ImportError(f"to_shap needs the shap package, which is optional: {EXTRA} (or pip install shap)") from e
    return shap


def to_shap(expl):
    """A `shap.Explanation` of `expl` (from `learn.explain`): `values` (rows x variables for a table; one array of
    units per text; images x height x width x channels for images), `base_values`, `data` as written (the rows'
    values; for text each unit with the text that follows it up to the next unit, so the pieces spell the text; the
    images), `feature_names`, `output_names` (the explained target) and `error_std` (the sampling standard errors,
    where there are any). Index it like any Explanation: `shap.plots.waterfall(to_shap(expl)[0])`,
    `shap.plots.text(to_shap(expl)[0])`, `shap.image_plot(to_shap(expl))`."""
    shap = _shap()
    convert = picture(expl, 'shap')
    if 'base_values' not in expl.attrs:
        raise ValueError("this explanation has lost its attrs (base values and outputs), as pandas does in to_csv or a "
                         "concat of different results: convert the DataFrame returned by learn.explain")
    rows = sorted(expl['row'].unique())
    if not rows: raise ValueError("this explanation holds no rows (an empty slice of learn.explain's result): nothing to convert")
    targets = [expl.attrs['targets'][r] for r in rows]
    classes = list(dict.fromkeys(map(str, targets)))
    if len(classes) > 1:
        # shap's plots put every row's values on one axis, as if they explained one output
        first = {c: [r for r, t in zip(rows, targets) if str(t) == c] for c in classes}
        raise ValueError(f"the rows of this explanation explain different classes ({', '.join(map(repr, classes))}: rows "
                         + '; '.join(f"{c}: {v[:5]}" for c, v in first.items()) + "); shap's plots would mix them on "
                         "one scale. Convert the rows of one class (expl[expl['row'].isin([...])]), or explain every "
                         "row for one class with target=")
    base = np.array([expl.attrs['base_values'][r] for r in rows], dtype=float)
    return convert(shap, expl, rows, base, classes[0])


def table_to_shap(shap, expl, rows, base, output_names):
    "A table's explanation: one value per (row, variable), the values as written."
    names = list(dict.fromkeys(expl['Variable']))
    wide = lambda col: expl.pivot(index='row', columns='Variable', values=col).loc[rows, names]
    std = wide('Std').to_numpy(float)
    return shap.Explanation(values=wide('Contribution').to_numpy(float), base_values=base,
                            data=wide('Value').to_numpy(object), feature_names=names, output_names=output_names,
                            error_std=None if np.isnan(std).all() else std)


def text_to_shap(shap, expl, rows, base, output_names):
    "A text's explanation: its units in order, each with the text after it (so shap.plots.text spells the note)."
    values, data, stds = [], [], []
    for r in rows:
        text = expl.attrs['texts'][r]
        part = units_by_span(expl[expl['row'] == r])   # a marker and its word: one unit (their sum), as written
        starts, ends = part['Start'].to_numpy(int), part['End'].to_numpy(int)
        nexts = np.append(starts[1:], len(text))
        pieces = [text[s:max(e, n)] if i else text[:max(e, n)] for i, (s, e, n) in enumerate(zip(starts, ends, nexts))]
        values.append(part['Contribution'].to_numpy(float)); data.append(np.array(pieces, dtype=object))
        stds.append(part['Std'].to_numpy(float))
    ragged = lambda arrays: np.array(arrays + [None], dtype=object)[:-1]   # one array per text, whatever their lengths
    std = ragged(stds)
    return shap.Explanation(values=ragged(values), base_values=base, data=ragged(data), output_names=output_names,
                            feature_names=ragged([np.array(p, dtype=object) for p in data]),
                            error_std=None if all(np.isnan(s).all() for s in stds) else std)


def image_to_shap(shap, expl, rows, base, output_names):
    """Images' explanations as shap's image plot reads them: `values` (images x height x width x channels: each
    region's contribution spread over its pixels and channels, so every image's values add up to its contributions)
    and `data` the images as given (uint8). shap stacks them: the images must share one size."""
    sizes = {tuple(expl.attrs['sizes'][r]) for r in rows}
    if len(sizes) > 1:
        raise ValueError(f"these images have different sizes ({', '.join(f'{h}x{w}' for h, w in sorted(sizes))}); shap "
                         "stacks them in one array: convert the images of one size at a time (expl[expl['row'] == r])")
    images = [np.asarray(expl.attrs['images'][r]) for r in rows]
    h, w = sizes.pop()
    if images[0].shape[:2] != (h, w):
        raise ValueError(f"this explanation keeps {images[0].shape[0]}x{images[0].shape[1]} copies of {h}x{w} images "
                         "(larger images are kept small, for drawing); shap's image plot needs the images themselves: "
                         "explain images of at most that size, or draw with learn.plot_explanation")
    data = np.stack([im if im.ndim == 3 else im[..., None] for im in images])
    maps = np.stack([attribution_map(expl, r) for r in rows])[..., None] / data.shape[-1]
    # no output_names: shap then reads the last axis as the channels (with names, as one axis per output);
    # image_plot(s, labels=[...]) names the column
    return shap.Explanation(values=np.repeat(maps, data.shape[-1], axis=-1), base_values=base, data=data)
