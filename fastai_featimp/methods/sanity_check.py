"""Does this explanation explain the model, or only the input? The model-randomisation test (Adebayo et al. 2018): the
weights are re-drawn from the output layer down, one block at a time, on a copy (the learner is never changed), the
rows are explained again, and the explanations are compared with the original ones. A method whose explanations stay
correlated with the original once the model is fully randomised explains the input, not the model."""
from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import torch
from scipy import stats

from ..common.kinds import kind_of
from ..core.params import Choice, Flag, Number, ParameterError, Seed, checked
from ..core.seeding import int_seed, root_seed
from ..core.state import preserved_state

__all__ = ['sanity_check', 'parameter_blocks']

PASS = 0.3   # |rank correlation| with the original, once the model is fully randomised, below which a method passes


def parameter_blocks(model) -> list:
    "`(name, module)` of every module holding parameters of its own, in the model's order (inputs first)."
    return [(name or type(m).__name__, m) for name, m in model.named_modules() if list(m.parameters(recurse=False))]


def _randomise(module, gen: torch.Generator) -> None:
    "New weights for `module`: each of its own parameters re-drawn with its own mean and spread (same scale, no trace)."
    with torch.no_grad():
        for p in module.parameters(recurse=False):
            if p.numel() == 0: continue
            mean, std = p.double().mean(), p.double().std() if p.numel() > 1 else p.double().abs().mean()
            noise = torch.randn(p.shape, generator=gen, dtype=torch.float64)
            p.copy_((mean + (std if std > 0 else 1.0) * noise).to(p.dtype))


def _correlation(original: pd.DataFrame, other: pd.DataFrame) -> float:
    "Mean over rows of Spearman's correlation of the units' contributions (0 where one side is constant)."
    rhos = []
    for r, part in original.groupby('row', sort=True):
        a, b = part['Contribution'].to_numpy(float), other[other['row'] == r]['Contribution'].to_numpy(float)
        rho = stats.spearmanr(a, b).statistic if len(a) > 1 and np.ptp(a) > 0 and np.ptp(b) > 0 else 0.0
        rhos.append(0.0 if np.isnan(rho) else rho)
    return float(np.mean(rhos))


@checked(layers=Choice('cascade', 'independent'), seed=Seed(), threshold=Number(0, 1, low_open=True), show_progress=Flag())
def sanity_check(
    learn,                     # a fastai learner of any kind this package explains
    data,                      # the rows (tabular DataFrame) or texts to explain
    method=None,               # the explanation method (default: the kind's first: tabular 'exact', text 'shapley')
    layers:str='cascade',      # 'cascade': randomise from the output down, keeping what is randomised; 'independent': one block at a time
    *,
    seed:int|None=None,        # same seed, same new weights and explanations
    threshold:float=PASS,      # a method passes when |rank correlation| with the original falls below this at the end
    show_progress:bool=False,  # the explanations' bars
    **explain_kwargs,          # passed to every explanation (target, n_permutations, unit, ...)
):
    """One row per step: `Step` (0: the trained model), `Randomised` (the blocks with new weights so far, or the one
    block), `RankCorrelation` (Spearman's correlation of the units' contributions with the original's, mean over rows).
    `attrs['passed']` is True when the correlation falls below `threshold` once the whole model is randomised, and
    `attrs['verdict']` says what that means. The learner is never changed: the work is done on a copy of its model."""
    kind = kind_of(learn, 'sanity_check')
    method = method if method is not None else kind.explanation_methods[0]
    if method not in kind.explanation_methods:
        raise ParameterError('method', f"unknown `method` {method!r} for a {kind.name} learner; it has "
                                       f"{list(kind.explanation_methods)}")
    explain = kind.function('explain')
    root = root_seed(seed)   # the same permutations and background rows for the trained and the randomised models
    run = lambda model_learner: explain(model_learner, data, method=method, seed=root, show_progress=show_progress,
                                        **explain_kwargs)
    original = run(learn)
    blocks = parameter_blocks(learn.model)[::-1]   # the output layer first
    shadow = copy.copy(learn)                      # the same learner, with a model of its own
    shadow.model = copy.deepcopy(learn.model)
    records = [dict(Step=0, Randomised='nothing (the trained model)', RankCorrelation=1.0)]
    with preserved_state():
        gen = torch.Generator().manual_seed(int_seed(root, 'randomisation'))
        modules = dict(parameter_blocks(shadow.model))
        for step, (name, _) in enumerate(blocks, start=1):
            if layers == 'independent':
                shadow.model = copy.deepcopy(learn.model)
                modules = dict(parameter_blocks(shadow.model))
            _randomise(modules[name], gen)
            done = name if layers == 'independent' else ', '.join(n for n, _ in blocks[:step])
            records.append(dict(Step=step, Randomised=done, RankCorrelation=_correlation(original, run(shadow))))
    result = pd.DataFrame.from_records(records)
    final = abs(records[-1]['RankCorrelation'])
    passed = bool(final < threshold) if layers == 'cascade' else None
    verdict = (f"{method} passes: with every weight of the model re-drawn its explanations correlate {final:.2f} with "
               f"the original (below {threshold:g}), so they depend on what the model learnt" if passed else
               f"{method} fails: with every weight of the model re-drawn its explanations still correlate {final:.2f} "
               f"with the original (at least {threshold:g}): they reflect the input more than the model"
               if passed is False else "independent randomisation: read each block's correlation (no overall verdict)")
    result.attrs.update(method=method, layers=layers, passed=passed, verdict=verdict, threshold=threshold, seed=root,
                        blocks=[n for n, _ in blocks])
    return result
