"Drawing importance results; computing lives elsewhere. matplotlib is imported only when a plot is asked for."
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ['plot_importance', 'plot_importance_comparison', 'plot_recursive_elimination']

TYPE_COLORS = {'categorical': '#1f77b4', 'continuous': '#ff7f0e', 'group': '#2ca02c', 'word': '#9467bd',
               'phrase': '#8c564b'}


def _check_result(fi):
    if isinstance(fi, dict):
        raise TypeError(f"got one result per metric ({', '.join(map(repr, fi))}); plot one of them, "
                        f"e.g. plot_importance(fi[{next(iter(fi))!r}])")
    needed = {'Variable', 'Type', 'Importance'}
    if not isinstance(fi, pd.DataFrame) or not needed <= set(fi.columns):
        raise TypeError("expected the DataFrame returned by feature_importance (columns Variable, Type, Importance)")


def plot_importance(fi, ax=None, top:int=20, title:str|None=None):
    "Horizontal bars of the `top` variables with 95% confidence intervals, coloured by Type; returns the Axes."
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch
    _check_result(fi)
    if top is not None and top < 1: raise ValueError(f"top must be >= 1, got {top}")
    shown = fi.sort_values('Importance', ascending=False, kind='stable').head(top)[::-1]   # largest on top
    if ax is None: _, ax = plt.subplots(figsize=(7, 0.35 * len(shown) + 1.4))
    mean = shown['Importance'].to_numpy(float)
    lo = shown['CI_low'].to_numpy(float) if 'CI_low' in shown else np.full_like(mean, np.nan)
    hi = shown['CI_high'].to_numpy(float) if 'CI_high' in shown else np.full_like(mean, np.nan)
    xerr = None if np.isnan(lo).all() else np.nan_to_num(np.vstack([mean - lo, hi - mean]))
    colors = [TYPE_COLORS.get(t, '#7f7f7f') for t in shown['Type']]
    y = np.arange(len(shown))
    ax.barh(y, mean, xerr=xerr, color=colors, capsize=3, error_kw=dict(elinewidth=1, ecolor='#333333'))
    ax.set_yticks(y, shown['Variable'].astype(str))
    ax.axvline(0, color='black', linewidth=0.8)
    metric = fi.attrs.get('metric', 'score')
    change = 'decrease' if fi.attrs.get('greater_is_better', False) else 'increase'
    method = fi.attrs.get('method', 'permutation')
    if fi.attrs.get('strategy') == 'conditional': method = 'conditional ' + method
    ax.set_xlabel(f"{change} in {metric} ({method})" + ('' if xerr is None else ', 95% CI'))
    ax.set_title(title if title is not None else _subtitle(fi), fontsize=None if title is not None else 'small')
    types = [t for t in TYPE_COLORS if t in set(shown['Type'])]
    if len(types) > 1:
        ax.legend(handles=[Patch(color=TYPE_COLORS[t], label=t) for t in types], loc='lower right', fontsize='small')
    ax.figure.tight_layout()
    return ax


def _subtitle(fi) -> str:
    "Metric, baseline and repeats of a result, from its attrs (empty when they were lost)."
    a = fi.attrs
    if 'metric' not in a: return ''
    parts = [f"{a['metric']}", f"baseline {a['baseline']:.4g}" if 'baseline' in a else None,
             f"{a['n_repeats']} repeat{'s' if a['n_repeats'] != 1 else ''}" if 'n_repeats' in a else None,
             f"{a['n_bootstrap']} bootstrap samples" if a.get('n_bootstrap') else None,
             f"{a['n_rows']} rows" if 'n_rows' in a else None]
    return ', '.join(p for p in parts if p)


def plot_importance_comparison(fi_a, fi_b, ax=None, top:int=20, labels=None):
    "Two importance results (e.g. permutation and drop-column) as paired bars for the same variables."
    import matplotlib.pyplot as plt
    _check_result(fi_a); _check_result(fi_b)
    labels = labels or [fi_a.attrs.get('method', 'first'), fi_b.attrs.get('method', 'second')]
    a, b = fi_a.set_index('Variable'), fi_b.set_index('Variable')
    common = [v for v in a.index if v in b.index][:top]
    if not common: raise ValueError("the two results share no Variable")
    names = common[::-1]   # the first result's most important at the top
    y = np.arange(len(names))
    if ax is None: _, ax = plt.subplots(figsize=(7, 0.45 * len(names) + 1.4))
    for k, (fi, label, colour) in enumerate(zip((a, b), labels, ('#1f77b4', '#ff7f0e'))):
        mean = fi.loc[names, 'Importance'].to_numpy(float)
        lo, hi = (fi.loc[names, c].to_numpy(float) if c in fi else np.full_like(mean, np.nan) for c in ('CI_low', 'CI_high'))
        xerr = None if np.isnan(lo).all() else np.nan_to_num(np.vstack([mean - lo, hi - mean]))
        ax.barh(y + (0.2 if k == 0 else -0.2), mean, height=0.4, xerr=xerr, color=colour, label=label, capsize=2)
    ax.set_yticks(y, names)
    ax.axvline(0, color='black', linewidth=0.8)
    ax.set_xlabel(f"importance ({fi_a.attrs.get('metric', 'score')})")
    ax.legend(fontsize='small', loc='lower right')
    ax.figure.tight_layout()
    return ax


def plot_recursive_elimination(table, ax=None):
    "Score against the number of columns kept (with its standard error where rounds were repeated), the best marked."
    import matplotlib.pyplot as plt
    if ax is None: _, ax = plt.subplots(figsize=(7, 4))
    se = table['score_se'].to_numpy(float) if 'score_se' in table else None
    if se is not None and np.isfinite(se).any():
        ax.errorbar(table['n_features'], table['score'], yerr=np.nan_to_num(se), marker='o', capsize=3,
                    label='score (standard error over seeds)')
    else:
        ax.plot(table['n_features'], table['score'], marker='o', label='score')
    best = table[table['n_features'] == table.attrs['best']].iloc[0]
    ax.plot([best['n_features']], [best['score']], marker='*', markersize=16, color='#d62728',
            label=f"best: {best['n_features']} columns", linestyle='none')
    ax.set_xlabel('columns kept'); ax.set_ylabel(table.attrs.get('metric', 'score'))
    ax.invert_xaxis()   # rounds run from all columns to few
    ax.legend(fontsize='small')
    ax.figure.tight_layout()
    return ax
