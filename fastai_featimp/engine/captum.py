"""captum's attribution methods on a learner of any kind with an adapter: the model as a forward function of the
inputs as the model reads them, baselines that are the inputs with every unit removed (the kind's own removal, not
captum's zero: after fastai's Normalize a zero image is the mean image, and `xxpad` is not a missing word), a feature
mask grouping input positions into the kind's units, and captum's attributions back as this package's explanation
frame."""
from __future__ import annotations

import pandas as pd
import torch

from ..common.setup import method_setup
from ..core.captum import CaptumInputs
from ..core.checks import plain
from ..core.params import Choice, ParameterError, Seed, checked

__all__ = ['captum_inputs_of_units']


@checked(output=Choice('probability', 'raw'), seed=Seed())
def captum_inputs_of_units(
    learn,                       # a fastai learner of a kind with an adapter (text, images, or one registered)
    data,                        # the items to attribute (for text: one text)
    *,
    target=None,                 # class to attribute (default: a binary model's positive class, else each item's predicted class)
    output:str='probability',    # 'probability' (after the loss's activation) or 'raw'
    seed:int|None=None,          # same seed, same baseline where the kind draws one (a training row of a table)
    _kind=None,                  # the learner's kind (set by its door)
    **options,                   # the kind's own arguments (its units, how a unit is removed)
) -> CaptumInputs:
    """Everything captum needs to attribute this learner's predictions: `forward_func`, `inputs` (as the model reads
    them), `baselines` (every unit removed, as `explain` removes it), `feature_mask` (one group per unit, in the order
    of `explain`'s units), `target`, `layer` where the kind has one (the embedding layer of a text model, Grad-CAM's
    layer of an image model) and `to_frame(attributions)`; `embedding()` where gradients need float inputs (text)."""
    s = method_setup(learn, _kind, output=output, target=target, seed=seed)
    adapter = s.kind.adapter()
    with s.computing():
        items = adapter.load(s, data, param=adapter.item if adapter.captum_one_item else adapter.items,
                             method='captum', **options)
        if adapter.captum_one_item and items.n_rows != 1:
            raise ParameterError(adapter.item, f"captum attributes one {adapter.item} at a time (its inputs have its "
                                               f"length); `{adapter.item}` holds {items.n_rows}: call captum_inputs for each")
        units = [items.units(i) for i in range(items.n_rows)]
        c = items.captum(s.activation)
    forward_func = c['forward_func']
    with torch.no_grad(): out = forward_func(*c['inputs'])
    ks = [s.target(target, int(o.argmax())) for o in out]

    n = len(ks)
    baselines = [b.expand(n, *b.shape[1:]) if b.shape[0] == 1 and n > 1 else b for b in c['baselines']]

    def frame(values):
        with torch.no_grad(): full, base = forward_func(*c['inputs']), forward_func(*baselines)
        records = [dict(row=i, Variable=name, **{col: v[j] for col, v in u.where.items()}, Contribution=float(values[i, j]),
                        Std=float('nan'), **{col: v[j] for col, v in u.about.items()})
                   for i, u in enumerate(units) for j, name in enumerate(u.names)]
        expl = pd.DataFrame.from_records(records)
        expl.attrs.update(method='captum', kind=s.kind.name, base_values=[float(base[i, k]) for i, k in enumerate(ks)],
                          outputs=[float(full[i, k]) for i, k in enumerate(ks)], targets=[plain(s.labels[k]) for k in ks],
                          output=s.output_kind, row_index=plain(items.index), **items.attrs())
        return expl

    target_ = ks[0] if len(set(ks)) == 1 else ks
    embedding = c.get('embedding')
    names = list(max(units, key=len).names)   # the groups: items may have different counts (an image's superpixels)
    return CaptumInputs(forward_func, c['inputs'], c['baselines'], c['feature_mask'], target_, names,
                        frame, layer=c.get('layer'), first_group=c['first_group'], per_pixel=c.get('per_pixel', False),
                        embedding_fn=(lambda: embedding(target_, names, frame)) if embedding else None)
