"""What the reliance methods of every kind share: the threshold in the output's units, the explained target in
words, and the summary metric with and without the flagged inputs."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..core.checks import plain
from ..core.params import Number, ParameterError
from .outputs import is_binary
from .scoring import is_metric_list

__all__ = ['flagged_names', 'reliance_threshold', 'checked_threshold', 'data_threshold', 'DEFAULT_SHARE', 'target_words', 'reliance_scorer', 'reliance_scores']


def flagged_names(flagged, what: str) -> list:
    """The flagged inputs as a list: names (`what`: 'phrases' or 'columns'), one name, or the `Variable`s of (the top
    rows of) an importance table; refused when empty."""
    if isinstance(flagged, pd.DataFrame):
        if 'Variable' not in flagged.columns:
            raise ParameterError('flagged', "`flagged` as a table must be (the top rows of) an importance table, with a "
                                            "Variable column, e.g. fi.head(1)")
        flagged = list(flagged['Variable'])
    if flagged is not None and not isinstance(flagged, str):
        try: flagged = list(flagged)
        except TypeError:
            raise ParameterError('flagged', f"`flagged` must name the {what} known to be shortcuts (a string, a list of "
                                            f"strings, or the top rows of an importance table), got {flagged!r} "
                                            f"({type(flagged).__name__})") from None
    flagged = [flagged] if isinstance(flagged, str) else flagged if flagged is not None else []
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


DEFAULT_SHARE = 0.1   # the default threshold: a change of 0.1 in probability, else 0.1 standard deviation of the output


def checked_threshold(threshold, output_kind: str) -> float | None:
    "A given threshold checked (`reliance_threshold`), or None: chosen later from the data by `data_threshold`."
    return None if threshold is None else reliance_threshold(threshold, output_kind)


LOGIT_DEFAULT = 0.4   # the default for a logit: about 0.1 of probability near 0.5 (the sigmoid's slope there is 1/4)


def data_threshold(threshold, output_kind: str, values, what: str, training=None) -> tuple:
    """`(threshold, rule)`: a given threshold as it is; by default 0.1 for a probability, 0.4 for a logit, and for a
    regression's value 0.1 standard deviation of the training labels (`training`: one scale whatever rows are passed),
    else of `values` (`what` says what they are), since a fixed number in the target's units means nothing across
    targets. `rule` says which."""
    if threshold is not None: return float(threshold), 'given'
    if output_kind == 'probability': return DEFAULT_SHARE, f"default: a change of {DEFAULT_SHARE:g} in probability"
    if output_kind == 'raw': return LOGIT_DEFAULT, f"default: {LOGIT_DEFAULT:g} in logit (about 0.1 of probability near 0.5)"
    for scale, said in ((training, 'the training labels'), (values, what)):
        if scale is None: continue
        scale = np.asarray(scale, dtype=float).ravel()
        scale = scale[np.isfinite(scale)]
        spread = float(scale.std(ddof=1)) if len(scale) > 1 else 0.0
        if spread > 0:
            return DEFAULT_SHARE * spread, (f"default: {DEFAULT_SHARE:g} x the standard deviation of {said} "
                                            f"({spread:.4g}) = {DEFAULT_SHARE * spread:.4g}")
    raise ParameterError('threshold', f"the default `threshold` is {DEFAULT_SHARE:g} standard deviation of the training "
                                      f"labels (not available: an exported learner keeps none) or of {what}, which have "
                                      "no spread; pass `threshold=` in the target's units (the change that matters)")


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
