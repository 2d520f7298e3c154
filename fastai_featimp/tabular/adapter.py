"""Tables for the engine: a row's units are the learner's input columns (a FillMissing `_na` indicator with its
column, `groups` as one unit), placed by their value as written; a removed column takes each background row's value
and the outputs are averaged (the interventional expectation of Shapley values: shap's `Independent` masker);
flagged inputs are column names."""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..common.parallel import check_jobs, parallel_map
from ..core.checks import plain, shown, warn
from ..core.forward import default_bs
from ..core.params import Choice, Flag, Integer, Number, ParameterError
from ..core.shapley import coalition_value_fn
from ..core.state import eval_mode
from ..engine.protocol import Adapter, Items, Option, Units, Without
from .columns import table_columns
from .coalitions import background_inputs, changeable_players, display_value, explained_rows
from .data import frame_from_record, frame_record, load_tabular, same_rows, training_targets
from .reliance import flagged_variables, raw_from_expected, without_flagged_columns
from .variables import CAT, CONT

__all__ = ['TabularAdapter']

DEFAULT_EVALS = 2048   # method='shapley': coalitions per row, plus 2 per column (shap's KernelExplainer default)

_BACKGROUND = Option('background', None, "DataFrame of reference rows; None: a seeded sample of the training set")
_N_BACKGROUND = Option('n_background', 100, "size of that sample (at least 2: the base value is an expectation over it)",
                       Integer(2))


def _groups(options: dict) -> tuple:
    """`(groups, auto_groups)` of a call's options: feature_importance (the capability with `auto_groups`) also takes
    groups='auto', its automatic groups only (found on the scored rows, by `columns`)."""
    groups, auto = options.get('groups'), options.get('auto_groups', False)
    if isinstance(groups, str) and 'auto_groups' in options:
        if groups != 'auto': raise ParameterError('groups', f"`groups` must be a dict, 'auto' or None, got {groups!r}")
        return None, True
    return groups, auto


