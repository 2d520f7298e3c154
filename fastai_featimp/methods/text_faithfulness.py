"""Can this explanation of a text be believed? Deletion and insertion curves of its units in the explanation's order
against random orders and the reverse, with the explanation's own way of removing a unit (xxunk, or deleted)."""
from __future__ import annotations

import torch

from ..common.progress import counting
from ..common.setup import method_setup
from ..core.faithfulness import check_base, check_ks, evaluation_frame, faithfulness_of_row, k_label
from ..core.params import Flag, Integer, ParameterError, Seed, checked
from ..text.data import load_text
from ..text.forward import masked_ids, text_forward
from ..text.kind import TEXT
from ..text.units import align, units_of

__all__ = ['evaluate_text_explanation']


@checked(n_random=Integer(1), seed=Seed(), bs=Integer(1, none=True), show_progress=Flag())
def evaluate_text_explanation(
    learn,                      # the fastai text learner the explanation was made with
    expl,                       # the DataFrame returned by learn.explain(texts)
    data=None,                  # unused for text (the texts are kept in the explanation's attrs)
    *,
    k=None,                     # units for comprehensiveness@k and sufficiency@k (default: 1, 3, 5 and 0.2 of a row's, as the rows allow)
    n_random:int=20,            # random orders of the same units, for chance level
    seed:int|None=None,         # same seed, same random orders
    bs:int|None=None,           # texts per forward pass
    show_progress:bool=True,    # a fastprogress bar over the masked texts evaluated
):
    """Faithfulness of a text explanation, row by row and overall (`row == 'all'`): `deletion_aopc`,
    `insertion_aopc`, `comprehensiveness@K` and `sufficiency@K`, each for the explanation's order (`Explanation`),
    random orders (`Random`, `RandomStd`) and the reverse order (`Reverse`); higher is better for all. The curves are
    in `attrs['curves']` (`plot_deletion_curves` draws them)."""
    attrs = _check_expl(expl)
    s = method_setup(learn, TEXT, output='raw' if attrs.get('output') == 'raw' else 'probability', seed=seed)
    schema, mask = s.schema, attrs.get('mask', 'unk')
    data = load_text(learn, schema, attrs['texts'], param='expl')
    rows = sorted(expl['row'].unique())
    parts = {r: expl[expl['row'] == r] for r in rows}
    ks = check_ks(k, {r: len(p) for r, p in parts.items()})
    cost = sum(2 * (len(p) + 1) * (n_random + 2) for p in parts.values())
    scores, curves = [], []
    with s.computing(), counting(learn, show_progress, cost, 'evaluating the explanation') as progress:
        for r in rows:
            ids, text, part = data.ids[r], data.texts[r], parts[r]
            units = align(text, data.tokens[r], units_of(data.tokens[r], attrs.get('unit', 'word')), schema.tokenizer.rules)
            if [(u.start, u.end) for u in units] != list(zip(part['Start'], part['End'])):
                raise ParameterError('expl', f"row {r} of `expl` does not match how this learner reads its text: it was made "
                                             "with another learner (or another unit); explain with this learner first")
            membership = torch.zeros(len(units), len(ids), dtype=torch.bool)
            for j, u in enumerate(units): membership[j, u.positions] = True
            k_out = s.labels.index(attrs['targets'][r]) if attrs['targets'][r] in s.labels else s.target()
            def value(keep, ids=ids, membership=membership, k_out=k_out):
                out = text_forward(learn.model, masked_ids(ids, membership, keep, mask, schema.unk_id), bs,
                                   progress=progress.add)
                return s.activation(out).reshape(keep.shape[0], -1)[:, k_out].double().numpy()
            ends = value(torch.tensor([[True] * len(units), [False] * len(units)]))
            full = float(ends[0])
            if abs(full - attrs['outputs'][r]) > 1e-4 * max(1.0, abs(full)):
                raise ParameterError('expl', f"row {r} of `expl` explains an output of {attrs['outputs'][r]:.4g}, but this "
                                             f"learner gives {full:.4g}: the explanation was made with another learner")
            check_base(r, attrs['base_values'][r], float(ends[1]), 'mask')
            row_scores, row_curves = faithfulness_of_row(value, part['Contribution'].to_numpy(float), ks, n_random,
                                                         s.stream('random orders', r))
            scores.append(row_scores); curves.append(row_curves)
    return evaluation_frame(rows, scores, curves, method=attrs.get('method'), unit=attrs.get('unit'), mask=mask,
                            k=[k_label(x) for x in ks], n_random=n_random, seed=seed, output=attrs.get('output'),
                            targets=list(attrs['targets']))


def _check_expl(expl) -> dict:
    import pandas as pd
    if not isinstance(expl, pd.DataFrame) or not {'row', 'Start', 'End', 'Contribution'} <= set(expl.columns):
        raise ParameterError('expl', "`expl` must be the DataFrame returned by learn.explain(texts) of this text learner")
    if 'texts' not in expl.attrs:
        raise ParameterError('expl', "`expl` has lost its attrs (the texts and outputs), as pandas does in to_csv or a "
                                     "concat: evaluate the DataFrame returned by learn.explain")
    return expl.attrs
