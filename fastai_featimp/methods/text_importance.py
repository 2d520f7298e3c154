"""Which phrases a fastai text classifier relies on, over a labelled set of texts: each candidate phrase is masked
wherever it occurs, in every text, and the metric over the whole set is compared (dataset-level ablation),
with a bootstrap over texts for the spread."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..common.outputs import is_binary, output_activation
from ..common.progress import progress_for
from ..common.scoring import is_metric_list, learner_scorers
from ..core.checks import check_choice, check_int
from ..core.results import importance_frame
from ..core.seeding import root_seed, stream
from ..core.state import eval_mode, preserved_state
from ..core.stats import summarize_bootstrap
from ..text.ablation import ablation_outputs, build_ablation, mean_deltas, metric_changes
from ..text.data import MULTI_LABEL_TEXT, load_text, phrase_words, word_keys
from ..text.phrases import candidate_phrases, stop_words
from ..text.schema import text_schema

__all__ = ['phrase_importance']

NO_TEST_SET = ("no test set given: phrase importance is measured on the validation set, which guided training choices; "
               "a held-out labelled DataFrame (df=test_df) gives the unbiased estimate")


@dataclass(frozen=True)
class Phrase:
    "One reported row: the phrase, `Type` ('word' or 'phrase'), its words."
    name: str
    kind: str
    members: tuple


def phrase_importance(
    learn,                        # a fastai learner over text (text_classifier_learner, or Learner with text dls)
    test_dl=None,                 # a labelled DataFrame may be given here too (taken as `df`)
    *,
    df=None,                      # labelled DataFrame with the learner's text and label columns; None: the validation set
    max_n:int=2,                  # candidates are word n-grams of up to this many words
    min_support:int|None=None,    # texts a candidate must occur in (default: max(10, 1% of the texts))
    candidates=None,              # phrases to score instead of the n-grams found (strings)
    metric=None,                  # None (the loss), a name, a fastai metric, a callable, or a list of them
    n_bootstrap:int=200,          # bootstrap resamples of the texts for Std, the interval and the p-value (0: none)
    exclude=None,                 # stop words a candidate may not start or end with: 'english', a list, or None
    sort_by:str='Importance',     # 'Importance' (change in the metric) or 'MeanDelta' (effect on the target's probability)
    mask:str='unk',               # masked words become `xxunk`, or are 'delete'd
    max_rows:int|None=None,       # score a seeded sample of at most this many texts
    seed:int|None=None,           # same seed, same sample and bootstrap
    bs:int|None=None,             # texts per forward pass (default: 16,384 tokens' worth)
    text_col:str|None=None,       # the text column (default: the one the learner was built from)
    label_col:str|None=None,      # the label column (default: the one the learner was built from)
    greater_is_better=None,       # direction of a custom metric
    show_progress:bool=True,      # a fastprogress bar over the forward passes
):
    """Global phrase importance by dataset-level ablation: the drop in quality when every occurrence of a phrase is
    masked in every text. The importance table of tabular learners plus `Support` (texts containing the phrase)
    and `MeanDelta` (mean change of the target's probability on those texts when the phrase is there rather
    than masked: positive when it pushes towards the target)."""
    if test_dl is not None and df is not None: raise ValueError("pass the texts once: df=")
    df = test_dl if df is None else df
    max_n = check_int('max_n', max_n)
    n_bootstrap = check_int('n_bootstrap', n_bootstrap, minimum=0)
    check_choice('sort_by', sort_by, ('Importance', 'MeanDelta'))
    check_choice('mask', mask, ('unk', 'delete'))
    if min_support is not None: min_support = check_int('min_support', min_support)
    stop = stop_words(exclude)
    schema = text_schema(learn)
    if schema.multi_label: raise TypeError(MULTI_LABEL_TEXT)
    scorers = learner_scorers(learn, schema, metric, greater_is_better)
    root = root_seed(seed)
    data = load_text(learn, schema, df, text_col=text_col, label_col=label_col, labelled=True, warn=NO_TEST_SET,
                     max_rows=max_rows, rng=stream(root, 'subsample'), what='df',
                     hint=': a learner from load_learner has no validation set: pass df=')
    n = data.n_rows
    if n < 2: raise ValueError(f"phrase importance needs at least 2 labelled texts, got {n}")
    if candidates is not None:
        grams = {phrase_words(schema, c): 0 for c in ([candidates] if isinstance(candidates, str) else candidates)}
    else:
        support = max(10, int(np.ceil(0.01 * n))) if min_support is None else min_support
        grams = candidate_phrases(word_keys(schema, data), max_n, support, stop)
        if not grams:
            raise ValueError(f"no word or phrase of up to {max_n} words occurs in at least {support} of the {n} texts: "
                             "lower min_support or pass candidates=")
    ab = build_ablation(data.tokens, data.ids, grams, mask, schema.unk_id)
    with preserved_state(), eval_mode(learn.model):
        ticks = iter(progress_for(learn, show_progress, 'phrase importance')(range(ab.n_forward), total=ab.n_forward))
        base, variants = ablation_outputs(learn.model, ab, bs, progress=lambda k: [next(ticks, None) for _ in range(k)])
    target = data.target
    mean_delta = np.full(len(ab.phrases), np.nan)
    if schema.y_vocab is not None:   # for the target: a binary model's positive class, else each text's true class
        classes = torch.full((n,), 1) if is_binary(schema) else target.long().view(-1)
        mean_delta = mean_deltas(output_activation(learn, 'probability'), base, variants, ab, classes)
    rng = stream(root, 'bootstrap')
    resamples = [rng.integers(0, n, n) for _ in range(n_bootstrap)]
    variables = [Phrase(' '.join(g), 'word' if len(g) == 1 else 'phrase', (' '.join(g),)) for g in ab.phrases]
    frames = {}
    for s in scorers:
        full, reps = metric_changes(s, learn.loss_func, base, variants, ab, target, resamples)
        sign = -1.0 if s.greater_is_better else 1.0
        full, reps = sign * full, sign * reps
        frames[s.name] = importance_frame(
            variables, reps if n_bootstrap else full[:, None], summary=summarize_bootstrap(full, reps),
            columns=dict(Support=ab.support, MeanDelta=mean_delta), sort_by=sort_by, method='phrase ablation',
            baseline=float(s(base, target)), metric=s.name, greater_is_better=s.greater_is_better,
            n_bootstrap=n_bootstrap, seed=seed, n_rows=n, source=data.source, mask=mask, max_n=max_n,
            min_support=None if candidates is not None else int(min(ab.support)),
            target=('positive class ' + str(schema.y_vocab[1])) if is_binary(schema) else "each text's true class",
            n_forward_texts=ab.n_forward)
    return frames if is_metric_list(metric) else frames[scorers[0].name]
