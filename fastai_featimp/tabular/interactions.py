"""Which columns act together: Shapley interaction values of single predictions (from the exact coalition values),
and Friedman's H-statistic of the whole model (from partial dependence at the rows of a sample)."""
from __future__ import annotations

from itertools import combinations

import pandas as pd
import torch

from ..common.kinds import implementation
from ..common.progress import counting
from ..common.setup import method_setup
from ..core.checks import plain
from ..core.forward import default_bs
from ..core.interactions import h_statistic, partial_dependence_at
from ..core.params import Choice, Flag, Instance, Integer, ParameterError, Seed, checked
from ..core.shapley import EXACT_MAX_PLAYERS, all_coalitions, shapley_interactions
from .coalitions import explained_and_background, row_value
from .data import load_tabular
from .kind import TABULAR

__all__ = ['explain_interactions', 'interaction_strength']

NO_DF = ("no df given: interaction strength is computed on the validation set; pass df= (e.g. the test set or a "
         "sample of the training set) to choose the rows")


@checked(n_background=Integer(2), output=Choice('probability', 'raw'), seed=Seed(), show_progress=Flag())
def explain_interactions(
    learn,                         # a fastai tabular Learner
    rows,                          # DataFrame of rows to explain (raw values; labels optional)
    *,
    background=None,               # DataFrame of reference rows; None: a seeded sample of the training set
    n_background:int=100,          # size of that sample
    target=None,                   # class or target to explain (default: a binary model's positive class, else the predicted class)
    output:str='probability',      # 'probability' (after the loss's activation) or 'raw' (logit / value)
    groups:dict|None=None,         # `{name: [columns]}` switched together as one player
    seed:int|None=None,            # same seed, same background sample
    show_progress:bool=True,       # a fastprogress bar over the rows
):
    """Shapley interaction values of each row: a long DataFrame `row, Variable_1, Variable_2, Interaction`. Off the
    diagonal, the pairwise Shapley interaction index split equally between (a, b) and (b, a); on the diagonal,
    each column's main effect. Each column's values sum to its Shapley value (`learn.explain`), everything to
    the output minus the base value. Computed from all 2^M coalition values, the ones `explain` uses."""
    s = method_setup(learn, TABULAR, output=output, seed=seed, groups=groups, target=target)
    players = s.variables
    m = len(players)
    if m > EXACT_MAX_PLAYERS:
        raise ParameterError('groups', f"interaction values need every coalition of the {m} columns (2^{m} model "
                                       f"evaluations per row); at most {EXACT_MAX_PLAYERS} columns are enumerated: group "
                                       "columns (`groups=`) or use learn.interaction_strength for the whole model")
    records, base_values, outputs, targets, shapley = [], [], [], [], []
    with s.computing():
        x, bg = explained_and_background(learn, s.schema, rows, background, n_background, s.stream('background'))
        n = x[0].shape[0]
        with torch.inference_mode(): full_out = s.activation(learn.model(*x)).reshape(n, -1).cpu()
        with counting(learn, show_progress, n * 2 ** m, 'interaction values') as progress:
            for i in range(n):
                k = s.target(target, int(full_out[i].argmax()))
                v = row_value(learn.model, x, i, bg, players, s.activation, k, progress=progress.add)(all_coalitions(m))
                matrix = shapley_interactions(v, m)
                base_values.append(float(v[0])); outputs.append(float(v[-1])); targets.append(plain(s.labels[k]))
                shapley.append({p.name: float(total) for p, total in zip(players, matrix.sum(1))})
                for a, pa in enumerate(players):
                    for b, pb in enumerate(players):
                        records.append(dict(row=i, Variable_1=pa.name, Variable_2=pb.name, Interaction=float(matrix[a, b])))
    result = pd.DataFrame.from_records(records, columns=['row', 'Variable_1', 'Variable_2', 'Interaction'])
    result.attrs.update(method='exact interactions', base_values=base_values, outputs=outputs, targets=targets,
                        shapley_values=shapley, output=s.output_kind, n_background=int(bg[0].shape[0]),
                        seed=seed, row_index=plain(list(rows.index)))
    return result


def _default_features(learn, df, variables, top: int, seed) -> list:
    "All columns when there are at most `top`, else the `top` by permutation importance (which needs labels)."
    names = [v.name for v in variables]
    if len(names) <= top: return names
    y_names = TABULAR.schema(learn).y_names
    if df is None or not set(y_names) <= set(df.columns):
        raise ParameterError('features', f"this learner has {len(names)} columns: pass `features=` (at most a handful; "
                                         f"the default picks the {top} most important by permutation importance, which "
                                         "needs a DataFrame with the labels)")
    importance = implementation(learn, 'feature_importance')   # the method, through the registry
    fi = importance(learn, df=df, n_repeats=1, seed=seed, max_rows=2000, show_progress=False)
    return [v for v in fi['Variable'] if v in names][:top]


@checked(df=Instance(pd.DataFrame, 'a pandas DataFrame', none=True), kind=Choice('pairwise', 'total'),
         n_rows=Integer(2), grid=Integer(2, none=True), output=Choice('probability', 'raw'), seed=Seed(),
         bs=Integer(1, none=True), show_progress=Flag())