class TabularAdapter(Adapter):
    unit, item, items = 'column', 'row', 'rows'
    explanation_methods = ('exact', 'permutation')
    default_method = 'auto'
    removed_by = 'background'
    fewer_units_hint = ', or group columns with `groups=`'
    importance = 'permutation'   # a column's values taken from other rows (`columns`)
    pictures = {'table': 'fastai_featimp.plot.explanation:rows_table',
                'plot': 'fastai_featimp.plot.explanation:plot_waterfall',
                'shap': 'fastai_featimp.interop.shap:table_to_shap'}
    options = {
        'feature_importance': (
            Option('groups', None, "`{name: [columns]}` permuted jointly and reported as one row; 'auto': associated "
                                   "columns"),
            Option('auto_groups', False, "add automatic groups of associated columns to the `groups` given", Flag()),
            Option('threshold', 0.7, "association at which columns join an automatic group, in (0, 1]",
                   Number(0, 1, low_open=True)),
            Option('strategy', 'marginal', "'marginal', or 'conditional': permute within strata of the most associated "
                                           "columns", Choice('marginal', 'conditional'))),
        'explain': (_BACKGROUND, _N_BACKGROUND,
                    Option('groups', None, "`{name: [columns]}` switched together as one player"),
                    Option('n_jobs', 1, "rows explained in parallel through joblib (-1: all cores; a joblib backend "
                                        "decides where)")),
        'reliance': (_BACKGROUND, Option('n_background', 100, "size of that sample", Integer(2))),
        'evaluate_explanation': (Option('background', None, "the background rows (default: the explanation's own, given "
                                                            "or sampled)"),),
        'captum_inputs': (Option('background', None, "DataFrame of reference rows: the first one is the baseline; None: a "
                                                     "seeded training row"),
                          Option('n_background', 1, "(with background=None) how many training rows are drawn; the first "
                                                    "is the baseline", Integer(1))),
    }

    def setup_options(self, options: dict) -> dict: return {'groups': _groups(options)[0]}   # the call's variables

    def columns(self, s, data, *, param, **options):
        groups, auto = _groups(options)
        default = next(o.default for o in self.options['feature_importance'] if o.name == 'threshold')
        if not auto and options.get('threshold', default) != default:
            warn(f"threshold={options['threshold']} is the association at which columns join an automatic group: "
                 "without groups='auto' (or auto_groups=True) it changes nothing")
        return table_columns(s, data, param=param, **{**options, 'groups': groups, 'auto_groups': auto})

    def default_budget(self, n_units: int) -> int: return DEFAULT_EVALS + 2 * n_units

    def load(self, s, data, *, param, labelled=False, label_col=None, bs=None, method=None, show_progress=True,
             background=None, n_background=100, groups=None, n_jobs=1):
        check_jobs(n_jobs)
        variables = s.variables
        if background is not None and isinstance(background, pd.DataFrame) and len(background) == 1 and \
                method != 'captum':
            warn("background= holds a single row: the Shapley values then explain the difference from that one "
                 "row, not from an expected prediction; pass typical rows (dozens or more) for the usual reading")
        if labelled:
            loaded = load_tabular(s.learn, s.schema, data, labelled=True, param=param, dataloader_ok=False)
            x, target = loaded.inputs, loaded.target
        else: x, target = explained_rows(s.learn, s.schema, data, param), None
        sample = background_inputs(s.learn, s.schema, background, n_background, s.stream('background'))
        return TableItems(s, data, x, target, sample, background, variables, bs, n_jobs, show_progress)

    def from_explanation(self, s, expl, data, *, bs=None, background=None):
        attrs = expl.attrs
        kept, kept_bg = attrs.get('data'), attrs.get('background_data')
        if data is None and kept is not None: data = frame_from_record(kept)
        if not isinstance(data, pd.DataFrame):
            raise ParameterError('data', "pass `data=`, the DataFrame of the rows that were explained: a table's "
                                         "explanation keeps their values as written, not the processed inputs")
        if kept is not None and not same_rows(data, kept):
            raise ParameterError('data', f"`data` ({len(data)} rows) is not the rows this explanation was made from "
                                         f"({len(kept['data'])} rows, index {shown(kept['index'])}): leave `data` out to "
                                         "use them, or explain these rows first")
        if background is None and kept_bg is not None: background = frame_from_record(kept_bg)
        elif background is not None and attrs.get('background_sample') is not None:
            background = background.iloc[attrs['background_sample']]   # the rows the explanation sampled from it
        if background is None and attrs.get('background_rows') is None:
            raise ParameterError('background', "the explanation was made with `background=`: pass the same rows again")
        if background is not None and kept_bg is not None and not same_rows(background, kept_bg):
            raise ParameterError('background', "`background` is not the background this explanation was made with: its "
                                               "Shapley values answer another question (another base value); leave "
                                               "`background` out to use the explanation's own")
        n_rows = expl['row'].nunique()
        if len(data) != n_rows:
            raise ParameterError('data', f"`data` has {len(data)} rows; the explanation explains {n_rows}")
        variables = s.kind.variables(s.schema, attrs.get('groups') or None)
        names = [v.name for v in variables]
        if any(list(p['Variable']) != names for _, p in expl.groupby('row', sort=True)):
            raise ParameterError('expl', "`expl` explains other columns than this learner's: it was made with another "
                                         "learner")
        x = explained_rows(s.learn, s.schema, data, 'data')
        sample = background_inputs(s.learn, s.schema, background, None,
                                   rows=None if background is not None else attrs['background_rows'])
        return TableItems(s, data, x, None, sample, background, variables, bs, 1, False)

    def frame_columns(self) -> set: return {'row', 'Value', 'Contribution'}

    def flagged(self, s, flagged): return flagged_variables(s.variables, flagged)

    def describe_flagged(self, flagged) -> list: return sorted(v.name for v in flagged)

    def is_labelled(self, s, data, label_col) -> bool:
        return isinstance(data, pd.DataFrame) and set(s.schema.y_names) <= set(data.columns)

    def training_scale(self, s, ks):
        "A regression's default threshold is a share of the training labels' spread: one scale whatever rows are passed."
        return training_targets(s.learn, ks[0])

    def reliance_attrs(self, items, options: dict) -> dict:
        return dict(n_background=items.n_background, counts_found=False)   # every row holds its flagged columns


def _row_values(shared: dict, piece: tuple) -> np.ndarray:
    "The explained value of each coalition of one row (a module-level function: any worker can run it)."
    i, keep = piece
    value = coalition_value_fn(shared['model'], [t[i:i + 1] for t in shared['x']], shared['bg'], shared['slots'],
                               lambda p: shared['explained'](i, p), bs=shared['bs'], progress=shared.get('progress'))
    return value(keep)


