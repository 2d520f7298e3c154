"""Text for the engine: a text's units are its words (with fastai's case and repetition markers), sentences or tokens,
placed by their characters in the text as written; a removed unit's tokens become `xxunk` (or are deleted, never
`xxpad`); the model runs on texts of one length per batch (`text/forward.py`); flagged inputs are phrases matched on
the learner's own words."""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..common.parallel import check_jobs, mapper
from ..core.checks import shown
from ..core.forward import model_device
from ..core.params import Choice, Integer, ParameterError
from ..core.state import eval_mode
from ..engine.protocol import Adapter, Items, Option, Units, Without
from .data import load_text
from .forward import masked_ids, plain_output, preserved_recurrent_state, text_forward
from .gradients import embedding_layer, embeddings_from, fits_one_chunk, gradient_ready, integrated_gradients
from .reliance import flagged_occurrences, flagged_phrases, without_flagged
from .units import MARKERS, UNITS, align, units_of

__all__ = ['TextAdapter', 'MASKS']

MASKS = ('unk', 'delete')
MAX_MASKED = 200_000   # masked texts gathered into one forward plan at most (memory stays bounded)
EVALS_PER_UNIT = 20    # the default budget of method='shapley': masked texts per unit (the cost of 20 permutations)

_UNIT = Option('unit', 'word', "'word' (with its xxmaj/xxup/xxrep markers), 'sentence' or 'token'", Choice(*UNITS))
_MASK = Option('mask', 'unk', "how a unit is removed: replaced by `xxunk`, or 'delete'd; never `xxpad`")
_TEXT_COL = Option('text_col', None, "the text column of a DataFrame (default: the one the learner was built from)")
_LABEL_COL = Option('label_col', None, "the label column (for the summary metric; default: the learner's)")


class TextAdapter(Adapter):
    unit, item, items = 'word', 'text', 'texts'
    captum_one_item, gradients = True, True
    explanation_methods = ('shapley', 'occlusion', 'integrated_gradients')
    pictures = {'html': 'fastai_featimp.plot.text:explanation_html',
                'page': 'fastai_featimp.plot.text:explanation_page',
                'table': 'fastai_featimp.plot.text:explanation_table',
                'plot': 'fastai_featimp.plot.text:plot_text_explanation',
                'show': 'fastai_featimp.plot.text:show_text_explanation',
                'shap': 'fastai_featimp.interop.shap:text_to_shap'}
    options = {
        'explain': (_UNIT, _MASK, _TEXT_COL,
                    Option('n_jobs', 1, "forward batches of the masked texts run in parallel through joblib (-1: all cores)")),
        'reliance': (Option('mask', 'unk', "how a flagged phrase is removed: its tokens replaced by xxunk, or 'delete'd",
                            Choice(*MASKS)), _TEXT_COL, _LABEL_COL),
        'captum_inputs': (_UNIT, _TEXT_COL),
    }

    def default_budget(self, n_units: int) -> int: return EVALS_PER_UNIT * n_units

    def load(self, s, data, *, param, labelled=False, label_col=None, bs=None, method=None, show_progress=True,
             unit='word', mask='unk', text_col=None, n_jobs=1):
        _check_mask(mask)
        check_jobs(n_jobs)
        layer = None
        if method == 'integrated_gradients':
            if mask != 'unk':
                raise ParameterError('mask', "integrated gradients interpolates embeddings from the xxunk baseline: use "
                                             "`mask=`'unk'")
            layer = embedding_layer(s.learn.model, len(s.schema.vocab))
            if layer is None:
                raise ParameterError('method', "integrated gradients needs an embedding layer over the learner's "
                                               "vocabulary; this model has none: use `method=`'shapley' or 'occlusion'")
        loaded = load_text(s.learn, s.schema, data, text_col=text_col, label_col=label_col, labelled=labelled,
                           param=param)
        run = None if n_jobs == 1 else mapper(n_jobs, s.learn, show_progress, 'explaining texts')
        return TextItems(s, loaded, unit, mask, bs, layer, run)

    def from_explanation(self, s, expl, data, *, bs=None):
        if 'texts' not in expl.attrs:
            raise ParameterError('expl', "`expl` has lost its attrs (the texts and outputs), as pandas does in to_csv or a "
                                         "concat: evaluate the DataFrame returned by learn.explain")
        items = TextItems(s, load_text(s.learn, s.schema, expl.attrs['texts'], param='expl'),
                          expl.attrs.get('unit', 'word'), expl.attrs.get('mask', 'unk'), bs, None, None)
        for r, part in expl.groupby('row', sort=True):
            u = items.units(int(r))
            if list(zip(u.where['Start'], u.where['End'])) != list(zip(part['Start'], part['End'])):
                raise ParameterError('expl', f"row {r} of `expl` does not match how this learner reads its text: it was "
                                             "made with another learner (or another unit); explain with this learner first")
        return items

    def frame_columns(self) -> set: return {'row', 'Start', 'End', 'Contribution'}

    def flagged(self, s, flagged): return flagged_phrases(s.schema, flagged)

    def describe_flagged(self, flagged) -> list: return [' '.join(g) for g in flagged]

    def is_labelled(self, s, data, label_col) -> bool:
        if label_col is not None and not (isinstance(data, pd.DataFrame) and label_col in data.columns):
            has = f"it has {shown(data.columns, 10)}" if isinstance(data, pd.DataFrame) else f"it is a {type(data).__name__}"
            raise ParameterError('label_col', f"`label_col` {label_col!r} is not a column of `data` ({has}): the summary "
                                              "metric needs the labels; fix the name or leave `label_col` out")
        return isinstance(data, pd.DataFrame) and \
            (label_col or (s.schema.y_names[0] if s.schema.y_names else None)) in data.columns

    def reliance_attrs(self, items, options: dict) -> dict:
        return dict(mask=options.get('mask', 'unk'), texts=list(items.data.texts))


