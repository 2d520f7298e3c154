"""A kind of data defined here, in the test, with no change to the package: fixed-length numeric sequences, each
position a unit, removed by setting it to 0. Registered with `fastai_featimp.register_kind`, its learners get the
engine's feature_importance, explain, reliance, evaluate_explanation, compare_explanations, sanity_check and
captum_inputs, with answers known in closed form (the model reads position 2 only)."""
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import fastai_featimp
from fastai_featimp import Adapter, Items, Units
from fastai_featimp.engine.protocol import Without
from fastai_featimp.core.params import ParameterError

L = 8   # positions per sequence


class Sequences(torch.utils.data.TensorDataset):
    "The training data of a sequence learner: what its kind recognises."


class SequenceItems(Items):
    def __init__(self, s, x):
        self.model, self.x = s.learn.model, x
        self.n_rows, self.index, self.target = len(x), list(range(len(x))), None

    def units(self, i):
        return Units([f'p{j}' for j in range(L)], where={'Position': list(range(L))}, changeable=(self.x[i] != 0).numpy())

    def _run(self, x, progress):
        if progress is not None: progress(len(x))
        with torch.no_grad(): return self.model(x).float()

    def forward(self, progress=None): return self._run(self.x, progress)

    def values(self, keeps, explained, progress=None):
        return [explained(i, self._run(self.x[i][None] * k.float(), progress)).numpy() if len(k) else np.zeros(0)
                for i, k in enumerate(keeps)]

    def without(self, flagged, progress=None):
        x = self.x.clone(); x[:, flagged] = 0
        found = [[p for p in flagged if self.x[i, p] != 0] for i in range(self.n_rows)]
        return Without(self._run(x, progress), found, [[f'p{p}' for p in f] for f in found],
                       [[j in flagged for j in range(L)] for _ in range(self.n_rows)])

    def captum(self, activation):
        def forward_func(x):
            return activation(self.model(x))
        return dict(forward_func=forward_func, inputs=(self.x,), baselines=(torch.zeros_like(self.x),),
                    feature_mask=(torch.arange(L)[None],), first_group=0)


class SequenceAdapter(Adapter):
    unit, item, items = 'position', 'sequence', 'sequences'

    def load(self, s, data, *, param, labelled=False, **options):
        if labelled and not isinstance(data, tuple):
            raise ParameterError(param, f"`{param}` must be (sequences, labels): importance needs the labels")
        x, y = data if labelled else (data, None)   # labelled: (sequences, labels)
        x = torch.as_tensor(np.asarray(x, dtype=np.float32))
        if x.ndim != 2 or x.shape[1] != L: raise ParameterError(param, f"`{param}` must be sequences of {L} numbers")
        items = SequenceItems(s, x)
        if labelled: items.target = torch.as_tensor(np.asarray(y), dtype=torch.long)
        return items

    def from_explanation(self, s, expl, data, *, bs=None): return self.load(s, data, param='data')
    def frame_columns(self): return {'row', 'Position', 'Contribution'}
    def flagged(self, s, flagged): return sorted(int(p) for p in flagged)


@pytest.fixture(scope='module')
def sequence_learner():
    from fastai.data.core import DataLoaders
    from fastai.learner import Learner
    from fastai.losses import CrossEntropyLossFlat
    kind = fastai_featimp.register_kind(
        'sequence', recognises=lambda learn: isinstance(learn.dls.train_ds, Sequences),
        schema=lambda learn: SimpleNamespace(y_vocab=['low', 'high'], y_names=['y'], multi_label=False, n_out=2),
        adapter=SequenceAdapter, learner='fixed-length sequences of numbers')
    x = torch.randn(64, L)
    ds = Sequences(x, (x[:, 2] > 0).long())
    model = nn.Linear(L, 2)
    with torch.no_grad():   # reads position 2 only: the answer is known in closed form
        model.weight.zero_(); model.bias.zero_(); model.weight[1, 2] = 3.0
    learn = Learner(DataLoaders.from_dsets(ds, ds, bs=16), model, loss_func=CrossEntropyLossFlat())
    yield learn
    from fastai_featimp.common import kinds
    kinds._REGISTRY.pop(kind.name)


def sigmoid(z): return 1 / (1 + np.exp(-z))


