"""Can this explanation of a tabular row be believed? Deletion and insertion curves of its columns in the explanation's
order against random orders and the reverse, where a removed column takes the background rows' values (the
interventional expectation the Shapley values themselves use)."""
from __future__ import annotations

import pandas as pd
import torch

from ..common.progress import counting
from ..common.setup import method_setup
from ..core.faithfulness import check_base, check_ks, evaluation_frame, faithfulness_of_row, k_label
from ..core.checks import shown
from ..core.params import Flag, Integer, ParameterError, Seed, checked
from ..tabular.coalitions import background_inputs, explained_rows, row_value
from ..tabular.data import frame_from_record, same_rows
from ..tabular.kind import TABULAR

__all__ = ['evaluate_tabular_explanation']


@checked(n_random=Integer(1), seed=Seed(), bs=Integer(1, none=True), show_progress=Flag())
def evaluate_tabular_explanation(
    learn,                      # the fastai tabular learner the explanation was made with
    expl,                       # the DataFrame returned by learn.explain(rows)
    data=None,                  # the rows that were explained (default: the ones the explanation keeps in its attrs)
    *,
    k=None,                     # columns for comprehensiveness@k and sufficiency@k (default: 1, 3, 5 and 0.2, as the rows allow)
    n_random:int=20,            # random orders of the same columns, for chance level
    background=None,            # the background rows (default: the explanation's own, given or sampled)
    seed:int|None=None,         # same seed, same random orders
    bs:int|None=None,           # rows per forward pass
    show_progress:bool=True,    # a fastprogress bar over the coalitions evaluated
):
    """Faithfulness of a tabular explanation, row by row and overall (`row == 'all'`): `deletion_aopc`,
    `insertion_aopc`, `comprehensiveness@K` and `sufficiency@K`, each for the explanation's order (`Explanation`),
    random orders (`Random`, `RandomStd`) and the reverse order (`Reverse`); higher is better for all. A removed column
    takes each background row's value (the explanation's own value function); curves in `attrs['curves']`."""
    attrs = expl.attrs if isinstance(expl, pd.DataFrame) else {}
    if not isinstance(expl, pd.DataFrame) or 'Value' not in expl.columns or 'base_values' not in attrs:
        raise ParameterError('expl', "`expl` must be the DataFrame returned by learn.explain(rows) of this tabular learner "
                                     "(with its attrs)")
    kept, kept_bg = attrs.get('data'), attrs.get('background_data')
    if data is None and kept is not None: data = frame_from_record(kept)
    if not isinstance(data, pd.DataFrame):
        raise ParameterError('data', "pass `data=`, the DataFrame of the rows that were explained: a table's explanation "
                                     "keeps their values as written, not the processed inputs")
    if kept is not None and not same_rows(data, kept):
        raise ParameterError('data', f"`data` ({len(data)} rows) is not the rows this explanation was made from "
                                     f"({len(kept['data'])} rows, index {shown(kept['index'])}): leave `data` out to use "
                                     "them, or explain these rows first")
    s = method_setup(learn, TABULAR, output='raw' if attrs.get('output') == 'raw' else 'probability', seed=seed,
                     groups=attrs.get('groups') or None)
    if background is None and kept_bg is not None: background = frame_from_record(kept_bg)
    elif background is not None and attrs.get('background_sample') is not None:
        background = background.iloc[attrs['background_sample']]   # the rows the explanation sampled from it
    if background is None and attrs.get('background_rows') is None:
        raise ParameterError('background', "the explanation was made with `background=`: pass the same rows again")
    if background is not None and kept_bg is not None and not same_rows(background, kept_bg):
        raise ParameterError('background', "`background` is not the background this explanation was made with: its "
                                           "Shapley values answer another question (another base value); leave "
                                           "`background` out to use the explanation's own")
    rows = sorted(expl['row'].unique())
    if len(data) != len(rows):
        raise ParameterError('data', f"`data` has {len(data)} rows; the explanation explains {len(rows)}")
    names = [v.name for v in s.variables]
    parts = {r: expl[expl['row'] == r] for r in rows}
    if any(list(p['Variable']) != names for p in parts.values()):
        raise ParameterError('expl', "`expl` explains other columns than this learner's: it was made with another learner")
    ks = check_ks(k, {r: len(names) for r in rows})
    with s.computing():
        x = explained_rows(learn, s.schema, data, 'data')
        bg = background_inputs(learn, s.schema, background, None,
                               rows=None if background is not None else attrs['background_rows']).inputs
        m = len(names)
        scores, curves = [], []
        with counting(learn, show_progress, len(rows) * 2 * (m + 1) * (n_random + 2), 'evaluating the explanation') as progress:
            for i, r in enumerate(rows):
                k_out = s.labels.index(attrs['targets'][r]) if attrs['targets'][r] in s.labels else s.target()
                value = row_value(learn.model, x, i, bg, s.variables, s.activation, k_out, progress=progress.add, bs=bs)
                ends = value(torch.tensor([[True] * m, [False] * m]))
                full, base = float(ends[0]), float(ends[1])
                if abs(full - attrs['outputs'][r]) > 1e-4 * max(1.0, abs(full)):
                    raise ParameterError('expl', f"row {r} of `expl` explains an output of {attrs['outputs'][r]:.4g}, but "
                                                 f"this learner gives {full:.4g} for that row of `data`: the explanation "
                                                 "was made with another learner, or on other rows")
                check_base(r, attrs['base_values'][r], base, 'background')
                row_scores, row_curves = faithfulness_of_row(value, parts[r]['Contribution'].to_numpy(float), ks,
                                                             n_random, s.stream('random orders', r))
                scores.append(row_scores); curves.append(row_curves)
    return evaluation_frame(rows, scores, curves, method=attrs.get('method'), unit='column', k=[k_label(x) for x in ks],
                            n_random=n_random, seed=seed, output=attrs.get('output'), targets=list(attrs['targets']))
