"""The package's layout rules (README, "Design"), checked on the source: a core without fastai, methods that
never import each other, plots that only draw, every @patch in learner.py, no private name across modules."""
import ast
import re
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / 'fastai_featimp'
MODULES = sorted(p for p in PKG.rglob('*.py'))


def dotted(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix('').parts)
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def imports(path: Path) -> list:
    "`(module, [names])` for every import in the file, relative imports resolved, lazy ones included."
    here = dotted(path).split('.')
    if path.name != '__init__.py': here = here[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
        if isinstance(node, ast.Import): found += [(a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = here[:len(here) - node.level + 1] if node.level else []
            module = '.'.join(base + ([node.module] if node.module else []))
            names = [a.name for a in node.names]
            if not node.module:   # `from . import x`: x is a module
                found += [(f'{module}.{n}', []) for n in names]
            else: found.append((module, names))
    return found


def area(module: str) -> str:
    "The top-level part of the package a module belongs to (`core`, `methods`, `plot`, ..., or the module)."
    parts = module.split('.')
    return parts[1] if len(parts) > 1 and parts[0] == 'fastai_featimp' else ''


def is_fastai(module: str) -> bool: return module.split('.')[0] in ('fastai', 'fastcore', 'fastprogress')


def of(kind): return [p for p in MODULES if area(dotted(p)) == kind and p.name != '__init__.py']


def test_the_layout_exists():
    for kind in ['core', 'common', 'engine', 'tabular', 'text', 'vision', 'methods', 'plot']: assert (PKG / kind / '__init__.py').exists(), kind
    assert (PKG / 'learner.py').exists()


@pytest.mark.parametrize('path', of('core'), ids=lambda p: p.name)
def test_core_uses_no_fastai_and_nothing_above_it(path):
    for module, _ in imports(path):
        assert not is_fastai(module), (path.name, module)
        # core imports nothing else of the package (a PartialDependence draws itself through the public name)
        assert area(module) in ('', 'core') or not module.startswith('fastai_featimp'), (path.name, module)


@pytest.mark.parametrize('path', of('methods'), ids=lambda p: p.name)
def test_a_method_never_imports_another_method(path):
    for module, _ in imports(path):
        assert area(module) != 'methods', (path.name, module)
        # what is left under methods/ works for every kind: it reaches a kind only through the registry
        assert area(module) not in KIND_PACKAGES, (path.name, module)


# what a plot may read of the core: declared checks, the words for a quantity, the results' data model
PLAIN_CORE = ('fastai_featimp.core.params', 'fastai_featimp.core.words', 'fastai_featimp.core.results')


@pytest.mark.parametrize('path', of('plot'), ids=lambda p: p.name)
def test_plots_only_draw(path):
    for module, _ in imports(path):
        assert not is_fastai(module) and module.split('.')[0] != 'torch', (path.name, module)
        # a plot checks its own arguments with the package's declared constraints (plain Python), nothing else
        assert not module.startswith('fastai_featimp') or area(module) == 'plot' or \
            module in PLAIN_CORE, (path.name, module)


@pytest.mark.parametrize('kind', ['common', 'tabular', 'text', 'vision'])
def test_adapters_never_reach_up(kind):
    for path in of(kind):
        for module, _ in imports(path):
            assert area(module) not in ('methods', 'plot', 'learner'), (path.name, module)
            # of the engine, an adapter knows only the protocol it implements (and the registry reaches the doors)
            if area(module) == 'engine' and path.name != 'kinds.py':
                assert module == 'fastai_featimp.engine.protocol', (path.name, module)


@pytest.mark.parametrize('path', of('engine'), ids=lambda p: p.name)
def test_the_engine_knows_no_kind(path):
    "The engine's capabilities are written once: no adapter, no method, no plot, no kind's name."
    for module, _ in imports(path):
        assert area(module) not in KIND_PACKAGES + ('methods', 'plot', 'learner', 'cli', 'report'), (path.name, module)


def test_patch_only_in_learner_py():
    for path in MODULES:
        source = path.read_text(encoding='utf-8')
        if path.name != 'learner.py': assert '@patch' not in source, path


def test_no_private_name_imported_across_modules():
    for path in MODULES:
        for module, names in imports(path):
            if module.startswith('fastai_featimp'):
                private = [n for n in names if n.startswith('_') and not n.startswith('__')]
                assert not private, (path, module, private)


# --- the registry rule: a data kind's module is the only place that knows it ------------------------------------

KIND_PACKAGES = ('tabular', 'text', 'vision')
DOORS = [PKG / 'learner.py', PKG / 'cli.py', PKG / 'api.py', PKG / '__init__.py'] + of('common') + of('core') + of('plot')


def kind_name_comparisons(path: Path) -> list:
    "String constants naming a kind ('tabular', 'text') used in a comparison: a branch on the kind."
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
        if isinstance(node, ast.Compare):
            for side in [node.left, *node.comparators]:
                if isinstance(side, ast.Constant) and side.value in KIND_PACKAGES: found.append(side.value)
    return found


@pytest.mark.parametrize('path', MODULES, ids=lambda p: str(p.relative_to(PKG)))
def test_no_module_branches_on_a_kind_name(path):
    assert not kind_name_comparisons(path), (path.name, 'dispatch through common/kinds.py instead')


@pytest.mark.parametrize('path', DOORS, ids=lambda p: str(p.relative_to(PKG)))
def test_doors_know_no_kind(path):
    "The Learner methods, the command line, the public names and the shared layers reach a kind only through the registry."
    for module, names in imports(path):
        if path.name == 'api.py': continue   # re-exports the public functions, which belong to their kinds
        assert area(module) not in KIND_PACKAGES + ('methods',), (path.name, module)
        assert not {'is_tabular', 'is_text', 'is_vision', 'tabular_schema', 'text_schema', 'vision_schema'} & set(names), (path.name, names)


def test_each_kind_is_declared_once_in_its_own_module():
    declared = {p.relative_to(PKG).as_posix() for p in MODULES if 'register(DataKind(' in p.read_text(encoding='utf-8')}
    assert declared == {f'{k}/kind.py' for k in KIND_PACKAGES}
    from fastai_featimp.common.kinds import KIND_MODULES
    assert list(KIND_MODULES) == [f'fastai_featimp.{k}.kind' for k in KIND_PACKAGES]


def test_recognising_a_kind_happens_in_its_kind_module_only():
    for path in MODULES:
        source = path.read_text(encoding='utf-8')
        for fn in ('is_tabular', 'is_text', 'is_vision'):
            if re.search(rf'\b{fn}\b', source): assert path.name in ('kind.py', 'schema.py'), (path, fn)


def test_every_public_name_resolves():
    import fastai_featimp
    from fastai_featimp import api
    assert set(fastai_featimp.__all__) == set(api.__all__)
    for name in fastai_featimp.__all__: assert getattr(fastai_featimp, name) is getattr(api, name), name
