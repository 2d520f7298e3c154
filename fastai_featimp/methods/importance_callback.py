"""Importance while training: a fastai callback that measures, after every few epochs, how much the model relies on
each input (tabular columns, or phrases of a text learner) on held-out rows and on a fixed sample of training rows,
without changing the training in any way."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from fastai.callback.core import Callback

from ..common.kinds import data_kind
from ..common.scoring import learner_scorers
from ..core.checks import check_int
from ..core.forward import batched_forward, default_bs
from ..core.permutation import permutation_scores
from ..core.seeding import root_seed, stream
from ..core.state import eval_mode, preserved_state
from ..tabular.data import load_tabular
from ..tabular.schema import tabular_schema
from ..tabular.variables import resolve_variables
from ..text.ablation import ablation_outputs, build_ablation, metric_changes
from ..text.data import MULTI_LABEL_TEXT, load_text, phrase_words, word_keys
from ..text.forward import text_forward
from ..text.phrases import candidate_phrases, stop_words
from ..text.schema import text_schema

__all__ = ['ImportanceCallback', 'ImportanceReport']

N_BOOTSTRAP = 50          # resamples of the rows for each importance's standard error (no extra forward pass)
TEXT_ROWS = 300           # a text learner's default rows per split: every phrase costs a pass per text holding it
TEXT_CANDIDATES = 40      # a text learner's phrases tracked by default (the most frequent in the held-out texts)
MATERIAL = 0.1            # a memorised column's excess is at least this share of the top held-out importance


@dataclass
class _Split:
    "One set of rows the callback scores: its tensors (tabular) or ablation (text), and its bootstrap resamples."
    name: str
    target: torch.Tensor
    resamples: list
    inputs: list = field(default_factory=list)     # tabular
    ablation: object = None                        # text
    order: list | None = None                      # text: the tracked phrases' rows in `ablation`


@dataclass
class ImportanceReport:
    "What the history says at the last evaluation, in plain sentences (`str(report)`), with the columns behind it."
    memorised: list
    leaks: list
    sentences: list

    def __str__(self) -> str: return '\n'.join(self.sentences)
    def __repr__(self) -> str: return str(self)


class ImportanceCallback(Callback):
    """Permutation importance (tabular) or phrase importance (text) after every `every` epochs and after the last,
    on held-out rows and on a fixed seeded sample of training rows. Training is unchanged: scoring runs in eval
    mode on its own data, every random generator is put back, the training loader is never iterated.
    `cb.history` is a long DataFrame (`epoch`, `split`, `Variable`, `Type`, `Importance`, `Std`, `SE`,
    `Baseline`); `cb.report()` names memorised columns and a likely leak."""
    order = 65   # after the Recorder has logged the epoch: nothing of ours appears in its values

    def __init__(self,
        df=None,                      # labelled held-out DataFrame; None: the learner's validation set
        *,
        every:int=1,                  # evaluate after every `every` epochs (and after the last)
        n_repeats:int=1,              # permutations per column and evaluation (tabular)
        max_rows:int|None=None,       # held-out rows scored at most (a seeded sample; default 2,000, text: 300)
        metric=None,                  # None (the loss), a name, a fastai metric or a callable, as feature_importance
        train_rows:int|None=None,     # training rows scored (a fixed seeded sample; default 2,000, text: 300)
        groups:dict|None=None,        # `{name: [columns]}` permuted together (tabular)
        seed:int=0,                   # the rows and permutations, fixed for the whole run
        candidates=None,              # text: the phrases to track (default: the 40 most frequent in the held-out texts)
        greater_is_better=None,       # direction of a custom metric
    ):
        self.every, self.n_repeats = check_int('every', every), check_int('n_repeats', n_repeats)
        self.max_rows = None if max_rows is None else check_int('max_rows', max_rows, minimum=2)
        self.train_rows = None if train_rows is None else check_int('train_rows', train_rows)
        self.seed = root_seed(seed)
        self.df, self.metric, self.groups, self.candidates, self.gib = df, metric, groups, candidates, greater_is_better
        self.records, self._splits = [], None

    # --- state that stays out of learn.export() -----------------------------------------------------------
    def __getstate__(self):
        "Exported with the learner, the callback keeps its settings and history, not its data."
        dropped = ('_splits', 'df', 'learn', '_prepared_for')
        return {k: v for k, v in self.__dict__.items() if k not in dropped} | {'_splits': None, 'df': None}

    # --- fastai events ------------------------------------------------------------------------------------
    # fastai also fires before_fit/after_epoch around validate, get_preds and predict; only a real fit fires
    # before_train, so that is where the callback starts and marks the epochs it scores.
    def before_fit(self): self._fitting = False

    def before_train(self):
        "At the first epoch of a fit, before its first step: check everything and gather the rows (errors come now)."
        if not self._fitting:
            self._fitting, self.records = True, []   # the history is that of the latest fit, as the Recorder's
            with preserved_state():
                if self._splits is None or getattr(self, '_prepared_for', None) is not self.learn:
                    self.kind = data_kind(self.learn)
                    self._prepare_text() if self.kind == 'text' else self._prepare_tabular()
                    self._prepared_for = self.learn
                with eval_mode(self.learn.model): self._check_metric()
        self._trained = True

    def after_epoch(self):
        if not getattr(self, '_trained', False): return   # an epoch of validate/get_preds, not of training
        self._trained = False
        epoch = self.epoch + 1
        if epoch % self.every == 0 or epoch == self.n_epoch:
            with preserved_state(), eval_mode(self.learn.model): self._evaluate(epoch=epoch)

    def after_fit(self): self._fitting = False

    # --- preparation --------------------------------------------------------------------------------------
    def _rows(self, setting, text): return setting if setting is not None else (TEXT_ROWS if text else 2000)

    def _resamples(self, n, name):
        rng = stream(self.seed, 'callback bootstrap', name)
        return [rng.integers(0, n, n) for _ in range(N_BOOTSTRAP)]

    def _prepare_tabular(self):
        learn = self.learn
        schema = tabular_schema(learn)
        self.variables = resolve_variables(schema.cat_names, schema.cont_names, schema.na_parent, self.groups)
        self.scorer, = learner_scorers(learn, schema, self.metric, self.gib)
        held = load_tabular(learn, schema, self.df, labelled=True, max_rows=self._rows(self.max_rows, False),
                            rng=stream(self.seed, 'subsample'), min_rows=2,
                            hint=': pass df=, a labelled held-out DataFrame')
        train = load_tabular(learn, schema, None, labelled=True, split='train', min_rows=2, cap_name='train_rows',
                             max_rows=self._rows(self.train_rows, False), rng=stream(self.seed, 'train rows'))
        self._splits = [_Split(s, d.target, self._resamples(d.n_rows, s), inputs=d.inputs)
                        for s, d in (('valid', held), ('train', train))]

    def _prepare_text(self):
        learn = self.learn
        schema = text_schema(learn)
        self.scorer, = learner_scorers(learn, schema, self.metric, self.gib)
        held = load_text(learn, schema, self.df, labelled=True, max_rows=self._rows(self.max_rows, True),
                         rng=stream(self.seed, 'subsample'), hint=': pass df=, a labelled held-out DataFrame')
        train = load_text(learn, schema, None, labelled=True, split='train', max_rows=self._rows(self.train_rows, True),
                          rng=stream(self.seed, 'train rows'))
        if schema.multi_label: raise TypeError(MULTI_LABEL_TEXT)
        if self.candidates is not None:
            phrases = [phrase_words(schema, c) for c in self.candidates]
        else:
            found = candidate_phrases(word_keys(schema, held), 2, max(10, int(0.05 * held.n_rows)), stop_words('english'))
            if not found: raise ValueError("no phrase occurs in 5% of the held-out texts: pass candidates=")
            phrases = sorted(found, key=lambda g: (-found[g], g))[:TEXT_CANDIDATES]
        self.variables = [_Phrase(' '.join(g), 'word' if len(g) == 1 else 'phrase') for g in phrases]
        self._splits = [_Split(s, d.target, self._resamples(d.n_rows, s),
                               ablation=build_ablation(d.tokens, d.ids, phrases, 'unk', schema.unk_id))
                        for s, d in (('valid', held), ('train', train))]
        for sp in self._splits:   # build_ablation orders by support: keep one order for both splits
            order = {g: i for i, g in enumerate(sp.ablation.phrases)}
            sp.order = [order[g] for g in phrases]

    # --- evaluation ---------------------------------------------------------------------------------------
    def _check_metric(self):
        "The metric on the held-out rows with the untrained model: one forward pass, so a bad metric fails now."
        sp = self._splits[0]
        preds = (batched_forward(self.learn.model, sp.inputs, default_bs(sp.inputs[0].device)) if self.kind == 'tabular'
                 else text_forward(self.learn.model, sp.ablation.ids))
        self.scorer(preds, sp.target)

    def _evaluate(self, epoch):
        for sp in self._splits:
            imp, std, se, base = self._tabular(sp) if self.kind == 'tabular' else self._text(sp)
            for v, i, s, e in zip(self.variables, imp, std, se):
                self.records.append(dict(epoch=epoch, split=sp.name, Variable=v.name, Type=v.kind, Importance=float(i),
                                         Std=float(s), SE=float(e), Baseline=float(base)))

    def _score_with_resamples(self, sp):
        s = self.scorer
        return lambda preds, target: [s(preds, target)] + [s(preds[r], target[r]) for r in sp.resamples]

    def _tabular(self, sp):
        model = self.learn.model
        baseline, permuted = permutation_scores(
            model, sp.inputs, sp.target, [v.group for v in self.variables], self._score_with_resamples(sp),
            self.n_repeats, seed=self.seed, bs=default_bs(sp.inputs[0].device), keys=[v.name for v in self.variables])
        sign = -1.0 if self.scorer.greater_is_better else 1.0
        drop = sign * (permuted - baseline)                  # (variables, repeats, 1 + resamples)
        per_repeat = drop[:, :, 0]
        std = per_repeat.std(1, ddof=1) if self.n_repeats > 1 else np.full(len(self.variables), np.nan)
        return per_repeat.mean(1), std, drop[:, :, 1:].mean(1).std(1, ddof=1), baseline[0]

    def _text(self, sp):
        ab = sp.ablation
        base, variants = ablation_outputs(self.learn.model, ab)
        full, reps = metric_changes(self.scorer, self.learn.loss_func, base, variants, ab, sp.target, sp.resamples)
        sign = -1.0 if self.scorer.greater_is_better else 1.0
        full, reps = sign * full[sp.order], sign * reps[sp.order]
        return full, np.full(len(full), np.nan), reps.std(1, ddof=1), self.scorer(base, sp.target)

    # --- results ------------------------------------------------------------------------------------------
    @property
    def history(self) -> pd.DataFrame:
        "Importance per evaluated epoch and split (`valid`: held-out rows, `train`: the training sample)."
        h = pd.DataFrame(self.records, columns=['epoch', 'split', 'Variable', 'Type', 'Importance', 'Std', 'SE', 'Baseline'])
        h.attrs.update(metric=getattr(getattr(self, 'scorer', None), 'name', None), n_repeats=self.n_repeats,
                       seed=self.seed, n_bootstrap=N_BOOTSTRAP)
        return h

    def report(self) -> ImportanceReport:
        """At the last evaluation: columns whose training importance exceeds their held-out importance by more than
        their combined 95% interval and by at least a tenth of the top held-out importance (memorised); and a
        column that led the held-out importance from the first evaluation on and carries more than half of its
        total at the last (a likely leak)."""
        h = self.history
        if h.empty: return ImportanceReport([], [], ['Nothing evaluated yet: fit the learner with this callback.'])
        last = h[h['epoch'] == h['epoch'].max()].pivot(index='Variable', columns='split', values=['Importance', 'SE'])
        gap = last[('Importance', 'train')] - last[('Importance', 'valid')]
        band = 1.96 * np.sqrt(last[('SE', 'train')] ** 2 + last[('SE', 'valid')] ** 2)
        top = max(float(last[('Importance', 'valid')].max()), 1e-12)
        memorised = [v for v in gap.sort_values(ascending=False).index if gap[v] > band[v] and gap[v] >= MATERIAL * top]
        valid = h[h['split'] == 'valid']
        shares = valid.assign(pos=valid['Importance'].clip(lower=0)).groupby('epoch').apply(
            lambda e: e.set_index('Variable')['pos'] / max(e['pos'].sum(), 1e-12), include_groups=False)
        shares = shares if isinstance(shares, pd.DataFrame) else shares.unstack()
        leaks = [v for v in shares.columns if (shares.idxmax(axis=1) == v).all() and shares[v].iloc[-1] > 0.5]
        epoch = int(h['epoch'].max())
        sentences = []
        for v in memorised:
            sentences.append(f"{v!r} looks memorised: at epoch {epoch} it matters {last.loc[v, ('Importance', 'train')]:.3g} "
                             f"on training rows but {last.loc[v, ('Importance', 'valid')]:.3g} on held-out rows "
                             f"(difference {gap[v]:.3g}, 95% band ±{band[v]:.2g}): the model has learnt the training "
                             "rows' values by heart, which generalises to nothing. Typical of an identifier or of rare "
                             "levels: consider dropping or grouping it, or stopping earlier.")
        for v in leaks:
            sentences.append(f"{v!r} has led the held-out importance from the first evaluation on and now carries "
                             f"{shares[v].iloc[-1]:.0%} of it (epoch by epoch: {', '.join(f'{s:.0%}' for s in shares[v])}): "
                             "a likely leak (information that is only there because of the outcome). Check how it is "
                             "recorded before trusting the model.")
        if not sentences:
            sentences.append(f"At epoch {epoch} no column looks memorised and none dominates the held-out importance.")
        return ImportanceReport(memorised, leaks, sentences)


@dataclass(frozen=True)
class _Phrase:
    name: str
    kind: str
