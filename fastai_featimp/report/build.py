"""Running a report: every input checked before any work, the sections computed one by one (each by calling the
learner's public methods, whose warnings are kept for the page), then the page written to a temporary file in the
target folder and moved into place, so an interrupted report leaves nothing behind."""
from __future__ import annotations

import contextlib
import importlib
import os
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..common.kinds import kind_of
from ..common.progress import bars_on
from ..common.scoring import is_metric_list, learner_scorers
from ..core.params import Flag, Integer, ParameterError, Seed, check
from . import page as html_page
from . import sections

__all__ = ['Run', 'write_report', 'check_path', 'prepare', 'CALLED']

# The methods a report calls; `options={method: {argument: value}}` may change their arguments.
CALLED = ('feature_importance', 'feature_dependence', 'partial_dependence', 'accumulated_local_effects',
          'interaction_strength', 'reliance', 'explain', 'compare_explanations', 'sanity_check')
PACKAGE_DIR = str(Path(__file__).resolve().parents[1])


@dataclass
class Run:
    "One report being made: its inputs, the kind's page recipe, and what the calls returned and warned."
    learn: object
    data: pd.DataFrame
    path: Path
    flagged: list | None
    rows: list | None
    metric: object
    seed: int | None
    show_progress: bool
    n_examples: int
    background: pd.DataFrame | None
    options: dict
    kind: object = None
    schema: object = None
    recipe: object = None
    results: dict = field(default_factory=dict)     # what each call returned, by a name the sections share
    calls: list = field(default_factory=list)       # (section, call as written, seconds)
    warned: list = field(default_factory=list)      # (section, method, message)
    section: str = ''
    names: dict = field(default_factory=dict)       # id(argument) -> how the page writes it

    def call(self, method: str, /, *args, **kwargs):   # `/`: `method=` may be an argument of the call
        """`learn.<method>(*args, **kwargs)` with the caller's `options` for it on top; its time and the call as written
        are kept for the page, the package's warnings too (others go on to the caller)."""
        kwargs = {**kwargs, **self.options.get(method, {})}
        shown = f"learn.{method}({', '.join([self.shown(a) for a in args] + [f'{k}={self.shown(v)}' for k, v in kwargs.items()])})"
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            result = getattr(self.learn, method)(*args, **kwargs)
        self.calls.append((self.section, shown, time.perf_counter() - start))
        caller = _caller()
        for w in caught:
            if str(w.filename).startswith(PACKAGE_DIR) or (w.filename, w.lineno) == caller:
                self.warned.append((self.section, method, str(w.message)))
            else: warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        return result

    def shown(self, value) -> str:
        "An argument as the page writes it: the report's data by name, a few of its rows by position."
        if value is self.data: return 'data'
        if value is self.background: return 'background'
        if id(value) in self.names: return self.names[id(value)]
        if isinstance(value, pd.DataFrame):
            where = self.data.index.get_indexer(value.index) if self.data.index.is_unique else []
            return f"data.iloc[{list(map(int, where))}]" if len(where) and (where >= 0).all() else f'<{len(value)} rows>'
        text = repr(value)
        if len(text) <= 200: return text
        return f'<{len(value)} items>' if isinstance(value, (list, tuple)) else text[:197] + '...'

    def positions(self, frame) -> list:
        "Positions in `data` of the rows of `frame` (taken from it)."
        return [int(i) for i in self.data.index.get_indexer(frame.index)]


