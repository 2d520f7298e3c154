"""Which phrases a fastai text classifier relies on, over a labelled set of texts: each candidate phrase is masked
wherever it occurs, in every text, and the metric over the whole set is compared (dataset-level ablation),
with a bootstrap over texts for the spread."""
from __future__ import annotations


import numpy as np

from ..common.parallel import check_jobs, mapper
from ..common.scoring import is_metric_list
from ..common.setup import method_setup
from ..core.params import Choice, Flag, Integer, ParameterError, Seed, checked
from ..core.results import importance_frame
from ..common.ablation import mean_delta_target, removal_importance
from .ablation import ablation_outputs, build_present_ablation
from .data import MULTI_LABEL_TEXT, load_text, phrase_list, word_keys
from .kind import TEXT
from .phrases import candidate_phrases, phrases_of, stop_words

__all__ = ['phrase_importance']

NO_TEST_SET = ("no test set given: phrase importance is measured on the validation set, which guided training choices; "
               "a held-out labelled DataFrame (df=test_df) gives the unbiased estimate")


@checked(max_n=Integer(1), min_support=Integer(1, none=True), n_bootstrap=Integer(0), sort_by=Choice('Importance', 'MeanDelta'),
         mask=Choice('unk', 'delete'), max_rows=Integer(2, none=True), seed=Seed(), bs=Integer(1, none=True),
         show_progress=Flag())
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
    exclude='auto',               # stop words a candidate may not start or end with: 'auto' (English ones for an English vocabulary), 'english', a list, or None
    sort_by:str='Importance',     # 'Importance' (change in the metric) or 'MeanDelta' (effect on the target's probability)
    mask:str='unk',               # masked words become `xxunk`, or are 'delete'd
    max_rows:int|None=None,       # score a seeded sample of at most this many texts
    seed:int|None=None,           # same seed, same sample and bootstrap
    bs:int|None=None,             # texts per forward pass (default: 16,384 tokens' worth)
    text_col:str|None=None,       # the text column (default: the one the learner was built from)
    label_col:str|None=None,      # the label column (default: the one the learner was built from)
    greater_is_better=None,       # direction of a custom metric
    n_jobs:int=1,                 # forward batches run in parallel through joblib (-1: all cores; a joblib backend decides where)
    show_progress:bool=True,      # a fastprogress bar over the forward passes
):
    """Global phrase importance by dataset-level ablation: the drop in quality when every occurrence of a phrase is
    masked in every text. The importance table of tabular learners plus `Support` (texts containing the phrase)
    and `MeanDelta` (mean change of the target's probability on those texts when the phrase is there rather
    than masked: positive when it pushes towards the target)."""
    if test_dl is not None and df is not None: raise ParameterError('df', "pass the texts once: `df=`")
    check_jobs(n_jobs)
    df = test_dl if df is None else df
    s = method_setup(learn, TEXT, seed=seed)
    schema = s.schema
    if schema.multi_label: raise TypeError(MULTI_LABEL_TEXT)
    stop, excluded = stop_words(exclude, schema.vocab)
    scorers = s.scorers(metric, greater_is_better)
    wanted = phrase_list(schema, candidates) if candidates is not None else None
    data = load_text(learn, schema, df, text_col=text_col, label_col=label_col, labelled=True, fallback_warning=NO_TEST_SET,
                     max_rows=max_rows, rng=s.stream('subsample'), param='df', min_rows=2,
                     hint=': a learner from load_learner has no validation set: pass `df=`')
    n = data.n_rows
    if wanted is not None:
        grams = {g: 0 for g in wanted}
    else:
        support = max(10, int(np.ceil(0.01 * n))) if min_support is None else min_support
        grams = candidate_phrases(word_keys(schema, data), max_n, support, stop)
        if not grams:
            raise ParameterError('min_support', f"no word or phrase of up to {max_n} words occurs in at least {support} "
                                                f"of the {n} texts: lower `min_support` or pass `candidates=`")
    ab, absent = build_present_ablation(data.tokens, data.ids, grams, mask, schema.unk_id, f'{n} texts',
                                        'are left out of the table')
    with s.computing():
        base, variants = ablation_outputs(learn.model, ab, bs,
                                          mapper=mapper(check_jobs(n_jobs), learn, show_progress, 'phrase importance'))
    scored, mean_delta = removal_importance(s, scorers, base, variants, ab, data.target, n_bootstrap)
    variables = phrases_of(ab.phrases)
    frames = {name: importance_frame(
                  variables, r.replicates if n_bootstrap else r.full[:, None], summary=r.summary,
                  columns=dict(Support=ab.support, MeanDelta=mean_delta), sort_by=sort_by, method='phrase ablation',
                  baseline=r.baseline, metric=name, greater_is_better=sc.greater_is_better,
                  n_bootstrap=n_bootstrap, seed=seed, n_rows=n, source=data.source, mask=mask, max_n=max_n,
                  min_support=None if wanted is not None else int(min(ab.support)), excluded=excluded, absent=absent,
                  target=mean_delta_target(s, 'text'), n_forward_texts=ab.n_forward)
              for (name, r), sc in zip(scored.items(), scorers)}
    return frames if is_metric_list(metric) else frames[scorers[0].name]
