"""`to_shap(expl)`: an explanation of this package as a `shap.Explanation`, so that shap's own plots (waterfall,
beeswarm, bar, heatmap, text) draw it. shap stays optional: it is imported here, when asked for."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..plot.text import units_by_span

__all__ = ['to_shap']

EXTRA = 'pip install "fastai_featimp[shap]"'


def _shap():
    try: import shap
    except ImportError as e:
        raise ImportError(f"to_shap needs the shap package, which is optional: {EXTRA} (or pip install shap)") from e
    return shap


def _check(expl):
    if not isinstance(expl, pd.DataFrame) or not {'row', 'Contribution'} <= set(expl.columns) or \
            not ({'Value'} <= set(expl.columns) or {'Start', 'End'} <= set(expl.columns)):
        raise TypeError("to_shap takes the DataFrame returned by learn.explain (a tabular or a text learner's)")
    if 'base_values' not in expl.attrs:
        raise ValueError("this explanation has lost its attrs (base values and outputs), as pandas does in to_csv or a "
                         "concat of different results: convert the DataFrame returned by learn.explain")


def to_shap(expl):
    """A `shap.Explanation` of `expl` (from `learn.explain`): `values` (rows x variables for a table; one array of
    units per text), `base_values`, `data` as written (the rows' values; for text each unit with the text that
    follows it up to the next unit, so the pieces spell the text), `feature_names`, `output_names` (the explained
    target) and `error_std` (the sampling standard errors, where there are any). Index it like any Explanation:
    `shap.plots.waterfall(to_shap(expl)[0])`."""
    shap = _shap()
    _check(expl)
    rows = sorted(expl['row'].unique())
    if not rows: raise ValueError("this explanation holds no rows (an empty slice of learn.explain's result): nothing to convert")
    base = np.array([expl.attrs['base_values'][r] for r in rows], dtype=float)
    targets = [expl.attrs['targets'][r] for r in rows]
    classes = list(dict.fromkeys(map(str, targets)))
    if len(classes) > 1:
        # shap's plots put every row's values on one axis, as if they explained one output
        first = {c: [r for r, t in zip(rows, targets) if str(t) == c] for c in classes}
        raise ValueError(f"the rows of this explanation explain different classes ({', '.join(map(repr, classes))}: rows "
                         + '; '.join(f"{c}: {v[:5]}" for c, v in first.items()) + "); shap's plots would mix them on "
                         "one scale. Convert the rows of one class (expl[expl['row'].isin([...])]), or explain every "
                         "row for one class with target=")
    output_names = classes[0]
    if 'Value' in expl.columns:   # a table: one value per (row, variable)
        names = list(dict.fromkeys(expl['Variable']))
        wide = lambda col: expl.pivot(index='row', columns='Variable', values=col).loc[rows, names]
        std = wide('Std').to_numpy(float)
        return shap.Explanation(values=wide('Contribution').to_numpy(float), base_values=base,
                                data=wide('Value').to_numpy(object), feature_names=names, output_names=output_names,
                                error_std=None if np.isnan(std).all() else std)
    values, data, stds = [], [], []
    for r in rows:   # a text: its units in order, each with the text after it (so shap.plots.text spells the note)
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
