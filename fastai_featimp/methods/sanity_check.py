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
from ..core.checks import check_data
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


MIN_UNITS = 4   # a row's rank correlation needs at least this many units (Fisher's z needs n > 3)
Z95 = 1.959964


def _row_correlations(original: pd.DataFrame, other: pd.DataFrame) -> tuple:
    """`(rho, units)` per row that can say something: Spearman's correlation of the units' contributions, for rows
    with at least MIN_UNITS units whose original explanation is not constant. A constant original says nothing of the
    model (it is left out); a randomised explanation that became constant while the original was not has changed
    entirely (correlation 0)."""
    rhos, units = [], []
    for r, part in original.groupby('row', sort=True):
        a, b = part['Contribution'].to_numpy(float), other[other['row'] == r]['Contribution'].to_numpy(float)
        if len(a) < MIN_UNITS or np.ptp(a) == 0: continue   # too short to say, or constant: nothing of the model
        rho = stats.spearmanr(a, b).statistic if np.ptp(b) > 0 else 0.0
        rhos.append(0.0 if np.isnan(rho) else float(rho)); units.append(len(a))
    return np.array(rhos), np.array(units)


def _interval(rhos: np.ndarray, units: np.ndarray) -> tuple:
    """`(mean correlation, low, high)`: the rows' correlations pooled through Fisher's z (each weighted by its units
    less 3, with the 1.06 variance factor of a Spearman correlation), with a 95% interval whose standard error is the
    larger of the pooled one and the spread between rows; NaNs when no row can say anything."""
    if len(rhos) == 0: return np.nan, np.nan, np.nan
    z = np.arctanh(np.clip(rhos, -0.999999, 0.999999))
    w = units - 3.0
    mean = float((w * z).sum() / w.sum())
    se = np.sqrt(1.06 / w.sum())
    if len(z) > 1: se = max(se, float(z.std(ddof=1) / np.sqrt(len(z))))
    return float(np.tanh(mean)), float(np.tanh(mean - Z95 * se)), float(np.tanh(mean + Z95 * se))


def _verdict(method: str, final: tuple, threshold: float, n_rows: int, n_usable: int, n_constant: int) -> tuple:
    """`(passed, verdict)`: passed only when the whole interval is within ±threshold; failed when it is wholly beyond,
    or when every explanation is constant; no verdict when the rows are too short to tell."""
    rho, low, high = final
    if n_usable == 0 and n_constant == n_rows:
        return False, (f"{method} fails: its explanations are constant on all {n_rows} row(s), so they cannot show "
                       "anything the model learnt")
    if n_usable == 0:
        return None, (f"no verdict for {method}: its explanations have fewer than {MIN_UNITS} units (or are constant) "
                      f"on all {n_rows} row(s), too few to compare orders; explain rows with more units")
    said = f"{rho:.2f} (95% interval {low:.2f} to {high:.2f}, over {n_usable} row(s))"
    if -threshold < low and high < threshold:
        return True, (f"{method} passes: with every weight of the model re-drawn its explanations correlate {said} with "
                      f"the original, within ±{threshold:g}, so they depend on what the model learnt")
    if low >= threshold or high <= -threshold:
        return False, (f"{method} fails: with every weight of the model re-drawn its explanations still correlate "
                       f"{said} with the original (beyond ±{threshold:g}): they reflect the input more than the model")
    return None, (f"no verdict for {method}: with every weight re-drawn its explanations correlate {said} with the "
                  f"original, an interval that straddles ±{threshold:g}; explain more rows (or longer ones) to tell")


@checked(layers=Choice('cascade', 'independent'), seed=Seed(), threshold=Number(0, 1, low_open=True), show_progress=Flag())
def sanity_check(
    learn,                     # a fastai learner of any kind this package explains
    data,                      # the rows (tabular DataFrame) or texts to explain
    method=None,               # the explanation method (default: the kind's first: tabular 'exact', text 'shapley')
    layers:str='cascade',      # 'cascade': randomise from the output down, keeping what is randomised; 'independent': one block at a time
    *,
    seed:int|None=None,        # same seed, same new weights and explanations
    threshold:float=PASS,      # a method passes when the interval of the final rank correlation lies within ±threshold
    show_progress:bool=False,  # the explanations' bars
    **explain_kwargs,          # passed to every explanation (target, n_permutations, unit, ...)
):
    """One row per step: `Step` (0: the trained model), `Randomised` (the blocks with new weights so far, or the one
    block), `RankCorrelation` (Spearman's correlation of the units' contributions with the original's, mean over rows).
    `Low`/`High` give its 95% interval (rows pooled through Fisher's z; rows with a constant original explanation or
    fewer than 4 units say nothing and are left out). `attrs['passed']` is True when, once the whole model is
    randomised, the whole interval lies within ±`threshold`, False when it lies beyond (or when the explanations are
    constant: they cannot depend on the model), and None when the interval straddles the threshold (no verdict:
    explain more rows); `attrs['verdict']` says it in words. The learner is never changed: the work is done on a copy of its model."""
    kind = kind_of(learn, 'sanity_check')
    check_data(data)
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
    records = [dict(Step=0, Randomised='nothing (the trained model)', RankCorrelation=1.0, Low=1.0, High=1.0)]
    with preserved_state():
        gen = torch.Generator().manual_seed(int_seed(root, 'randomisation'))
        modules = dict(parameter_blocks(shadow.model))
        for step, (name, _) in enumerate(blocks, start=1):
            if layers == 'independent':
                shadow.model = copy.deepcopy(learn.model)
                modules = dict(parameter_blocks(shadow.model))
            _randomise(modules[name], gen)
            done = name if layers == 'independent' else ', '.join(n for n, _ in blocks[:step])
            rhos, units = _row_correlations(original, run(shadow))
            rho, low, high = _interval(rhos, units)
            records.append(dict(Step=step, Randomised=done, RankCorrelation=rho, Low=low, High=high))
    result = pd.DataFrame.from_records(records)
    n_rows = original['row'].nunique()
    if layers == 'cascade':
        last = records[-1]
        constant = int(sum(np.ptp(p['Contribution'].to_numpy(float)) == 0 for _, p in original.groupby('row')))
        passed, verdict = _verdict(method, (last['RankCorrelation'], last['Low'], last['High']), threshold, n_rows,
                                   len(rhos), constant)
    else:
        passed, verdict = None, "independent randomisation: read each block's correlation (no overall verdict)"
    result.attrs.update(method=method, layers=layers, passed=passed, verdict=verdict, threshold=threshold, seed=root,
                        blocks=[n for n, _ in blocks], n_rows=int(n_rows), rows_used=int(len(rhos)))
    return result
