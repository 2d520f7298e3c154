"""Which phrases a fastai text classifier relies on, over a labelled set of texts: each candidate phrase is masked
wherever it occurs, in every text, and the metric over the whole set is compared (dataset-level ablation),
with a bootstrap over texts for the spread."""
from __future__ import annotations

import copy
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
from ..text.data import load_text, tokenize
from ..text.forward import text_forward
from ..text.phrases import candidate_phrases, occurrence_index, stop_words
from ..text.schema import text_schema
from ..text.units import word_units

__all__ = ['phrase_importance']

NO_TEST_SET = ("no test set given: phrase importance is measured on the validation set, which guided training choices; "
               "a held-out labelled DataFrame (df=test_df) gives the unbiased estimate")


@dataclass(frozen=True)
class Phrase:
    "One reported row: the phrase, `Type` ('word' or 'phrase'), its words."
    name: str
    kind: str
    members: tuple


def _phrase_words(schema, phrase: str) -> tuple:
    "The normalised words of a phrase the user gave, tokenised as the learner tokenises."
    keys = tuple(u.key for u in word_units(tokenize(schema, [phrase])[0]))
    if not keys: raise ValueError(f"candidate {phrase!r} holds no words")
    return keys


def _per_text_loss(loss_func):
    "The loss per text (reduction 'none') when the loss offers it, else None (then every resample is scored)."
    if not hasattr(loss_func, 'reduction'): return None
    per_item = copy.deepcopy(loss_func)
    try: per_item.reduction = 'none'
    except Exception: return None
    return per_item


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
    scorers = learner_scorers(learn, schema, metric, greater_is_better)
    root = root_seed(seed)
    data = load_text(learn, schema, df, text_col=text_col, label_col=label_col, labelled=True, warn=NO_TEST_SET,
                     max_rows=max_rows, rng=stream(root, 'subsample'), what='df',
                     hint=': a learner from load_learner has no validation set: pass df=')
    n = data.n_rows
    if n < 2: raise ValueError(f"phrase importance needs at least 2 labelled texts, got {n}")
    words = [word_units(t) for t in data.tokens]
    keys = [[w.key for w in ws] for ws in words]
    unk = schema.vocab[schema.unk_id]
    if candidates is not None:
        grams = {_phrase_words(schema, c): 0 for c in ([candidates] if isinstance(candidates, str) else candidates)}
    else:
        support = max(10, int(np.ceil(0.01 * n))) if min_support is None else min_support
        grams = candidate_phrases(keys, max_n, support, stop, unk)
        if not grams:
            raise ValueError(f"no word or phrase of up to {max_n} words occurs in at least {support} of the {n} texts: "
                             "lower min_support or pass candidates=")
    where = occurrence_index(keys, grams)
    grams = {g: len(where[g]) for g in grams}   # support: texts containing the phrase
    phrases = sorted(grams, key=lambda g: (-grams[g], g))
    # one masked variant per (phrase, text containing it)
    variants, owner, text_of = [], [], []
    for p, g in enumerate(phrases):
        for t, starts in sorted(where[g].items()):
            drop = torch.zeros(len(data.ids[t]), dtype=torch.bool)
            for s in starts:
                for w in words[t][s:s + len(g)]: drop[w.positions] = True
            ids = data.ids[t]
            variants.append(torch.where(drop, torch.full_like(ids, schema.unk_id), ids) if mask == 'unk' else ids[~drop])
            owner.append(p); text_of.append(t)
    total = n + len(variants)
    with preserved_state(), eval_mode(learn.model):
        ticks = iter(progress_for(learn, show_progress, 'phrase importance')(range(total), total=total))
        preds = text_forward(learn.model, list(data.ids) + variants, bs,
                             progress=lambda k: [next(ticks, None) for _ in range(k)])
    base_preds, var_preds = preds[:n], preds[n:]
    owner, text_of = torch.tensor(owner, dtype=torch.long), torch.tensor(text_of, dtype=torch.long)
    target = data.target
    # MeanDelta: how much the phrase raises the probability of the target (a binary model's positive class,
    # else each text's true class) on the texts that contain it
    probs = output_activation(learn, 'probability')
    k_of = (torch.full((n,), 1) if is_binary(schema) else target.long().view(-1)) if schema.y_vocab is not None else None
    mean_delta, support = np.full(len(phrases), np.nan), np.array([grams[g] for g in phrases])
    if k_of is not None:
        p_base = probs(base_preds)[torch.arange(n), k_of]
        p_var = probs(var_preds)[torch.arange(len(var_preds)), k_of[text_of]]
        delta = (p_base[text_of] - p_var).double()
        sums = torch.zeros(len(phrases), dtype=torch.double).index_add_(0, owner, delta)
        mean_delta = (sums / torch.as_tensor(np.maximum(support, 1))).numpy()
        mean_delta[support == 0] = np.nan
    rng = stream(root, 'bootstrap')
    resamples = [rng.integers(0, n, n) for _ in range(n_bootstrap)]
    variables = [Phrase(' '.join(g), 'word' if len(g) == 1 else 'phrase', (' '.join(g),)) for g in phrases]
    frames = {}
    for s in scorers:
        full, reps = _scores(s, learn.loss_func, base_preds, var_preds, owner, text_of, target, len(phrases), resamples)
        sign = -1.0 if s.greater_is_better else 1.0
        full, reps = sign * full, sign * reps
        baseline = s(base_preds, target)
        frames[s.name] = importance_frame(
            variables, reps if n_bootstrap else full[:, None], summary=summarize_bootstrap(full, reps),
            columns=dict(Support=support, MeanDelta=mean_delta), sort_by=sort_by, method='phrase ablation',
            baseline=float(baseline), metric=s.name, greater_is_better=s.greater_is_better, n_bootstrap=n_bootstrap,
            seed=seed, n_rows=n, source=data.source, mask=mask, max_n=max_n,
            min_support=None if candidates is not None else int(min(grams.values()) if grams else 0),
            target=('positive class ' + str(schema.y_vocab[1])) if is_binary(schema) else "each text's true class",
            n_forward_texts=total)
    return frames if is_metric_list(metric) else frames[scorers[0].name]


