"""Can this explanation be believed? Deletion and insertion curves of its units in the explanation's order against
random orders and the reverse, with the explanation's own way of removing a unit, for any kind through its adapter."""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..common.progress import counting
from ..common.setup import method_setup
from ..core.faithfulness import check_base, check_ks, evaluation_frame, faithfulness_of_row, k_label
from ..core.params import Flag, Integer, ParameterError, Seed, checked

__all__ = ['evaluate_units']

# what the explanation records about how it removed a unit, carried into the evaluation's attrs
_HOW = ('unit', 'mask', 'grid')


@checked(n_random=Integer(1), seed=Seed(), bs=Integer(1, none=True), show_progress=Flag())
def evaluate_units(
    learn,                      # the fastai learner the explanation was made with
    expl,                       # the DataFrame returned by learn.explain(...)
    data=None,                  # the items explained, as given to explain, where the explanation keeps only small copies (images)
    *,
    k=None,                     # units for comprehensiveness@k and sufficiency@k (default: 1, 3, 5 and 0.2 of a row's, as the rows allow)
    n_random:int=20,            # random orders of the same units, for chance level
    seed:int|None=None,         # same seed, same random orders
    bs:int|None=None,           # masked copies per forward pass
    show_progress:bool=True,    # a fastprogress bar over the coalitions evaluated
    _kind=None,                 # the learner's kind (set by its door)
    **options,                  # the kind's own arguments (a table's background)
):
    """Faithfulness of an explanation, row by row and overall (`row == 'all'`): `deletion_aopc`, `insertion_aopc`,
    `comprehensiveness@K` and `sufficiency@K`, each for the explanation's order (`Explanation`), random orders
    (`Random`, `RandomStd`) and the reverse order (`Reverse`); higher is better for all. Units are removed as the
    explanation removed them. The curves are in `attrs['curves']` (`plot_deletion_curves` draws them)."""
    s0 = method_setup(learn, _kind)
    adapter = s0.kind.adapter()
    if not isinstance(expl, pd.DataFrame) or not adapter.frame_columns() <= set(expl.columns):
        raise ParameterError('expl', f"`expl` must be the DataFrame returned by learn.explain({adapter.items}) of this "
                                     f"{s0.kind.name} learner")
    attrs = expl.attrs
    if 'outputs' not in attrs:
        raise ParameterError('expl', "`expl` has lost its attrs (the outputs and base values), as pandas does in to_csv "
                                     "or a concat: evaluate the DataFrame returned by learn.explain")
    s = method_setup(learn, s0.kind, output='raw' if attrs.get('output') == 'raw' else 'probability', seed=seed,
                     **adapter.setup_options({'groups': attrs.get('groups') or None}))
    rows = sorted(expl['row'].unique())
    parts = {r: expl[expl['row'] == r] for r in rows}
    ks = check_ks(k, {r: len(p) for r, p in parts.items()})
    cost = sum(2 * (len(p) + 1) * (n_random + 2) for p in parts.values())
    scores, curves = [], []
    with s.computing():
        items = adapter.from_explanation(s, expl, data, bs=bs, **options)
        with counting(learn, show_progress, cost, 'evaluating the explanation') as progress:
            for r in rows:
                m = len(parts[r])
                k_out = s.labels.index(attrs['targets'][r]) if attrs['targets'][r] in s.labels else s.target()
                def value(keep, r=r, k_out=k_out):
                    asked = [keep if i == r else torch.zeros(0, m, dtype=torch.bool) for i in range(items.n_rows)]
                    explained = lambda i, raw: s.activation(raw).reshape(raw.shape[0], -1)[:, k_out]
                    return np.asarray(items.values(asked, explained, progress.add)[r], dtype=float)
                ends = value(torch.tensor([[True] * m, [False] * m]))
                full = float(ends[0])
                if abs(full - attrs['outputs'][r]) > 1e-4 * max(1.0, abs(full)):
                    where = f" on {adapter.item} {r} of `data`" if data is not None else ''
                    what = f"the explanation was made with another learner, or on other {adapter.items}"
                    raise ParameterError('data' if data is not None else 'expl',
                                         f"row {r} of `expl` explains an output of {attrs['outputs'][r]:.4g}, but this "
                                         f"learner gives {full:.4g}{where}: {what}")
                base = attrs['base_values'][r]
                if base == base: check_base(r, base, float(ends[1]), adapter.removed_by)   # Grad-CAM has none
                row_scores, row_curves = faithfulness_of_row(value, parts[r]['Contribution'].to_numpy(float), ks,
                                                             n_random, s.stream('random orders', r))
                scores.append(row_scores); curves.append(row_curves)
    how = {key: (tuple(attrs[key]) if isinstance(attrs[key], list) and key == 'grid' else attrs[key])
           for key in _HOW if key in attrs}
    how.setdefault('unit', adapter.unit)
    return evaluation_frame(rows, scores, curves, method=attrs.get('method'), **how, k=[k_label(x) for x in ks],
                            n_random=n_random, seed=seed, output=attrs.get('output'), targets=list(attrs['targets']))