def interaction_strength(
    learn,                         # a fastai tabular Learner
    df=None,                       # raw DataFrame of rows (labels optional); None: the validation set, with a warning
    *,
    features=None,                 # columns to study (default: all, or the 8 most important when there are more)
    pairs=None,                    # pairs to score for kind='pairwise' (default: every pair of `features`)
    kind:str='pairwise',           # 'pairwise' (H of each pair) or 'total' (H of each column with all the others)
    n_rows:int=300,                # a seeded sample of this many rows: the partial dependences average over them
    grid:int|None=None,            # evaluate at this many of those rows (default: all; the cost is n_rows x grid)
    target=None,                   # class or target (default: the positive class of a binary model)
    output:str='probability',      # 'probability' (after the loss's activation) or 'raw'
    seed:int|None=None,            # same seed, same rows
    bs:int|None=None,              # rows per forward pass
    show_progress:bool=True,       # a fastprogress bar over the partial dependences
):
    """Friedman's H-statistic: how much of the joint effect of two columns (`kind='pairwise'`) or of one column
    with all the others (`kind='total'`) is not the sum of their separate effects, in [0, 1] (0: no interaction).
    A DataFrame `Variable_1, Variable_2, H` (or `Variable, H`), strongest first; `attrs` hold the rows used and
    the evaluation rows. H divides by the variance of the joint partial dependence: for a pair whose joint
    effect is near zero it is unstable, and large values of small effects mean little."""
    s = method_setup(learn, TABULAR, output=output, seed=seed)
    schema, k = s.schema, s.target(target)
    variables = {v.name: v for v in s.variables}
    features = ([features] if isinstance(features, str) else list(features)) if features is not None else None
    if pairs is not None: pairs = _pairs(pairs)
    if kind == 'total' and features is None and pairs is not None: features = list(dict.fromkeys(c for p in pairs for c in p))
    unknown = [f for f in (features or []) + [c for p in (pairs or []) for c in p] if f not in variables]
    if unknown:
        raise ParameterError('pairs' if pairs is not None and not set(unknown) & set(features or []) else 'features',
                             f"unknown column(s) {unknown}; the learner's columns are {list(variables)}")
    with s.computing():
        if features is None and pairs is None:
            features = _default_features(learn, df, list(variables.values()), 8, seed)
        if kind == 'pairwise':
            pairs = pairs if pairs is not None else list(combinations(features, 2))
            if not pairs: raise ParameterError('features', "pairwise interaction strength needs at least two columns")
        data = load_tabular(learn, schema, df, fallback_warning=NO_DF, param='df', max_rows=n_rows, rng=s.stream('rows'),
                            dataloader_ok=False, cap_name='n_rows', min_rows=2)
        inputs, n = data.inputs, data.n_rows
        points = torch.arange(n)
        if grid is not None and grid < n: points = torch.from_numpy(s.stream('grid').choice(n, grid, replace=False)).sort().values
        output_k = lambda p: s.activation(p).reshape(p.shape[0], -1)[:, k]
        bs = bs or default_bs(inputs[0].device)
        slots = lambda names: {t: sorted(c for name in names for tt, c in variables[name].group.slots if tt == t)
                               for t in range(len(inputs))}
        cache = {}
        def pd_of(names):
            key = frozenset(names)
            if key not in cache:
                cols = {t: c for t, c in slots(names).items() if c}
                cache[key] = partial_dependence_at(learn.model, inputs, cols, points, output_k, bs)
            return cache[key]
        with counting(learn, show_progress, len(pairs) if kind == 'pairwise' else len(features),
                      'interaction strength') as progress:
            records = []
            if kind == 'pairwise':
                for a, b in pairs:
                    records.append(dict(Variable_1=a, Variable_2=b, H=h_statistic(pd_of([a, b]), pd_of([a]), pd_of([b]))))
                    progress.add()
            else:
                with torch.inference_mode(): f = output_k(learn.model(*[x[points] for x in inputs])).double().cpu().numpy()
                for j in features:
                    records.append(dict(Variable=j, H=h_statistic(f, pd_of([j]), pd_of([v for v in variables if v != j]))))
                    progress.add()
    result = pd.DataFrame(records).sort_values('H', ascending=False, kind='stable').reset_index(drop=True)
    result.attrs.update(method='H-statistic', kind=kind, n_rows=n, rows=data.rows if data.rows is not None else list(range(n)),
                        grid=points.tolist(), target=plain(s.labels[k]), output=s.output_kind, seed=seed,
                        source=data.source)
    return result


def _pairs(pairs) -> list:
    "Pairs of two different column names, each once."
    out = []
    for p in pairs:
        if isinstance(p, str) or len(tuple(p)) != 2:
            raise ParameterError('pairs', f"`pairs` must be pairs of column names, e.g. [('a', 'b')]; got {p!r}")
        a, b = tuple(p)
        if a == b: raise ParameterError('pairs', f"the pair ({a!r}, {b!r}) is one column twice: H of a column with itself "
                                                 "is not an interaction; pair different columns")
        out.append((a, b))
    return out
