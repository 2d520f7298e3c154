"""One dispatch for every data kind: each (kind, method) pair either runs or raises a TypeError naming the kind and the
methods it has; the Learner methods and the command line take the same path; help shows every kind's arguments."""
import inspect

import pandas as pd
import pytest

import fastai_featimp
from fastai_featimp.common import kinds as registry
from fastai_featimp.common.kinds import UnsupportedMethod, kind_of

METHODS = sorted({m for k in registry.kinds() for m in k.all_methods})


@pytest.fixture(params=['binary_learner', 'custom_text'])
def learner(request): return request.getfixturevalue(request.param)


@pytest.mark.parametrize('method', METHODS)
def test_every_kind_and_method_runs_or_says_what_the_kind_has(learner, method):
    kind = kind_of(learner)
    if method in kind.all_methods:
        fn = kind.function(method)
        assert callable(fn) and list(inspect.signature(fn).parameters)[0] == 'learn'
    else:
        with pytest.raises(UnsupportedMethod, match=rf"{method} is not available for a {kind.name} learner.*its methods "
                                                    r"are .*explain.*feature_importance"):
            getattr(learner, method)()


def test_a_learner_no_kind_knows_is_named(binary_learner):
    from fastai.learner import Learner
    from fastai.data.core import DataLoaders
    import torch
    other = Learner(DataLoaders.from_dsets([1, 2], [3]), binary_learner.model, loss_func=torch.nn.MSELoss())
    with pytest.raises(TypeError, match=r"feature_importance needs a tabular learner .* or a text learner .*; this Learner "
                                        r"has DataLoaders over"):
        other.feature_importance()


def test_help_shows_every_kinds_arguments(binary_learner):
    doc = inspect.getdoc(binary_learner.feature_importance)
    assert 'For a tabular learner, fastai_featimp.permutation_importance' in doc and 'n_repeats = 5' in doc
    assert 'For a text learner, fastai_featimp.phrase_importance' in doc and 'min_support' in doc and 'n_bootstrap' in doc
    doc = inspect.getdoc(binary_learner.explain)
    assert 'unit = ' in doc and 'mask = ' in doc and 'n_background = 100' in doc
    assert list(inspect.signature(binary_learner.explain).parameters) == ['rows', 'kwargs']
    assert 'df' in inspect.signature(binary_learner.partial_dependence).parameters   # one kind: its own signature


def test_the_learner_door_and_the_command_line_take_the_same_path(binary_learner, binary_test, tmp_path, monkeypatch, capsys):
    "A kind registered first, recognising every learner: both doors call its function, and nothing else."
    calls = []
    def recorded(learn, test_dl=None, **kwargs):
        calls.append(sorted(kwargs))
        return fastai_featimp.permutation_importance(learn, test_dl, **kwargs)
    import types
    module = types.ModuleType('fake_kind_methods'); module.importance = recorded
    monkeypatch.setitem(__import__('sys').modules, 'fake_kind_methods', module)
    base = registry.kinds()[0]
    fake = registry.DataKind('fake', 'anything', lambda learn: True, base.schema, variables=base.variables,
                             methods={'feature_importance': 'fake_kind_methods:importance'})
    monkeypatch.setattr(registry, 'kinds', lambda: [fake] + [k for k in registry._REGISTRY.values()])
    binary_learner.feature_importance(df=binary_test.head(100), n_repeats=1, show_progress=False)
    binary_learner.export(tmp_path / 'm.pkl')
    binary_test.head(100).to_csv(tmp_path / 'd.csv', index=False)
    from fastai_featimp.cli import main
    code = main(['importance', str(tmp_path / 'm.pkl'), str(tmp_path / 'd.csv'), '--repeats', '1', '--quiet'])
    assert code == 0, capsys.readouterr().err
    assert calls == [['df', 'n_repeats', 'show_progress']] * 2


def test_one_explain_for_every_kind_and_the_old_names_warn(binary_learner, binary_test, custom_text):
    import pandas as pd
    q = dict(seed=0, show_progress=False)
    rows = binary_test.head(2)
    pd.testing.assert_frame_equal(fastai_featimp.explain(binary_learner, rows, n_background=10, **q),
                                  binary_learner.explain(rows, n_background=10, **q))
    texts = ['Family visit today, intubated overnight.', 'Stable on the ward.']
    one = fastai_featimp.explain(custom_text, texts, **q)
    with pytest.warns(FutureWarning, match='explain_text is now fastai_featimp.explain'):
        old = fastai_featimp.explain_text(custom_text, texts, **q)
    pd.testing.assert_frame_equal(one, old)
    assert one.attrs['kind'] == 'text' and fastai_featimp.explain(binary_learner, rows, n_background=10, **q).attrs['kind'] == 'tabular'


def test_one_name_for_importance_as_a_function(binary_learner, binary_test):
    "fastai_featimp.feature_importance is learn.feature_importance for any kind; a table's keeps its estimator's name."
    kw = dict(df=binary_test.head(300), n_repeats=2, seed=0, show_progress=False)
    fi = fastai_featimp.feature_importance(binary_learner, **kw)
    pd.testing.assert_frame_equal(fi, binary_learner.feature_importance(**kw))
    pd.testing.assert_frame_equal(fi, fastai_featimp.permutation_importance(binary_learner, **kw))
    assert fi.attrs['kind'] == 'tabular' and fastai_featimp.permutation_importance.__name__ == 'permutation_importance'
    with pytest.raises(TypeError, match=r"feature_importance\(\) got an unexpected keyword argument 'n_bootstrap': a "
                                        r"tabular learner's feature_importance takes"):
        fastai_featimp.permutation_importance(binary_learner, n_bootstrap=3)