def test_a_kind_defined_outside_the_package_is_explained_by_the_engine(sequence_learner):
    learn = sequence_learner
    x = np.random.default_rng(0).normal(size=(5, L)).astype(np.float32)
    for method in ('shapley', 'occlusion'):
        e = learn.explain(x, method=method, seed=0, show_progress=False)
        assert list(e.columns) == ['row', 'Variable', 'Position', 'Contribution', 'Std'] and e.attrs['kind'] == 'sequence'
        wide = e.pivot(index='row', columns='Variable', values='Contribution')
        # P(high) = sigmoid(3 x2); without position 2 it is sigmoid(0) = 0.5; every other position contributes 0
        assert np.allclose(wide['p2'], sigmoid(3 * x[:, 2]) - 0.5, atol=1e-6)
        assert (wide.drop(columns='p2') == 0).all().all()
        assert np.allclose(np.array(e.attrs['base_values']) + wide.sum(axis=1), e.attrs['outputs'], atol=1e-6)
    assert 'For a sequence learner' in learn.explain.__doc__ and 'sequences' in str(
        __import__('inspect').signature(fastai_featimp.common.kinds.kind_of(learn).function('explain')))


def test_reliance_evaluation_comparison_and_captum_on_the_new_kind(sequence_learner):
    learn = sequence_learner
    x = np.random.default_rng(1).normal(size=(6, L)).astype(np.float32)
    rel = learn.reliance(x, flagged=[2], show_progress=False)
    assert np.allclose(rel['Without'], 0.5) and np.allclose(rel['Prediction'], sigmoid(3 * x[:, 2]), atol=1e-6)
    # without p2 both classes tie at 0.5 and the first ('low') is predicted: every 'high' flips
    assert rel['Flipped'].tolist() == list(x[:, 2] > 0)
    assert rel['Relies'].tolist() == list((np.abs(sigmoid(3 * x[:, 2]) - 0.5) >= 0.1) | (x[:, 2] > 0))
    assert learn.reliance(x, flagged=[5], show_progress=False)['Change'].abs().max() == 0   # an ignored position
    e = learn.explain(x, method='occlusion', show_progress=False)
    ev = learn.evaluate_explanation(e, x, k=1, n_random=5, seed=0, show_progress=False)
    overall = ev[ev['row'] == 'all'].set_index('Metric')
    # units go most positive first: where p2 raised P(high) it goes first and takes the whole rise at once; where it
    # lowered it, a position contributing 0 goes first and nothing moves
    assert np.isclose(overall.loc['comprehensiveness@1', 'Explanation'], np.mean(np.clip(sigmoid(3 * x[:, 2]) - 0.5, 0, None)),
                      atol=1e-6)
    cmp = learn.compare_explanations(x, n_random=5, seed=0, show_progress=False)
    assert set(cmp['Method']) >= {'shapley', 'occlusion'}
    sc = learn.sanity_check(x, seed=0, show_progress=False)
    assert len(sc) and learn.model.weight[1, 2] == 3.0   # randomised copies, the learner's own model untouched
    ci = learn.captum_inputs(x)
    from captum.attr import FeatureAblation
    attr = FeatureAblation(ci.forward_func).attribute(ci.inputs, baselines=ci.baselines, feature_mask=ci.feature_mask,
                                                      target=ci.target)
    frame = ci.to_frame(attr)
    assert np.allclose(frame['Contribution'].to_numpy(), e['Contribution'].to_numpy(), atol=1e-6)


def test_importance_over_a_set_on_the_new_kind(sequence_learner):
    "Each position removed in every sequence: the one read ranks first, the others score exactly 0 (closed form)."
    learn = sequence_learner
    x = np.random.default_rng(2).normal(size=(40, L)).astype(np.float32)
    y = (x[:, 2] > 0).astype(int)
    fi = learn.feature_importance((x, y), metric=['loss', 'accuracy'], n_bootstrap=50, seed=0, show_progress=False)
    loss, acc = fi['loss'], fi['accuracy']
    assert loss['Variable'].iloc[0] == 'p2' and loss['Importance'].iloc[0] > 0 and (loss['Importance'].iloc[1:] == 0).all()
    # accuracy without p2: both classes tie at 0.5 and 'low' is predicted, right for the sequences labelled low
    assert np.isclose(acc.set_index('Variable').loc['p2', 'Importance'], 1 - (1 - y).mean())
    assert np.isclose(loss.set_index('Variable').loc['p2', 'MeanDelta'], np.mean(sigmoid(3 * x[:, 2]) - 0.5), atol=1e-6)
    assert list(loss.set_index('Variable').loc[['p0', 'p2'], 'Position']) == [0, 2]   # where each unit is, from Units
    assert loss.attrs['kind'] == 'sequence' and loss.attrs['method'] == 'position occlusion'
    pd.testing.assert_frame_equal(loss, learn.feature_importance((x, y), n_bootstrap=50, seed=0, show_progress=False))
    with pytest.raises(ParameterError, match='labels'):
        learn.feature_importance(x, show_progress=False)   # unlabelled: the adapter loads no target


