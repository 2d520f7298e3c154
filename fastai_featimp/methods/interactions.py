"""Which columns act together: Shapley interaction values of single predictions (from the exact coalition values),
and Friedman's H-statistic of the whole model (from partial dependence at the rows of a sample)."""
from __future__ import annotations

from itertools import combinations

import pandas as pd
import torch

from ..common.outputs import default_target, output_activation, output_kind, output_labels, target_index
from ..common.progress import progress_for
from ..core.checks import check_choice, check_int, plain
from ..core.forward import default_bs
from ..core.interactions import h_statistic, partial_dependence_at
from ..core.seeding import root_seed, stream
from ..core.shapley import EXACT_MAX_PLAYERS, all_coalitions, shapley_interactions
from ..core.state import eval_mode, preserved_state
from ..tabular.coalitions import explained_and_background, row_value
from ..tabular.data import load_tabular
from ..tabular.schema import tabular_schema
from ..tabular.variables import resolve_variables

__all__ = ['explain_interactions', 'interaction_strength']

NO_DF = ("no df given: interaction strength is computed on the validation set; pass df= (e.g. the test set or a "
         "sample of the training set) to choose the rows")


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
    n_background = check_int('n_background', n_background)
    schema = tabular_schema(learn)
    players = resolve_variables(schema.cat_names, schema.cont_names, schema.na_parent, groups)
    m = len(players)
    if m > EXACT_MAX_PLAYERS:
        raise ValueError(f"interaction values need every coalition of the {m} columns (2^{m} model evaluations per "
                         f"row); at most {EXACT_MAX_PLAYERS} columns are enumerated: group columns (groups=) or "
                         "use learn.interaction_strength for the whole model")
    out_fn = output_activation(learn, output)
    labels = output_labels(learn, schema)
    if target is not None: target_index(labels, target)
    root = root_seed(seed)
    records, base_values, outputs, targets, shapley = [], [], [], [], []
    with preserved_state(), eval_mode(learn.model):
        x, bg = explained_and_background(learn, schema, rows, background, n_background, stream(root, 'background'))
        with torch.inference_mode(): full_out = out_fn(learn.model(*x)).reshape(x[0].shape[0], -1).cpu()
        for i in progress_for(learn, show_progress, 'interaction values')(range(x[0].shape[0])):
            k = default_target(schema, labels, target, int(full_out[i].argmax()))
            v = row_value(learn.model, x, i, bg, players, out_fn, k)(all_coalitions(m))
            matrix = shapley_interactions(v, m)
            base_values.append(float(v[0])); outputs.append(float(v[-1])); targets.append(plain(labels[k]))
            shapley.append({p.name: float(s) for p, s in zip(players, matrix.sum(1))})
            for a, pa in enumerate(players):
                for b, pb in enumerate(players):
                    records.append(dict(row=i, Variable_1=pa.name, Variable_2=pb.name, Interaction=float(matrix[a, b])))
    result = pd.DataFrame.from_records(records, columns=['row', 'Variable_1', 'Variable_2', 'Interaction'])
    result.attrs.update(method='exact interactions', base_values=base_values, outputs=outputs, targets=targets,
                        shapley_values=shapley, output=output_kind(schema, output), n_background=int(bg[0].shape[0]),
                        seed=seed, row_index=plain(list(rows.index)))
    return result


def _default_features(learn, df, variables, top: int, seed) -> list:
    "All columns when there are at most `top`, else the `top` by permutation importance (which needs labels)."
    names = [v.name for v in variables]
    if len(names) <= top: return names
    schema = tabular_schema(learn)
    if df is None or not set(schema.y_names) <= set(df.columns):
        raise ValueError(f"this learner has {len(names)} columns: pass features= (at most a handful; the default picks the "
                         f"{top} most important by permutation importance, which needs a DataFrame with the labels)")
    fi = learn.feature_importance(df=df, n_repeats=1, seed=seed, max_rows=2000, show_progress=False)   # the public API
    return [v for v in fi['Variable'] if v in names][:top]


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
    check_choice('kind', kind, ('pairwise', 'total'))
    n_rows = check_int('n_rows', n_rows, minimum=2)
    if grid is not None: grid = check_int('grid', grid, minimum=2)
    schema = tabular_schema(learn)
    variables = {v.name: v for v in resolve_variables(schema.cat_names, schema.cont_names, schema.na_parent)}
    out_fn = output_activation(learn, output)
    labels = output_labels(learn, schema)
    k = default_target(schema, labels, target)
    root = root_seed(seed)
    features = ([features] if isinstance(features, str) else list(features)) if features is not None else None
    if kind == 'total' and features is None and pairs is not None: features = list(dict.fromkeys(c for p in pairs for c in p))
    unknown = [f for f in (features or []) + [c for p in (pairs or []) for c in p] if f not in variables]
    if unknown: raise ValueError(f"unknown column(s) {unknown}; the learner's columns are {list(variables)}")
    with preserved_state(), eval_mode(learn.model):
        if features is None and pairs is None:
            features = _default_features(learn, df, list(variables.values()), 8, seed)
        if kind == 'pairwise':
            pairs = [tuple(p) for p in pairs] if pairs is not None else list(combinations(features, 2))
            if not pairs: raise ValueError("pairwise interaction strength needs at least two columns")
        data = load_tabular(learn, schema, df, warn=NO_DF, what='df', max_rows=n_rows, rng=stream(root, 'rows'),
                            dataloader_ok=False, cap_name='n_rows', min_rows=2)
        inputs, n = data.inputs, data.n_rows
        points = torch.arange(n)
        if grid is not None and grid < n: points = torch.from_numpy(stream(root, 'grid').choice(n, grid, replace=False)).sort().values
        output_k = lambda p: out_fn(p).reshape(p.shape[0], -1)[:, k]
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
        bar = progress_for(learn, show_progress, 'interaction strength')
        if kind == 'pairwise':
            records = [dict(Variable_1=a, Variable_2=b, H=h_statistic(pd_of([a, b]), pd_of([a]), pd_of([b])))
                       for a, b in bar(pairs)]
        else:
            with torch.inference_mode(): f = output_k(learn.model(*[x[points] for x in inputs])).double().cpu().numpy()
            others = lambda j: [v for v in variables if v != j]
            records = [dict(Variable=j, H=h_statistic(f, pd_of([j]), pd_of(others(j)))) for j in bar(features)]
    result = pd.DataFrame(records).sort_values('H', ascending=False, kind='stable').reset_index(drop=True)
    result.attrs.update(method='H-statistic', kind=kind, n_rows=n, rows=data.rows if data.rows is not None else list(range(n)),
                        grid=points.tolist(), target=plain(labels[k]), output=output_kind(schema, output), seed=seed,
                        source=data.source)
    return result