def _check_mask(mask) -> None:
    if mask in ('pad', 'xxpad'):
        raise ParameterError('mask', "`mask`='pad' is not offered: fastai text models treat xxpad as padding, which "
                                     "changes their output in ways unrelated to the word (use `mask=`'unk' or 'delete')")
    if mask not in MASKS: raise ParameterError('mask', f"`mask` must be 'unk' or 'delete', got {mask!r}")


class TextItems(Items):
    def __init__(self, s, data, unit: str, mask: str, bs, layer, run):
        self.s, self.data, self.unit, self.mask, self.bs, self.layer, self.run = s, data, unit, mask, bs, layer, run
        self.n_rows, self.index, self.target = data.n_rows, data.index, data.target
        self.parallel = run is not None
        self.model, self.unk = s.learn.model, s.schema.unk_id
        self._units, self._raw = {}, None

    def _aligned(self, i: int) -> list:
        if i not in self._units:
            d = self.data
            u = align(d.texts[i], d.tokens[i], units_of(d.tokens[i], self.unit), self.s.schema.tokenizer.rules)
            if not u: raise ParameterError('texts', f"text {i} ({d.texts[i][:40]!r}) has no {self.unit}s to explain")
            membership = torch.zeros(len(u), len(d.ids[i]), dtype=torch.bool)
            for j, w in enumerate(u): membership[j, w.positions] = True
            self._units[i] = (u, membership)
        return self._units[i][0]

    def _membership(self, i: int) -> torch.Tensor: self._aligned(i); return self._units[i][1]

    def units(self, i: int) -> Units:
        us, ids, text, tokens = self._aligned(i), self.data.ids[i], self.data.texts[i], self.data.tokens[i]
        about = dict(OOV=[all(int(ids[p]) == self.unk for p in u.content) for u in us],
                     Tokens=[' '.join(tokens[p] for p in u.positions) for u in us])
        if self.unit == 'token': about['Marker'] = [tokens[u.positions[0]] in MARKERS for u in us]
        # a unit already xxunk cannot change the output when units are masked with xxunk: exactly 0, never evaluated
        changeable = np.array([self.mask != 'unk' or any(int(ids[p]) != self.unk for p in u.positions) for u in us])
        return Units([text[u.start:u.end] for u in us], dict(Start=[u.start for u in us], End=[u.end for u in us]),
                     about, changeable)

    def forward(self, progress=None) -> torch.Tensor:
        if self._raw is None: self._raw = text_forward(self.model, self.data.ids, self.bs, progress=progress)
        return self._raw

    def values(self, keeps: list, explained, progress=None) -> list:
        """The masked texts of several texts gathered, in chunks, into one forward plan (larger batches), whose batches
        `run` may send to other workers."""
        ids = self.data.ids
        values, chunk = [np.zeros(0) for _ in ids], []
        def flush():
            seqs = [v for i in chunk for v in masked_ids(ids[i], self._membership(i), keeps[i], self.mask, self.unk)]
            out = text_forward(self.model, seqs, self.bs, progress=progress, mapper=self.run).reshape(len(seqs), -1)
            at = 0
            for i in chunk:
                values[i] = explained(i, out[at:at + len(keeps[i])]).double().numpy(); at += len(keeps[i])
            chunk.clear()
        for i in range(len(ids)):
            if len(keeps[i]) == 0: continue   # nothing asked of this text (this round)
            if chunk and sum(len(keeps[j]) for j in chunk) + len(keeps[i]) > MAX_MASKED: flush()
            chunk.append(i)
        if chunk: flush()
        return values

    def occurrences(self, phrases) -> list:
        return flagged_occurrences(self.data.tokens, self.data.texts, phrases, self.s.schema.tokenizer.rules)

    def without(self, flagged, progress=None) -> Without:
        """Texts without a flagged phrase keep their output exactly, with no forward pass spent on them."""
        occurrences = self.occurrences(flagged)
        raw = self.forward()
        raw_without = raw.clone()
        holding = [i for i, occ in enumerate(occurrences) if occ]
        if holding:
            variants = [without_flagged(self.data.ids[i], occurrences[i], self.mask, self.unk) for i in holding]
            raw_without[torch.tensor(holding)] = text_forward(self.model, variants, self.bs, progress=progress)
        found = [[dict(phrase=o.phrase, start=o.start, end=o.end) for o in occ] for occ in occurrences]
        units = [[any(set(u.positions) & set(o.positions) for o in occurrences[i]) for u in us]
                 for i, (us, _) in sorted(self._units.items())] if self._units else [[] for _ in occurrences]
        return Without(raw_without, found, [[o.phrase for o in occ] for occ in occurrences], units)

    def gradient(self, i: int, explained, n_steps: int) -> np.ndarray:
        ids, us = self.data.ids[i], self._aligned(i)
        baseline = masked_ids(ids, self._membership(i), torch.zeros(1, len(us), dtype=torch.bool), 'unk', self.unk)[0]
        attr = integrated_gradients(self.model, self.layer, ids, baseline, explained, n_steps)
        return np.array([float(attr[u.positions].sum()) for u in us])

    def captum(self, activation) -> dict:
        """The whole model on token ids (eval mode, recurrent state put back), `xxunk` baselines, a feature mask keeping
        each unit's tokens (its markers too) together (0: `xxbos`); gradient methods get the embedding layer, with the
        text read as one chunk and cuDNN off, so that the gradient crosses AWD_LSTM's 72-token chunks."""
        model = self.model
        device = model_device(model)
        us, ids = self._aligned(0), self.data.ids[0].to(device)
        membership = self._membership(0).to(device)
        mask = torch.zeros(1, len(ids), dtype=torch.long, device=device)
        for j, u in enumerate(us, start=1): mask[0, u.positions] = j
        baseline = masked_ids(ids, membership, torch.zeros(1, len(us), dtype=torch.bool, device=device), 'unk',
                              self.unk)[0]
        layer = embedding_layer(model, len(self.s.schema.vocab))

        def forward_func(x):
            # gradients and layer hooks need the text read in one chunk with cuDNN off; a text too long for one chunk
            # still runs captum's perturbation methods (under no_grad) through the model's own chunked forward
            grads = layer is not None and (torch.is_grad_enabled() or fits_one_chunk(model, x.shape[1]))
            with eval_mode(model), gradient_ready(model, x.shape[1]) if grads else preserved_recurrent_state(model):
                return activation(plain_output(model(x))).reshape(x.shape[0], -1)

        def embedding(target, names, frame):
            from ..core.captum import CaptumInputs
            weight = layer[1]
            with torch.no_grad(): e_x, e_b = weight[ids][None].detach(), weight[baseline][None].detach()
            def from_embeddings(emb):
                with embeddings_from(layer, emb): return forward_func(ids[None].expand(emb.shape[0], -1).contiguous())
            return CaptumInputs(from_embeddings, (e_x,), (e_b,), (mask,), target, names, frame, summed=True)

        return dict(forward_func=forward_func, inputs=(ids[None],), baselines=(baseline[None],), feature_mask=(mask,),
                    first_group=1, layer=None if layer is None else layer[0],
                    embedding=embedding if layer is not None else None)

    def attrs(self) -> dict: return dict(unit=self.unit, mask=self.mask, texts=list(self.data.texts))
