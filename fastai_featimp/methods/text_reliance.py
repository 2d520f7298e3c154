"""Should this prediction be trusted? For each text, the prediction with and without the flagged phrases (inputs known
to be shortcuts, such as a leak found by phrase importance), and over a whole set, how many predictions rest on
them and what removing them at prediction time costs."""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..common.progress import counting
from ..common.reliance import checked_threshold, data_threshold, reliance_scorer, reliance_scores, target_words
from ..common.setup import method_setup
from ..core.checks import plain, shown
from ..core.params import Choice, Flag, Integer, ParameterError, Seed, checked
from ..core.results import reliance_frame
from ..text.data import load_text
from ..text.kind import TEXT
from ..text.reliance import flagged_occurrences, flagged_phrases, reliance_outputs

__all__ = ['text_reliance']


@checked(output=Choice('probability', 'raw'), mask=Choice('unk', 'delete'), seed=Seed(), bs=Integer(1, none=True),
         show_progress=Flag())
def text_reliance(
    learn,                         # a fastai learner over text
    data,                          # texts: a string, a list, a Series, or a DataFrame (with the label column: a summary metric)
    flagged,                       # phrases known to be shortcuts (strings), or the top rows of a phrase-importance table
    *,
    target=None,                   # class explained (default: a binary model's positive class, else each text's predicted class)
    output:str='probability',      # 'probability' (after the loss's activation) or 'raw'
    mask:str='unk',                # how a flagged phrase is removed: its tokens replaced by xxunk, or 'delete'd
    threshold:float|None=None,     # a text relies on the flagged phrases when |Change| >= threshold (or the class flips)
    metric=None,                   # the summary's metric with and without (default: accuracy; the loss for a regression)
    greater_is_better=None,        # for a custom metric: whether higher is better (known for fastai's and sklearn's)
    text_col:str|None=None,        # the text column of a DataFrame
    label_col:str|None=None,       # the label column (for the summary metric; default: the learner's)
    seed:int|None=None,            # unused (the computation is deterministic); accepted like every method's
    bs:int|None=None,              # texts per forward pass
    show_progress:bool=True,       # a fastprogress bar over the texts run again without the flagged phrases
):
    """One row per text, in input order: `Prediction` and `Without` (the output for `target` with every occurrence of
    every flagged phrase removed, matched on the learner's own words), `Change`, `Predicted`, `PredictedWithout`,
    `Flipped`, `Found` (the flagged phrases in the text with their character offsets) and `Relies`. A text without a
    flagged phrase keeps `Without == Prediction` exactly and costs no forward pass. `attrs`: `flagged`, `target`,
    `mask`, `threshold` and a `summary` (with labels: the metric with and without the flagged phrases)."""
    s = method_setup(learn, TEXT, output=output, target=target)
    schema = s.schema
    threshold = checked_threshold(threshold, s.output_kind)   # None: chosen from the data below
    phrases = flagged_phrases(schema, flagged)
    if label_col is not None and not (isinstance(data, pd.DataFrame) and label_col in data.columns):
        has = f"it has {shown(data.columns, 10)}" if isinstance(data, pd.DataFrame) else f"it is a {type(data).__name__}"
        raise ParameterError('label_col', f"`label_col` {label_col!r} is not a column of `data` ({has}): the summary "
                                          "metric needs the labels; fix the name or leave `label_col` out")
    labelled = isinstance(data, pd.DataFrame) and (label_col or (schema.y_names[0] if schema.y_names else None)) in data.columns
    scorer = reliance_scorer(s, metric, greater_is_better) if labelled else None   # a bad metric fails before the work
    loaded = load_text(learn, schema, data, text_col=text_col, label_col=label_col, labelled=labelled, param='data')
    occurrences = flagged_occurrences(loaded.tokens, loaded.texts, phrases, schema.tokenizer.rules)
    holding = [i for i, occ in enumerate(occurrences) if occ]
    with s.computing(), counting(learn, show_progress, loaded.n_rows + len(holding), 'reliance') as progress:
        raw, raw_without = reliance_outputs(learn.model, loaded.ids, occurrences, mask, schema.unk_id, bs, progress.add)
    prob, prob_without = s.activation(raw).reshape(len(raw), -1), s.activation(raw_without).reshape(len(raw), -1)
    classifier = schema.y_vocab is not None
    ks = [s.target(target, int(prob[i].argmax())) for i in range(loaded.n_rows)]
    rows = torch.arange(loaded.n_rows)
    regression = labelled and schema.y_vocab is None and not schema.multi_label
    threshold, rule = data_threshold(threshold, s.output_kind,
                                     *((loaded.target.double().numpy().ravel(), 'the labels on the data given') if regression
                                       else (prob[rows, ks].double().numpy(), 'the outputs on the data given')))
    label = lambda p: [plain(s.labels[int(k)]) for k in p.argmax(1)] if classifier else [None] * len(p)
    found = [[dict(phrase=o.phrase, start=o.start, end=o.end) for o in occ] for occ in occurrences]
    scores = reliance_scores(scorer, raw, raw_without, loaded.target) if labelled else None
    return reliance_frame(prob[rows, ks].double().numpy(), prob_without[rows, ks].double().numpy(), label(prob),
                          label(prob_without), found, threshold, loaded.index, scores=scores,
                          flagged=[' '.join(g) for g in phrases], target=target_words(s, target, ks, 'text'), mask=mask,
                          output=s.output_kind, kind='text', texts=list(loaded.texts), threshold_rule=rule)
