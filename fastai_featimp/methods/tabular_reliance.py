"""Should this prediction be trusted? For each row of a table, the prediction with and without the flagged columns
(inputs known to be shortcuts: a discharge code, an identifier that encodes the outcome), where "without" is the
interventional expectation of Shapley values: the flagged columns (with their `_na`) taken from each background
row, the outputs averaged."""
from __future__ import annotations

import pandas as pd
import torch

from ..common.progress import counting
from ..common.reliance import checked_threshold, data_threshold, reliance_scorer, reliance_scores, target_words
from ..common.setup import method_setup
from ..core.checks import plain
from ..core.params import Choice, Flag, Integer, Seed, checked
from ..core.results import reliance_frame
from ..core.forward import default_bs
from ..tabular.coalitions import explained_and_background
from ..tabular.data import load_tabular, training_targets
from ..tabular.kind import TABULAR
from ..tabular.reliance import flagged_variables, raw_from_expected, without_flagged_columns

__all__ = ['tabular_reliance']


@checked(output=Choice('probability', 'raw'), n_background=Integer(2), seed=Seed(), bs=Integer(1, none=True),
         show_progress=Flag())
def tabular_reliance(
    learn,                         # a fastai tabular Learner
    data,                          # DataFrame of rows (with the label column: a summary metric with and without)
    flagged,                       # columns known to be shortcuts (names, or the top rows of an importance table)
    *,
    target=None,                   # class explained (default: a binary model's positive class, else each row's predicted class)
    output:str='probability',      # 'probability' (after the loss's activation) or 'raw' (logit / value)
    background=None,               # DataFrame of reference rows; None: a seeded sample of the training set
    n_background:int=100,          # size of that sample
    threshold:float|None=None,     # a row relies on the flagged columns when |Change| >= threshold (or the class flips)
    metric=None,                   # the summary's metric with and without (default: accuracy; the loss for a regression)
    greater_is_better=None,        # for a custom metric: whether higher is better (known for fastai's and sklearn's)
    seed:int|None=None,            # same seed, same background sample
    bs:int|None=None,              # rows per forward pass (each row is run once per background row)
    show_progress:bool=True,       # a fastprogress bar over the rows
):
    """One row per input row, in input order: `Prediction`, `Without` (the mean output with the flagged columns taken
    from each background row), `Change`, `Predicted`, `PredictedWithout`, `Flipped`, `Found` (the flagged columns'
    values as written) and `Relies`. `attrs`: `flagged`, `target`, `threshold`, `n_background` and a `summary`."""
    s = method_setup(learn, TABULAR, output=output, seed=seed, target=target)
    threshold = checked_threshold(threshold, s.output_kind)   # None: chosen from the data below
    flagged_vars = flagged_variables(s.variables, flagged)
    labelled = isinstance(data, pd.DataFrame) and set(s.schema.y_names) <= set(data.columns)
    scorer = reliance_scorer(s, metric, greater_is_better) if labelled else None   # a bad metric fails before the work
    with s.computing():
        x, bg = explained_and_background(learn, s.schema, data, background, n_background, s.stream('background'),
                                        param='data')
        n = x[0].shape[0]
        with torch.inference_mode(): raw = learn.model(*x).reshape(n, -1)
        prob = s.activation(raw).reshape(n, -1).double().cpu()
        with counting(learn, show_progress, n, 'reliance') as progress:
            prob_without = without_flagged_columns(learn.model, x, bg, flagged_vars, s.activation,
                                                   bs or default_bs(x[0].device), progress=progress.add)
        target_t = load_tabular(learn, s.schema, data, labelled=True, param='data').target if labelled else None
    ks = [s.target(target, int(prob[i].argmax())) for i in range(n)]
    rows = torch.arange(n)
    threshold, rule = data_threshold(threshold, s.output_kind, *_scale(s, labelled, target_t, prob[rows, ks]),
                                     training=training_targets(learn, ks[0]))
    classifier = s.schema.y_vocab is not None
    label = lambda p: [plain(s.labels[int(k)]) for k in p.argmax(1)] if classifier else [None] * n
    scores = None
    if labelled:
        raw_without = raw_from_expected(prob_without, s.schema, s.output).to(raw.device)
        scores = reliance_scores(scorer, raw.float(), raw_without, target_t)
    found = [{m: plain(data.iloc[i][m]) for v in flagged_vars for m in v.members} for i in range(n)]
    return reliance_frame(prob[rows, ks].numpy(), prob_without[rows, ks].numpy(), label(prob), label(prob_without),
                          found, threshold, list(data.index), scores=scores, flagged=[v.name for v in flagged_vars],
                          target=target_words(s, target, ks, 'row'), n_background=int(bg[0].shape[0]),
                          output=s.output_kind, kind='tabular', threshold_rule=rule, counts_found=False)


def _scale(s, labelled: bool, labels, outputs) -> tuple:
    "What the default threshold of a logit or a regression is a share of: the labels where given, else the outputs."
    if labelled and s.schema.y_vocab is None and not s.schema.multi_label:
        return labels.double().cpu().numpy().ravel(), 'the labels on the data given'
    return outputs.double().cpu().numpy().ravel(), 'the outputs on the data given'
