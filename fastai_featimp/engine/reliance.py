"""Should this prediction be trusted? For each item, the prediction with and without the flagged inputs (inputs known
to be shortcuts: a phrase, a region), and over a whole set, how many predictions rest on them and what removing them
at prediction time costs; for any kind, through its adapter."""
from __future__ import annotations

import torch

from ..common.progress import counting
from ..common.reliance import checked_threshold, data_threshold, reliance_scorer, reliance_scores, target_words
from ..common.setup import method_setup
from ..core.checks import plain
from ..core.params import Choice, Flag, Integer, Number, Seed, checked
from ..core.results import reliance_frame

__all__ = ['reliance_of_units']


@checked(output=Choice('probability', 'raw'), seed=Seed(), bs=Integer(1, none=True), show_progress=Flag(),
         threshold=Number(none=True))   # its range depends on the output: checked inside
def reliance_of_units(
    learn,                         # a fastai learner of a kind with an adapter (text, images, or one registered)
    data,                          # the items (with the label column: a summary metric)
    flagged,                       # the inputs known to be shortcuts, as the kind names them (phrases, boxes)
    *,
    target=None,                   # class explained (default: a binary model's positive class, else each item's predicted class)
    output:str='probability',      # 'probability' (after the loss's activation) or 'raw'
    threshold:float|None=None,     # an item relies on the flagged inputs when |Change| >= threshold (or the class flips)
    metric=None,                   # the summary's metric with and without (default: accuracy; the loss for a regression)
    greater_is_better=None,        # for a custom metric: whether higher is better (known for fastai's and sklearn's)
    seed:int|None=None,            # same seed, same background sample (a table's); text and images are deterministic
    bs:int|None=None,              # items per forward pass
    show_progress:bool=True,       # a fastprogress bar over the items run again without the flagged inputs
    _kind=None,                    # the learner's kind (set by its door)
    **options,                     # the kind's own arguments (how a flagged input is removed, columns of a DataFrame)
):
    """One row per item, in input order: `Prediction` and `Without` (the output for `target` with the flagged inputs
    removed, as the kind removes a unit), `Change`, `Predicted`, `PredictedWithout`, `Flipped`, `Found` (what was
    flagged in the item) and `Relies`. `attrs`: `flagged`, `target`, `threshold` and a `summary` (with labels: the
    metric with and without the flagged inputs)."""
    s = method_setup(learn, _kind, output=output, target=target, seed=seed)
    adapter, schema = s.kind.adapter(), s.schema
    threshold = checked_threshold(threshold, s.output_kind)   # None: chosen from the data below
    flag = adapter.flagged(s, flagged)
    label_col = options.pop('label_col', None)
    labelled = adapter.is_labelled(s, data, label_col)
    scorer = reliance_scorer(s, metric, greater_is_better) if labelled else None   # a bad metric fails before the work
    with s.computing():
        items = adapter.load(s, data, param='data', labelled=labelled, label_col=label_col, bs=bs,
                             show_progress=show_progress, **options)
        with counting(learn, show_progress, 2 * items.n_rows, 'reliance') as progress:
            raw = items.forward(progress.add)
            without = items.without(flag, progress.add)
    n, raw_without = items.n_rows, without.raw
    prob = s.activation(raw).reshape(n, -1)
    prob_without = without.expected if without.expected is not None else s.activation(raw_without).reshape(n, -1)
    ks = [s.target(target, int(prob[i].argmax())) for i in range(n)]
    rows = torch.arange(n)
    regression = labelled and schema.y_vocab is None and not schema.multi_label
    threshold, rule = data_threshold(threshold, s.output_kind,
                                     *((items.target.double().numpy().ravel(), 'the labels on the data given') if regression
                                       else (prob[rows, ks].double().numpy(), 'the outputs on the data given')),
                                     training=adapter.training_scale(s, ks))
    label = lambda p: [plain(s.labels[int(k)]) for k in p.argmax(1)] if schema.y_vocab is not None else [None] * len(p)
    scores = reliance_scores(scorer, raw, raw_without, items.target) if labelled else None
    return reliance_frame(prob[rows, ks].double().numpy(), prob_without[rows, ks].double().numpy(), label(prob),
                          label(prob_without), without.found, threshold, items.index, scores=scores,
                          flagged=adapter.describe_flagged(flag), target=target_words(s, target, ks, adapter.item),
                          output=s.output_kind, kind=s.kind.name, threshold_rule=rule,
                          **adapter.reliance_attrs(items, options))
