"""What the reliance methods of every kind share: the threshold in the output's units, the explained target in
words, and the summary metric with and without the flagged inputs."""
from __future__ import annotations

import pandas as pd

from ..core.checks import plain
from ..core.params import Number, ParameterError
from .outputs import is_binary
from .scoring import is_metric_list

__all__ = ['flagged_names', 'reliance_threshold', 'target_words', 'reliance_scorer', 'reliance_scores']


def flagged_names(flagged, what: str) -> list:
    """The flagged inputs as a list: names (`what`: 'phrases' or 'columns'), one name, or the `Variable`s of (the top
    rows of) an importance table; refused when empty."""
    if isinstance(flagged, pd.DataFrame):
        if 'Variable' not in flagged.columns:
            raise ParameterError('flagged', "`flagged` as a table must be (the top rows of) an importance table, with a "
                                            "Variable column, e.g. fi.head(1)")
        flagged = list(flagged['Variable'])
    flagged = [flagged] if isinstance(flagged, str) else list(flagged) if flagged is not None else []
    if not flagged: raise ParameterError('flagged', f"`flagged` is empty: name the {what} known to be shortcuts")
    return flagged


def reliance_threshold(threshold, output_kind: str) -> float:
    "A probability threshold in (0, 1]; any positive number for a logit or a regression's value."
    constraint = Number(0, 1, low_open=True) if output_kind == 'probability' else Number(0, low_open=True)
    problem = constraint.problem(threshold)
    if problem:
        raise ParameterError('threshold', f"`threshold` {problem}" + (" (a change of the predicted probability)"
                                                                     if output_kind == 'probability' else ''))
    return float(threshold)


def target_words(s, target, ks, rows: str) -> str:
    "The explained output in words: the given target, a binary model's positive class, or each row's predicted class."
    if target is not None: return str(target)
    if is_binary(s.schema): return f"positive class {s.schema.y_vocab[1]}"
    if len(s.labels) == 1: return str(plain(s.labels[0]))
    return str(plain(s.labels[ks[0]])) if len(set(ks)) == 1 else f"each {rows}'s predicted class"


def reliance_scorer(s, metric, greater_is_better=None):
    """The summary's one metric (default: accuracy for a classifier, the loss otherwise), checked before any work."""
    if is_metric_list(metric):
        if len(metric) != 1:
            raise ParameterError('metric', f"the reliance summary compares one metric with and without the flagged "
                                           f"inputs; `metric` holds {len(metric)}: pass one of them")
        metric = metric[0]
    if metric is None: metric = 'accuracy' if s.schema.y_vocab is not None or s.schema.multi_label else None
    scorer, = s.scorers(metric, greater_is_better)
    return scorer


def reliance_scores(scorer, raw, raw_without, target) -> dict:
    "The metric over labelled rows with and without the flagged inputs: what removing them at prediction time costs."
    return dict(metric=scorer.name, greater_is_better=scorer.greater_is_better, score=scorer(raw, target),
                score_without=scorer(raw_without, target))