def test_a_method_the_kind_does_not_have_is_named(sequence_learner):
    with pytest.raises(TypeError, match='partial_dependence is not available for a sequence learner'):
        sequence_learner.partial_dependence(['p2'])
    with pytest.raises(TypeError, match="unexpected keyword argument 'grid'"):
        sequence_learner.explain(np.zeros((1, L)), grid=3)


def test_a_piece_the_adapter_lacks_is_named(sequence_learner):
    "Reliance needs `without`: a kind whose items lack it gets a TypeError naming the capability, the kind and the piece."
    class Bare(SequenceItems):
        without = Items.without
    class BareAdapter(SequenceAdapter):
        def load(self, s, data, *, param, **options): return Bare(s, super().load(s, data, param=param).x)
    kind = fastai_featimp.register_kind('bare_sequence', recognises=lambda learn: getattr(learn, 'bare', False),
                                        schema=lambda learn: SimpleNamespace(y_vocab=['low', 'high'], y_names=['y'],
                                                                             multi_label=False, n_out=2),
                                        adapter=BareAdapter)
    try:
        from fastai_featimp.common.kinds import kinds
        learn = sequence_learner
        learn.bare = True
        # registered after 'sequence', which recognises this learner first: ask the bare kind's door directly
        with pytest.raises(TypeError, match=r"reliance is not available for a bare_sequence learner: its adapter does not "
                                            r"implement `without`"):
            kind.function('reliance')(learn, np.zeros((2, L), np.float32), flagged=[2])
        assert kind in kinds()
    finally:
        del learn.bare
        from fastai_featimp.common import kinds as registry
        registry._REGISTRY.pop('bare_sequence')


class PermutedSequenceAdapter(SequenceAdapter):
    "The same kind, its importance by permutation: a position's values taken from other sequences (`Adapter.columns`)."
    importance = 'permutation'

    def columns(self, s, data, *, param, max_rows=None, rng=None, split='valid', **_):
        if data is None: data = (s.learn.dls.train_ds if split == 'train' else s.learn.dls.valid_ds).tensors
        x, y = (torch.as_tensor(np.asarray(d)) for d in data)
        if max_rows is not None and len(x) > max_rows:
            keep = np.sort(rng.choice(len(x), max_rows, replace=False)); x, y = x[keep], y[keep]
        units = [fastai_featimp.ColumnUnit(f'p{j}', fastai_featimp.ColumnGroup(((0, j),)), 'position') for j in range(L)]
        if self.bare_units: units = [SimpleNamespace(name=u.name) for u in units]
        strata = [np.arange(len(x))] * L if self.own_strata else None   # each item a stratum of its own: nothing moves
        return fastai_featimp.Columns([x.float()], y.long(), units, strata, source=param)

    own_strata = bare_units = False


@pytest.fixture
def permuted_learner(sequence_learner):
    "The sequence learner, recognised by a kind whose adapter permutes (registered for the test, then removed)."
    from fastai_featimp.common import kinds as registry
    kind = fastai_featimp.register_kind(
        'permuted_sequence', recognises=lambda learn: getattr(learn, 'permuted', False),
        schema=lambda learn: SimpleNamespace(y_vocab=['low', 'high'], y_names=['y'], multi_label=False, n_out=2),
        adapter=PermutedSequenceAdapter)
    registry._REGISTRY = {'permuted_sequence': kind, **registry._REGISTRY}   # tried before 'sequence'
    sequence_learner.permuted = True
    try: yield sequence_learner
    finally:
        del sequence_learner.permuted
        registry._REGISTRY.pop('permuted_sequence')