def _caller() -> tuple:
    """File and line of the first frame outside the package: where the package's own warnings point (`core.checks.warn`
    attributes them to the caller's line), which tells them from the libraries' warnings."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_globals.get('__name__', '').split('.')[0] == 'fastai_featimp': frame = frame.f_back
    return (frame.f_code.co_filename, frame.f_lineno) if frame is not None else (None, None)


# --- checks made before any work -----------------------------------------------------------------------------------

def check_path(path) -> Path:
    "An HTML file that can be written: a name ending in .html, in a folder that exists and takes new files."
    if not isinstance(path, (str, os.PathLike)):
        raise ParameterError('path', f"`path` must be a file name such as 'report.html', got {type(path).__name__}")
    path = Path(path)
    if path.is_dir(): raise ParameterError('path', f"`path` {path} is a folder; give a file name, e.g. {path / 'report.html'}")
    if path.suffix.lower() not in ('.html', '.htm'):
        raise ParameterError('path', f"`path` {path} must end in .html (the report is one HTML page)")
    if not path.parent.is_dir(): raise ParameterError('path', f"`path` {path}: the folder {path.parent} does not exist")
    try:
        fd, probe = tempfile.mkstemp(dir=path.parent, prefix='.report-probe-')
        os.close(fd); os.unlink(probe)
    except OSError as e: raise ParameterError('path', f"cannot write `path` {path}: {e.strerror or e}") from None
    if path.exists() and not os.access(path, os.W_OK): raise ParameterError('path', f"`path` {path} exists and is read-only")
    return path


def _check_rows(rows, data) -> list | None:
    if rows is None: return None
    rows = [rows] if isinstance(rows, int) and not isinstance(rows, bool) else rows
    if not isinstance(rows, (list, tuple, range)) or not rows or not all(isinstance(r, int) and not isinstance(r, bool) for r in rows):
        raise ParameterError('rows', f"`rows` must be positions of rows of `data` (a list of integers), got {rows!r}")
    bad = [r for r in rows if not 0 <= r < len(data)]
    if bad: raise ParameterError('rows', f"`rows` {bad} are not positions of `data` ({len(data)} rows: 0 to {len(data) - 1})")
    return list(dict.fromkeys(rows))


def _check_options(options) -> dict:
    if options is None: return {}
    if not isinstance(options, dict) or not all(isinstance(v, dict) for v in options.values()):
        raise ParameterError('options', "`options` must be a dict {method: {argument: value}}, e.g. "
                                        "{'feature_importance': {'n_repeats': 10}}")
    unknown = sorted(set(options) - set(CALLED))
    if unknown: raise ParameterError('options', f"`options` names {unknown}, which the report does not call; it calls "
                                                f"{', '.join(CALLED)}")
    return options


def recipe_of(kind):
    "The page recipe of a kind: `report/<kind name>.py` (a new kind adds its module)."
    try: module = importlib.import_module(f'{__package__}.{kind.name}')
    except ModuleNotFoundError: raise TypeError(f"the report has no page for a {kind.name} learner yet") from None
    return module.RECIPE


def prepare(learn, data, path, *, flagged=None, rows=None, metric=None, seed=None, show_progress=True, n_examples=2,
            background=None, options=None) -> Run:
    "Everything checked, in the order a user fixes things; nothing computed."
    kind = kind_of(learn, 'report')
    recipe = recipe_of(kind)
    schema = kind.schema(learn)
    path = check_path(path)
    if not isinstance(data, pd.DataFrame):
        raise ParameterError('data', f"`data` must be a labelled DataFrame ({recipe.data_needs}), got {type(data).__name__}")
    missing = [c for c in recipe.columns(schema) if c not in data.columns]
    if missing: raise ParameterError('data', f"`data` lacks the column(s) {missing}: the report needs {recipe.data_needs}")
    if len(data) < 2: raise ParameterError('data', f"`data` holds {len(data)} row(s); a report needs at least 2")
    check('seed', Seed(), seed); check('n_examples', Integer(1), n_examples); check('show_progress', Flag(), show_progress)
    if is_metric_list(metric): raise ParameterError('metric', "`metric` takes one metric in a report (a name, a fastai metric or a callable)")
    try: learner_scorers(learn, schema, metric)   # an unknown or unfitting metric fails here, not after minutes
    except ParameterError: raise
    except (ValueError, TypeError) as e: raise ParameterError('metric', f"`metric`: {e}") from None
    if background is not None and not isinstance(background, pd.DataFrame):
        raise ParameterError('background', f"`background` must be a DataFrame of typical rows, got {type(background).__name__}")
    run = Run(learn, data, path, None, _check_rows(rows, data), metric, seed, show_progress, n_examples, background,
              _check_options(options), kind, schema, recipe)
    if flagged is not None: run.flagged = recipe.check_flagged(run, flagged)
    recipe.check(run)
    return run


# --- the work ------------------------------------------------------------------------------------------------------

def _progress(run, steps):
    "A bar over the sections, its comment the section at work (none under `learn.no_bar()` or show_progress=False)."
    if not bars_on(run.learn, run.show_progress): return steps
    from fastprogress.fastprogress import progress_bar
    bar = progress_bar(steps, leave=False)
    def named():
        for step in bar:
            bar.comment = step[0]
            yield step
    return named()


def _write(path: Path, text: str) -> None:
    "Write beside the target, then move into place: the target is the old page or the whole new one, never half."
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f'.{path.name}.', suffix='.part')
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as f: f.write(text)
        umask = os.umask(0); os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)   # mkstemp's file is private; a report is a file like any other
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError): os.unlink(tmp)
        raise


def write_report(learn, data, path='report.html', **kwargs) -> Path:
    "Check, compute each section, write the page (see `Learner.report`); returns the path written."
    run = prepare(learn, data, path, **kwargs)
    start = time.perf_counter()
    steps = [('run', None), ('importance', sections.importance), *run.recipe.sections,
             ('reliance', sections.reliance), ('examples', sections.examples),
             ('faithfulness', sections.faithfulness)]
    done = []
    for name, make in _progress(run, steps):
        run.section = name
        if make is not None: done.append(make(run))
    done = [s for s in done if s is not None]
    done.append(sections.warnings_section(run))
    done.insert(0, sections.the_run(run, time.perf_counter() - start))
    title = f"What {type(learn.model).__name__} relies on"
    subtitle = f"A report of fastai_featimp on a {run.kind.name} learner, {len(data):,} rows"
    _write(run.path, html_page.page(title, subtitle, done))
    return run.path