class TableItems(Items):
    def __init__(self, s, frame, x, target, sample, background, variables, bs, n_jobs, show_progress):
        self.s, self.frame, self.x, self.sample, self.background = s, frame, x, sample, background
        self.variables, self.bs, self.n_jobs, self.show_progress = variables, bs, n_jobs, show_progress
        self.bg = sample.inputs
        self.n_rows, self.index = x[0].shape[0], list(frame.index)
        self.target = None if target is None else target.cpu()
        self.n_background = int(self.bg[0].shape[0])
        self.parallel = n_jobs != 1
        self.model = s.learn.model

    def units(self, i: int) -> Units:
        v = self.variables
        return Units([p.name for p in v], dict(Value=[display_value(self.frame, i, p.members) for p in v]), {},
                     changeable_players(self.x, i, self.bg, v))

    def forward(self, progress=None) -> torch.Tensor:
        with torch.inference_mode(), eval_mode(self.model): raw = self.model(*self.x).reshape(self.n_rows, -1)
        if progress is not None: progress(self.n_rows)
        return raw.float().cpu()

    def values(self, keeps: list, explained, progress=None) -> list:
        """Per row, the mean over the background rows of the explained output with each coalition's columns from the
        row and the others from the background row; rows in parallel with `n_jobs`."""
        asked = [(i, k) for i, k in enumerate(keeps) if len(k)]
        shared = dict(model=self.model, x=self.x, bg=self.bg, slots=[p.group.slots for p in self.variables],
                      explained=explained, bs=self.bs)
        if self.parallel:
            got = parallel_map(_row_values, shared, asked, n_jobs=self.n_jobs, learn=self.s.learn,
                               show_progress=self.show_progress, comment='explaining rows', sizes=[len(k) for _, k in asked])
        else: got = [_row_values({**shared, 'progress': progress}, piece) for piece in asked]
        out = [np.zeros(0) for _ in keeps]
        for (i, _), v in zip(asked, got): out[i] = v
        return out

    def without(self, flagged, progress=None) -> Without:
        s = self.s
        expected = without_flagged_columns(self.model, self.x, self.bg, flagged, s.activation,
                                           self.bs or default_bs(self.x[0].device), progress=progress).cpu()
        members = [m for v in flagged for m in v.members]
        found = [{m: plain(self.frame.iloc[i][m]) for m in members} for i in range(self.n_rows)]
        names = sorted(v.name for v in flagged)
        flagged_names = {v.name for v in flagged}
        return Without(raw_from_expected(expected, s.schema, s.output), found, [names] * self.n_rows,
                       [[p.name in flagged_names for p in self.variables]] * self.n_rows, expected=expected)

    def captum(self, activation) -> dict:
        """The model as a function of `(codes, values)`, baselines from the first background row, a feature mask that
        keeps a continuous column with its FillMissing `_na` indicator (groups from 0, as captum wants)."""
        model, variables = self.model, self.variables
        x = [t.detach() for t in self.x]
        baselines = tuple(t[:1].detach() for t in self.bg)
        masks = [torch.zeros(1, t.shape[1], dtype=torch.long, device=t.device) for t in x]
        for g, v in enumerate(variables):
            for t, c in v.group.slots: masks[t][0, c] = g

        def forward_func(*inputs):
            with eval_mode(model): return activation(model(*inputs)).reshape(inputs[0].shape[0], -1)

        embedding = None
        if isinstance(getattr(model, 'embeds', None), torch.nn.ModuleList) and len(model.embeds) == x[CAT].shape[1] > 0:
            embedding = lambda target, names, frame: _embedding_level(model, x, baselines, variables, forward_func,
                                                                      target, names, frame)
        return dict(forward_func=forward_func, inputs=tuple(x), baselines=baselines, feature_mask=tuple(masks),
                    first_group=0, embedding=embedding)

    def attrs(self) -> dict:
        sample, background, feature_names = self.sample, self.background, self.s.schema.feature_names
        return dict(n_background=self.n_background,
                    groups={p.name: list(p.members) for p in self.variables if p.kind == 'group'},
                    background_rows=None if background is not None else
                    (sample.rows if sample.rows is not None else list(range(sample.n_rows))),
                    # what the explanation was made from, so that it can be evaluated (and a mismatch seen) later
                    data=frame_record(self.frame, feature_names),
                    background_data=None if background is None else frame_record(
                        background if sample.rows is None else background.iloc[sample.rows], feature_names),
                    background_sample=None if background is None else sample.rows)


def _embedding_level(model, x, baselines, variables, forward_codes, target, names, frame):
    "The tabular problem on the categorical columns' embedding vectors (float), the continuous values unchanged."
    from contextlib import contextmanager
    from ..core.captum import CaptumInputs
    sizes = [e.embedding_dim for e in model.embeds]
    offsets = np.concatenate([[0], np.cumsum(sizes)])

    @contextmanager
    def embeddings_from(emb):
        "Each of `model.embeds` gives its slice of `emb` (rows x all embedding dimensions) instead of looking codes up."
        handles = [e.register_forward_hook(lambda m, i, o, a=int(offsets[k]), b=int(offsets[k + 1]): emb[:, a:b])
                   for k, e in enumerate(model.embeds)]
        try: yield
        finally:
            for h in handles: h.remove()

    with torch.no_grad():
        embed = lambda codes: torch.cat([e(codes[:, k]) for k, e in enumerate(model.embeds)], 1).detach()
        inputs, bases = (embed(x[CAT]),) + tuple(x[1:]), (embed(baselines[CAT]),) + tuple(baselines[1:])
    dims = np.repeat(np.arange(len(sizes)), sizes)   # the categorical column of each embedding dimension
    group_of = {(t, c): g for g, v in enumerate(variables) for t, c in v.group.slots}   # from 0, as captum wants
    masks = [torch.tensor([[group_of[(CAT, int(c))] for c in dims]], device=inputs[0].device)] + \
            [torch.tensor([[group_of[(CONT, c)] for c in range(t.shape[1])]], device=t.device) for t in inputs[1:]]

    def forward_func(emb, *rest):
        codes = torch.zeros(emb.shape[0], len(sizes), dtype=torch.long, device=emb.device)
        with embeddings_from(emb): return forward_codes(codes, *rest)

    return CaptumInputs(forward_func, inputs, bases, tuple(masks), target, names, frame, summed=True, first_group=0)