def test_permutation_importance_on_the_new_kind(permuted_learner):
    """A kind declaring `importance = 'permutation'` gets the table's estimator: a position the model ignores scores
    exactly 0, and the one it reads scores the loss of the sequences with that position taken from the permuted rows,
    computed here by hand from the same seeded permutations."""
    from fastai_featimp.core.permutation import within_strata_permutation
    from fastai_featimp.core.seeding import root_seed, stream
    learn = permuted_learner
    x = np.random.default_rng(3).normal(size=(60, L)).astype(np.float32)
    y = (x[:, 2] > 0).astype(int)
    fi = learn.feature_importance(df=(x, y), n_repeats=3, seed=0, show_progress=False)
    assert fi.attrs['kind'] == 'permuted_sequence' and fi.attrs['method'] == 'permutation'
    assert fi['Variable'].iloc[0] == 'p2' and (fi.set_index('Variable').drop('p2')['Importance'] == 0).all()
    loss = lambda xs: torch.nn.functional.cross_entropy(learn.model(torch.as_tensor(xs)), torch.as_tensor(y)).item()
    gen, drops = stream(root_seed(0), 'permutation', 'p2'), []
    for _ in range(3):
        xs = x.copy(); xs[:, 2] = x[within_strata_permutation(gen, len(x)), 2]
        drops.append(loss(xs) - loss(x))
    assert np.allclose(fi.attrs['importances']['p2'], drops, atol=1e-6)
    assert 'n_repeats' in inspect_signature(learn) and 'n_bootstrap' not in inspect_signature(learn)
    from fastai_featimp.common.kinds import kind_of
    adapter = kind_of(learn).adapter()
    adapter.bare_units = True   # units that do not say where they are: the contract is named
    try:
        with pytest.raises(TypeError, match=r"a unit without group, kind, members: give each unit as "
                                            r"fastai_featimp.ColumnUnit"):
            learn.feature_importance(df=(x, y), n_repeats=1, show_progress=False)
    finally: adapter.bare_units = False


@pytest.mark.slow   # starts worker processes (3 s)
def test_permutations_of_a_new_kind_in_parallel_give_the_same_numbers(permuted_learner):
    x = np.random.default_rng(3).normal(size=(60, L)).astype(np.float32)
    data = (x, (x[:, 2] > 0).astype(int))
    pd.testing.assert_frame_equal(permuted_learner.feature_importance(df=data, n_repeats=3, seed=0, show_progress=False),
                                  permuted_learner.feature_importance(df=data, n_repeats=3, seed=0, n_jobs=2,
                                                                      show_progress=False))


def inspect_signature(learn) -> str:
    "The signature of the feature_importance a learner's kind has."
    import inspect
    from fastai_featimp.common.kinds import kind_of
    return str(inspect.signature(kind_of(learn).function('feature_importance')))


def test_the_callback_tracks_a_permuted_kind(permuted_learner):
    "The training callback scores the permuted kind through the same estimator: position 2 tracked, the rest exactly 0."
    learn = permuted_learner
    x = np.random.default_rng(4).normal(size=(40, L)).astype(np.float32)
    cb = fastai_featimp.ImportanceCallback(df=(x, (x[:, 2] > 0).astype(int)), seed=0)
    with learn.no_bar(), learn.no_logging(): learn.fit(1, 0, cbs=cb)   # lr 0: the model stays the closed form
    last = cb.history[cb.history['split'] == 'valid'].set_index('Variable')['Importance']
    assert last['p2'] > 0 and (last.drop('p2') == 0).all()
    assert set(cb.history['split']) == {'valid', 'train'}


def test_strata_hold_for_importance_and_the_callback(permuted_learner):
    "A kind's strata bound its permutations in feature_importance and in the callback alike: one item per stratum, nothing moves."
    from fastai_featimp.common.kinds import kind_of
    learn = permuted_learner
    adapter = kind_of(learn).adapter()
    x = np.random.default_rng(5).normal(size=(40, L)).astype(np.float32)
    y = (x[:, 2] > 0).astype(int)
    adapter.own_strata = True
    try:
        with pytest.warns(UserWarning, match='every importance is exactly 0'):
            fi = learn.feature_importance(df=(x, y), n_repeats=2, seed=0, show_progress=False)
        assert (fi['Importance'] == 0).all()
        cb = fastai_featimp.ImportanceCallback(df=(x, y), seed=0)
        with learn.no_bar(), learn.no_logging(): learn.fit(1, 0, cbs=cb)
        assert (cb.history['Importance'] == 0).all()
    finally: adapter.own_strata = False


def test_an_unknown_importance_estimator_is_named():
    class Odd(SequenceAdapter):
        importance = 'shuffle'
    kind = fastai_featimp.register_kind('odd_sequence', recognises=lambda learn: False, schema=lambda learn: None,
                                        adapter=Odd)
    try:
        with pytest.raises(TypeError, match=r"importance = 'shuffle'; it must be one of 'removal', 'permutation'"):
            kind.function('feature_importance')
        assert len({fastai_featimp.Option('a', 1, 'c', fastai_featimp.core.params.Integer(1))}) == 1   # options hash
    finally:
        from fastai_featimp.common import kinds as registry
        registry._REGISTRY.pop('odd_sequence')