def _scores(scorer, loss_func, base, variants, owner, text_of, target, n_phrases, resamples) -> tuple:
    """`(full, replicates)`: the metric change (masked - original) per phrase over the whole set, and over each
    bootstrap resample of the texts (paired: the same texts with and without the phrase)."""
    n = len(base)
    per_item = _per_text_loss(loss_func) if scorer.name == 'loss' else None
    if per_item is not None:
        with torch.no_grad(): l0, lv = per_item(base, target).double(), per_item(variants, target[text_of]).double()
        if l0.shape == (n,) and torch.isclose(l0.mean(), torch.as_tensor(float(loss_func(base, target)), dtype=torch.double)):
            diff = torch.zeros(n_phrases, n, dtype=torch.double)
            diff[owner, text_of] = lv - l0[text_of]                 # change of each text's loss when masked
            full = diff.mean(1).numpy()
            counts = np.stack([np.bincount(r, minlength=n) for r in resamples]) if resamples else np.zeros((0, n))
            reps = (diff.numpy() @ counts.T) / n                    # (n_phrases, B)
            return full, reps
    def masked(p):
        preds = base.clone()
        sel = owner == p
        preds[text_of[sel]] = variants[sel]
        return preds
    full, reps = np.empty(n_phrases), np.empty((n_phrases, len(resamples)))
    base_score = scorer(base, target)
    base_reps = [scorer(base[r], target[r]) for r in resamples]
    for p in range(n_phrases):
        preds = masked(p)
        full[p] = scorer(preds, target) - base_score
        reps[p] = [scorer(preds[r], target[r]) - b for r, b in zip(resamples, base_reps)]
    return full, reps
