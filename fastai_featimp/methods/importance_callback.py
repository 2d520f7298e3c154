"""Importance while training: a fastai callback that measures, after every few epochs, how much the model relies on
each input (tabular columns, or phrases of a text learner) on held-out rows and on a fixed sample of training rows,
without changing the training in any way."""
from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd
import torch
from fastai.callback.core import Callback

from ..common.scoring import is_metric_list
from ..common.setup import method_setup
from ..core.checks import check_int
from ..core.params import ParameterError
from ..core.seeding import root_seed, stream
from ..core.state import eval_mode, preserved_state

__all__ = ['ImportanceCallback', 'ImportanceReport']

N_BOOTSTRAP = 50          # resamples of the rows for each importance's standard error (no extra forward pass)
MATERIAL = 0.1            # a memorised column's excess is at least this share of the top held-out importance
MARGIN = 2.0              # ... and at least this many times its combined 95% band, and training >= this x held-out
COLUMNS = ['epoch', 'split', 'Variable', 'Type', 'Importance', 'Std', 'SE', 'Baseline', 'stage']


@dataclass
class ImportanceReport:
    "What the history says at the last evaluation, in plain sentences (`str(report)`), with the columns behind it."
    memorised: list
    leaks: list
    sentences: list

    def __str__(self) -> str: return '\n'.join(self.sentences)
    def __repr__(self) -> str: return str(self)


def _fingerprint(model) -> tuple:
    "A cheap summary of the weights: it changes when a callback such as SaveModelCallback reloads other weights."
    with torch.no_grad():
        return tuple((float(p.double().sum()), float(p.double().abs().sum())) for p in model.parameters())


class ImportanceCallback(Callback):
    """Permutation importance (tabular) or phrase importance (text) after every `every` epochs and after the last,
    on held-out rows and on a fixed seeded sample of training rows. Training is unchanged: scoring runs in eval
    mode on its own data, every random generator is put back, the training loader is never iterated.
    `cb.history` is a long DataFrame (`epoch`, `split`, `Variable`, `Type`, `Importance`, `Std`, `SE`,
    `Baseline`, `stage`); `cb.report()` names memorised columns and a likely leak. The last trained epoch is always
    evaluated (also when EarlyStopping ends the fit early), and when a callback such as SaveModelCallback puts other
    weights back at the end of the fit, the final model is evaluated too (`stage` 'final'). Epochs are counted over
    every fit the callback joins (so `fine_tune`'s frozen and unfrozen epochs follow each other)."""
    order = 65   # after the Recorder has logged the epoch: nothing of ours appears in its values

    def __init__(self,
        df=None,                      # labelled held-out DataFrame; None: the learner's validation set
        *,
        every:int=1,                  # evaluate after every `every` epochs (and after the last)
        n_repeats:int=1,              # permutations per column and evaluation (tabular)
        max_rows:int|None=None,       # held-out rows scored at most (a seeded sample; default 2,000, text: 300)
        metric=None,                  # None (the loss), a name, a fastai metric or a callable: one metric
        train_rows:int|None=None,     # training rows scored (a fixed seeded sample; default 2,000, text: 300)
        groups:dict|None=None,        # `{name: [columns]}` permuted together (tabular)
        seed:int=0,                   # the rows and permutations, fixed for the whole run
        candidates=None,              # text: the phrases to track (default: the 40 most frequent in the held-out texts)
        greater_is_better=None,       # direction of a custom metric
    ):
        self.every, self.n_repeats = check_int('every', every), check_int('n_repeats', n_repeats)
        self.max_rows = None if max_rows is None else check_int('max_rows', max_rows, minimum=2)
        self.train_rows = None if train_rows is None else check_int('train_rows', train_rows)
        if is_metric_list(metric):
            raise ParameterError('metric', f"the callback tracks one metric; `metric` is a list of {len(metric)}: pass "
                                           "one, or add one callback per metric")
        self.seed = root_seed(seed)
        self.df, self.metric, self.groups, self.candidates, self.gib = df, metric, groups, candidates, greater_is_better
        self.records, self.tracker, self._prepared_for, self._epochs, self._overlapping = [], None, None, 0, set()

    # --- state that stays out of learn.export() -----------------------------------------------------------
    def __getstate__(self):
        "Exported with the learner, the callback keeps its settings and history, not its data."
        return {k: v for k, v in self.__dict__.items() if k not in ('tracker', 'df', '_prepared_for')} | \
            {'tracker': None, 'df': None, '_prepared_for': None}

    @property
    def _splits(self): return None if self.tracker is None else self.tracker.splits   # the scored data, if any

    # --- fastai events ------------------------------------------------------------------------------------
    # fastai also fires before_fit/after_epoch/after_fit around validate, get_preds and predict; only a real fit
    # fires before_train, so that is where the callback starts and marks the epochs it scores.
    def before_fit(self): self._fitting, self._trained, self._last = False, False, None

    def before_train(self):
        "At the first epoch of a fit, before its first step: check everything and gather the rows (errors come now)."
        if not self._fitting:
            self._fitting = True
            with torch.no_grad(): self._prepare()
        self._trained = True

    def after_epoch(self):
        if not self._trained: return   # an epoch of validate/get_preds, not of training
        self._trained = False
        self._epochs += 1
        if (self.epoch + 1) % self.every == 0 or self.epoch + 1 == self.n_epoch: self._evaluate(self._epochs, 'epoch')

    def after_fit(self):
        "Evaluate what the last epochs left unevaluated: an early stop, or weights put back by another callback."
        if not self._fitting: return
        self._fitting = False
        if self._trained:   # an epoch cancelled before our after_epoch ran (EarlyStopping, order 63, stops in its own)
            self._trained = False
            self._epochs += 1
        if self._last is None or self._last[0] != self._epochs: self._evaluate(self._epochs, 'epoch')
        elif self._last[1] != _fingerprint(self.learn.model): self._evaluate(self._epochs, 'final')

    # --- preparation and evaluation -----------------------------------------------------------------------
    def _prepare(self):
        if self.tracker is not None and self._prepared_for is self.learn: return
        with preserved_state():
            setup = method_setup(self.learn, seed=self.seed, groups=self.groups)
            if setup.kind.tracker_class is None:
                raise TypeError(f"the importance callback has nothing to track on a {setup.kind.name} learner")
            scorer, = setup.scorers(self.metric, self.gib)
            tracker = setup.kind.tracker_class(setup, self.df, max_rows=self.max_rows, train_rows=self.train_rows,
                                         n_repeats=self.n_repeats, candidates=self.candidates, scorer=scorer,
                                         resamples=self._resamples)
            with setup.computing(): scorer(*tracker.outputs(self.learn.model, 'valid'))   # a bad metric fails now
        self.tracker, self.scorer, self._prepared_for = tracker, scorer, self.learn
        names = [v.name for v in tracker.variables]
        self._overlapping = {frozenset(p) for p in combinations(names, 2) if tracker.overlaps(*p)}

    def _resamples(self, n, name):
        rng = stream(self.seed, 'callback bootstrap', name)
        return [rng.integers(0, n, n) for _ in range(N_BOOTSTRAP)]

    def _evaluate(self, epoch: int, stage: str):
        model = self.learn.model
        with preserved_state(), eval_mode(model):
            for split in ('valid', 'train'):
                imp, std, se, base = self.tracker.evaluate(model, split)
                for v, i, s, e in zip(self.tracker.variables, imp, std, se):
                    self.records.append(dict(epoch=epoch, split=split, Variable=v.name, Type=v.kind, Importance=float(i),
                                             Std=float(s), SE=float(e), Baseline=base, stage=stage))
        self._last = (epoch, _fingerprint(model))

    # --- results ------------------------------------------------------------------------------------------
    @property
    def history(self) -> pd.DataFrame:
        "Importance per evaluated epoch and split (`valid`: held-out rows, `train`: the training sample)."
        h = pd.DataFrame(self.records, columns=COLUMNS)
        h.attrs.update(metric=getattr(getattr(self, 'scorer', None), 'name', None), n_repeats=self.n_repeats,
                       seed=self.seed, n_bootstrap=N_BOOTSTRAP)
        return h

    def _overlaps(self, a, b) -> bool:
        "Phrases sharing words (text) are not counted against each other; tabular variables never overlap."
        return a == b or frozenset((a, b)) in self._overlapping

    def report(self) -> ImportanceReport:
        """At the last evaluation: columns whose training importance exceeds their held-out importance by more than
        twice their combined 95% band, by at least a tenth of the top held-out importance, and by at least as much
        as their held-out importance itself (memorised); and a column that led the held-out importance at every
        evaluation and carries more than half of it at the last, counting only the inputs it does not overlap (a
        likely leak)."""
        h = self.history
        if h.empty: return ImportanceReport([], [], ['Nothing evaluated yet: fit the learner with this callback.'])
        last_key = h[['epoch', 'stage']].iloc[-1]
        last = h[(h['epoch'] == last_key['epoch']) & (h['stage'] == last_key['stage'])]
        last = last.pivot(index='Variable', columns='split', values=['Importance', 'SE'])
        train, valid = last[('Importance', 'train')], last[('Importance', 'valid')]
        gap = train - valid
        band = 1.96 * np.sqrt(last[('SE', 'train')] ** 2 + last[('SE', 'valid')] ** 2)
        top = max(float(valid.max()), 1e-12)
        memorised = [v for v in gap.sort_values(ascending=False).index
                     if gap[v] > MARGIN * band[v] and gap[v] >= MATERIAL * top and train[v] >= MARGIN * max(valid[v], 0.0)]
        leaks = self._leaks(h[(h['split'] == 'valid') & (h['stage'] == 'epoch')])
        epoch = int(last_key['epoch'])
        final = last_key['stage'] == 'final'
        when = f"the final model (epoch {epoch}, weights put back after training)" if final else f"epoch {epoch}"
        sentences = []
        for v in memorised:
            sentences.append(f"{v!r} looks memorised: at {when} it matters {train[v]:.3g} on training rows but "
                             f"{valid[v]:.3g} on held-out rows (difference {gap[v]:.3g}, 95% band ±{band[v]:.2g}): the "
                             "model has learnt the training rows' values by heart, which generalises to nothing. "
                             "Typical of an identifier or of rare levels: consider dropping or grouping it, or stopping "
                             "earlier.")
        for v, shares in leaks:
            sentences.append(f"{v!r} has led the held-out importance from the first evaluation on and now carries "
                             f"{shares[-1]:.0%} of it (epoch by epoch: {', '.join(f'{s:.0%}' for s in shares)}): "
                             "a likely leak (information that is only there because of the outcome), unless it is "
                             "known to be the one input the outcome follows. Check how it is recorded before trusting "
                             "the model.")
        if not sentences:
            sentences.append(f"At {when} no column looks memorised and none dominates the held-out importance.")
        return ImportanceReport(memorised, [v for v, _ in leaks], sentences)

    def _leaks(self, valid: pd.DataFrame) -> list:
        "`(variable, its share at each evaluation)` for each likely leak, the largest of overlapping ones only."
        wide = valid.assign(pos=valid['Importance'].clip(lower=0)).pivot(index='epoch', columns='Variable', values='pos')
        names = list(wide.columns)
        found = []
        for v in names:
            rivals = [u for u in names if not self._overlaps(v, u)]
            others = wide[rivals].sum(axis=1) if rivals else 0.0
            shares = (wide[v] / np.maximum(wide[v] + others, 1e-12)).to_numpy()
            leads = all(wide.loc[e, v] >= (wide.loc[e, rivals].max() if rivals else 0) and wide.loc[e, v] > 0
                        for e in wide.index)
            if leads and shares[-1] > 0.5: found.append((v, list(shares)))
        found.sort(key=lambda vs: -float(wide[vs[0]].iloc[-1]))
        kept = []
        for v, shares in found:   # of overlapping leaks ('verified purchase', 'verified'), name the strongest
            if not any(self._overlaps(v, k) for k, _ in kept): kept.append((v, shares))
        return kept
