"""`fastai-featimp`: the offline Adult demo, and importance, explanations and partial dependence of a learner
saved with `learn.export()`.

The table goes to stdout and nothing else does: messages and progress go to stderr (progress only when
stderr is a terminal, or with --progress; --quiet keeps only the result and errors). Errors print one line
to stderr and exit with status 2. `--help` and `--version` answer without importing fastai: this module
imports the computing parts of the package only inside the commands.

Every command runs the method of the learner's kind through the registry (`common/kinds.py`), as the Learner
methods do. An option is passed to the method only when it is given, under the method's own parameter name;
an option the method of this kind does not take is refused in one line, and the library's messages name
parameters so that they are shown here as the options (`--repeats`) or files that carry them."""
from __future__ import annotations

import argparse
import contextlib
import functools
import inspect
import io
import json
import pickle
import os
import sys
import warnings
from pathlib import Path

__all__ = ['main']

from .cli_options import CALLED, DECLARED
from .common.metric_names import METRIC_NAMES as METRICS
from .core.params import AnyOf, Choice, Integer, Number

PLOT_FORMATS = ('png', 'pdf', 'svg', 'svgz', 'jpg', 'jpeg', 'tif', 'tiff', 'webp', 'eps', 'ps')
STDIN = '-'
SUBCOMMAND = {'feature_importance': 'importance', 'explain': 'explain', 'partial_dependence': 'pdp', 'reliance': 'reliance'}


class UsageError(Exception):
    "A problem with the user's input: reported as one line, exit status 2."


def _quiet_library_warnings() -> None:
    "Warnings about the libraries' own internals, not the user's data (set before fastai is imported)."
    warnings.filterwarnings('ignore', category=FutureWarning, module='torch')
    warnings.filterwarnings('ignore', message='.*jit.script.*')
    warnings.filterwarnings('ignore', message='.*not writable.*')
    warnings.filterwarnings('ignore', message='.*Constructing a Categorical with a dtype.*')
    warnings.filterwarnings('ignore', message='.*load_learner.*pickle.*')


def _whole_at_least(minimum: int):
    "argparse's type for a whole number >= `minimum`."
    def parse(text):
        try: value = int(text)
        except ValueError: raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}, got {text!r}")
        if value < minimum: raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}, got {value}")
        return value
    return parse


_positive_int, _seed = _whole_at_least(1), _whole_at_least(0)


def _count(text):
    "A whole number, checked by the method (which says what range it takes)."
    try: return int(text)
    except ValueError: raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}")


def _number(text):
    try: return float(text)
    except ValueError: raise argparse.ArgumentTypeError(f"expected a number, got {text!r}")


def _box(text):
    "A box 'top,left,bottom,right' (whole numbers, in the image's own pixels)."
    try: values = tuple(int(v) for v in text.split(','))
    except ValueError: values = ()
    if len(values) != 4:
        raise argparse.ArgumentTypeError(f"expected a box as top,left,bottom,right (four whole numbers), got {text!r}")
    return values


def _version() -> str:
    from . import __version__
    return f"fastai-featimp {__version__}"


def _form(constraint):
    "How a declared parameter is written on the command line: a whole number, a number, or None (text)."
    if isinstance(constraint, AnyOf): return next(filter(None, map(_form, constraint.constraints)), None)
    if isinstance(constraint, Integer): return _count   # a Seed too; the range is the method's, checked by _check_values
    if isinstance(constraint, Number): return _number
    return None


def _shown(value) -> str: return value if isinstance(value, str) else repr(value)


def _method_option(parser, flag, dest, method=None, help=None, **kw):
    """An option passed to `method` as `dest` only when given, so that its default is the method's own. How its value
    is written (whole number, number, one of its choices), which kinds take it and its default come from the
    parameter as the methods declare it (`cli_options.py`); `help` says it in the command line's words (default: the
    method's comment), `kw` what the command line reads otherwise (a box, a list, JSON)."""
    if method is None: return parser.add_argument(flag, dest=dest, default=None, help=help, **kw)
    declared = DECLARED[method][dest]   # a flag for a parameter the method does not have fails here, in every test
    constraints = [c for c, _, _ in declared.values() if c is not None]
    if 'type' not in kw and 'action' not in kw and 'choices' not in kw:
        if constraints and all(isinstance(c, Choice) for c in constraints):
            kw['choices'] = list(dict.fromkeys(v for c in constraints for v in c.choices))
        else: kw['type'] = next(filter(None, map(_form, constraints)), str)
        if kw.get('type') in (_count, _number): kw.setdefault('metavar', 'N' if kw['type'] is _count else 'X')
    every = {k for per_kind in DECLARED[method].values() for k in per_kind}
    text = (help or next(iter(declared.values()))[2].replace('%', '%%'))
    if set(declared) != every: text = f"{', '.join(CALLED[k] for k in declared)}: {text}"
    return parser.add_argument(flag, dest=dest, default=None, help=text + _defaults(declared), **kw)


def _defaults(declared: dict) -> str:
    "' (default: 5)', or per kind where they differ (' (default: auto for tabular, else shapley)'); '' for None."
    by_value = {}
    for kind, (_, default, _) in declared.items():
        if default is not None: by_value.setdefault(_shown(default), []).append(CALLED[kind])
    if not by_value: return ''
    if len(by_value) == 1: return f" (default: {next(iter(by_value))})"
    common = max(by_value, key=lambda v: len(by_value[v]))   # the default most kinds share: 'else'
    named = [f"{v} for {' and '.join(ks)}" for v, ks in by_value.items() if v != common]
    return f" (default: {', '.join(named)}, else {common})"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog='fastai-featimp', description='Explain fastai models: permutation importance, '
                                'Shapley explanations and partial dependence, from the command line.')
    p.add_argument('--version', action='version', version=_version())
    common = argparse.ArgumentParser(add_help=False)
    talk = common.add_mutually_exclusive_group()
    talk.add_argument('--quiet', action='store_true', help='print only the result and errors')
    talk.add_argument('--progress', action='store_true', help='show progress on stderr even when it is not a terminal')
    model = argparse.ArgumentParser(add_help=False)
    model.add_argument('model', type=Path, help='a learner saved with learn.export() (a .pkl file; load only files you trust)')
    text = argparse.ArgumentParser(add_help=False)
    _method_option(text, '--text-col', 'text_col', metavar='COLUMN', help='text learners: the column holding the texts '
                   '(default: the one the learner was built from)')
    sub = p.add_subparsers(dest='command', required=True, metavar='{demo,importance,explain,pdp,reliance,report}')

    demo = sub.add_parser('demo', parents=[common], help='train the fastai tutorial model on the bundled UCI Adult data and explain it',
                          description='Train the fastai tabular tutorial learner on the bundled UCI Adult training set '
                                      '(offline), compute permutation importance on the Adult test set, print it and '
                                      'write feature_importance.csv (+ .json) and feature_importance.png into --out.')
    demo.add_argument('--epochs', type=_positive_int, default=3, help='training epochs (default: 3)')
    demo.add_argument('--repeats', type=_positive_int, default=5, help='permutations per column (default: 5)')
    demo.add_argument('--seed', type=_seed, default=42, help='seed for training and permutations (default: 42)')
    demo.add_argument('--out', type=Path, default=Path('featimp-demo'),
                      help='folder for the results, created if needed (default: featimp-demo)')

    imp = sub.add_parser('importance', parents=[model, common, text], help='importance of the inputs of an exported learner',
                         description='Importance of the inputs of an exported fastai learner on a labelled CSV: '
                                     'permutation importance of the columns (tabular), phrase importance (text).')
    imp.add_argument('data', type=Path, help="a labelled CSV with the columns the learner was trained on ('-': stdin)")
    fi = 'feature_importance'
    _method_option(imp, '--metric', 'metric', fi, choices=METRICS, metavar='NAME',
                   help=f"what importance is measured with: {', '.join(METRICS)} (default: loss)")
    _method_option(imp, '--repeats', 'n_repeats', fi, help='permutations per column')
    _method_option(imp, '--groups', 'groups', fi, help='columns to permute together, as JSON: '
                                                      '\'{"edu": ["education", "education-num"]}\', or auto '
                                                      '(associated columns)')
    _method_option(imp, '--threshold', 'threshold', fi, help='association at which columns join a group of --groups auto')
    _method_option(imp, '--strategy', 'strategy', fi,
                   help='marginal, or conditional: permute within strata of the most associated columns')
    _method_option(imp, '--candidates', 'candidates', fi, nargs='+', metavar='PHRASE',
                   help='the phrases to score (default: the frequent words and two-word phrases)')
    _method_option(imp, '--min-support', 'min_support', fi, metavar='N',
                   help='texts a phrase must occur in to be a candidate (default: 1%% of them, at least 10)')
    _method_option(imp, '--bootstrap', 'n_bootstrap', fi, metavar='N',
                   help='bootstrap resamples of the items for the intervals')
    _method_option(imp, '--label-col', 'label_col', fi, metavar='COLUMN', help='the label column (default: the learner\'s)')
    _method_option(imp, '--grid', 'grid', fi, metavar='N', help='an N x N grid of regions (default: 4)')
    _method_option(imp, '--seed', 'seed', fi, help='seed for identical results run to run')
    _method_option(imp, '--max-rows', 'max_rows', fi, help='score a seeded sample of at most this many rows')
    imp.add_argument('--csv', type=Path, default=None, help='write the table to this CSV file (and the run\'s metadata to a .json beside it)')
    imp.add_argument('--plot', type=Path, default=None, help=f"draw the table into this image ({', '.join(PLOT_FORMATS[:3])}, ...)")

    exp = sub.add_parser('explain', parents=[model, common, text], help='Shapley explanations of single predictions',
                         description='Shapley values of each input column (tabular), word (text) or region (images) '
                                     'for each row of a CSV (or each image), towards the output of --target.')
    exp.add_argument('rows', type=Path, nargs='+', metavar='INPUT',
                     help="a CSV of the rows (or texts) to explain, labels not needed ('-': stdin); for an image "
                          "learner: image files, a folder of them, or a CSV with their paths")
    _method_option(exp, '--target', 'target', 'explain', help='class or target to explain (default: the positive class of a binary '
                                                  'model, else the predicted class)')
    exp.add_argument('--background', type=Path, help='tabular: a CSV of typical rows to compare with (required: an '
                                                     'exported learner keeps no training rows)')
    _method_option(exp, '--method', 'method', 'explain', metavar='METHOD',
                   help="auto, exact, shapley, permutation or occlusion (every kind), integrated_gradients (text, "
                        "images), gradcam (images)")
    _method_option(exp, '--unit', 'unit', 'explain', help='what a unit is')
    _method_option(exp, '--seed', 'seed', 'explain', help='seed for sampling')
    exp.add_argument('--row', type=int, default=0, help='the row drawn by --plot (default: 0)')
    exp.add_argument('--csv', type=Path, default=None, help='write the contributions to this CSV file')
    exp.add_argument('--plot', type=Path, default=None, help='draw the explanation of --row into this image')
    exp.add_argument('--html', type=Path, default=None, help='text: write every explained text, shaded, to this HTML page')
    _method_option(exp, '--flag', 'flagged', 'explain', action='append', metavar='INPUT',
                   help='an input known to be a shortcut (a phrase of a text learner, a column of a tabular one): '
                        'outlined, and each row says whether its prediction rests on it (repeat for several)')
    exp.add_argument('--all', action='store_true', dest='all_units',
                     help='text and images: list every unit (default: the 5 strongest)')
    _method_option(exp, '--grid', 'grid', 'explain', metavar='N', help='an N x N grid of regions (default: 4)')
    _method_option(exp, '--superpixels', 'superpixels', 'explain', type=_positive_int, metavar='N',   # the number form
                   help="about N regions per image that follow its colours (SLIC superpixels), instead of the grid")
    exp.add_argument('--box', dest='boxes', action='append', type=_box, metavar='T,L,B,R',
                     help="images: a box (top, left, bottom, right, in the image's own pixels) known to be a shortcut: "
                          "drawn, and each image says whether its prediction rests on it (repeat for several)")

    pdp = sub.add_parser('pdp', parents=[model, common], help='partial dependence of a tabular learner',
                         description='Partial dependence (and ICE curves) of the output on one column or a pair.')
    pdp.add_argument('data', type=Path, help="a CSV of the rows to average over; labels are not needed ('-': stdin)")
    pdp.add_argument('features', nargs='+', metavar='FEATURE', help='one column, or two for a two-way dependence')
    _method_option(pdp, '--kind', 'kind', 'partial_dependence', help='average (PD), individual (ICE) or both')
    _method_option(pdp, '--target', 'target', 'partial_dependence', help='class or target (default: the positive class of a binary model)')
    _method_option(pdp, '--grid-resolution', 'grid_resolution', 'partial_dependence', help='grid values per column')
    pdp.add_argument('--csv', type=Path, default=None, help='write the curve to this CSV file')
    pdp.add_argument('--plot', type=Path, default=None, help='draw the curve into this image')

    rel = sub.add_parser('reliance', parents=[model, common, text], help='should these predictions be trusted? each '
                         'prediction with and without flagged inputs', description='For each row (or text) of a CSV, '
                         'the prediction with and without the flagged inputs (phrases of a text learner, columns of a '
                         'tabular one, known to be shortcuts), whether it relies on them, and a summary of the set.')
    rel.add_argument('data', type=Path, nargs='+', metavar='INPUT',
                     help="a CSV of the rows, texts or image paths (image files or a folder too); with the labels, the summary holds the "
                                             "metric with and without ('-': stdin)")
    rel.add_argument('--box', dest='boxes', action='append', type=_box, metavar='T,L,B,R',
                     help="images: a box (top, left, bottom, right, in the image's own pixels) known to be a shortcut")
    rel.add_argument('--flag', dest='flagged', action='append', metavar='INPUT',
                     help='a phrase (text) or column (tabular) known to be a shortcut; repeat for several')
    _method_option(rel, '--threshold', 'threshold', 'reliance',
                   help='a row relies on the flagged inputs when its prediction moves this much (default: 0.1)')
    _method_option(rel, '--target', 'target', 'reliance', help='class to explain (default: the positive class of a binary model)')
    rel.add_argument('--background', type=Path, help='tabular: a CSV of typical rows the flagged columns are taken '
                                                     'from (required: an exported learner keeps no training rows)')
    _method_option(rel, '--seed', 'seed', 'reliance', help='seed for the background sample')
    rel.add_argument('--summary', action='store_true', help='print the summary of the set only, not the table')
    rel.add_argument('--csv', type=Path, default=None, help='write the table to this CSV file (the summary to a .json beside it)')
    rel.add_argument('--plot', type=Path, default=None, help='draw each prediction against its prediction without them')

    rep = sub.add_parser('report', parents=[model, common], help='one self-contained HTML page explaining the learner',
                         description='Write one HTML page (figures embedded, no network, no script) explaining an '
                                     'exported learner on a labelled CSV: importance, the dependence map and effects '
                                     '(tabular), explained examples, the reliance audit (with --flag), which '
                                     'explanation to believe, and the warnings the methods raised.')
    rep.add_argument('data', type=Path, help="a labelled CSV with the columns the learner was trained on ('-': stdin)")
    rep.add_argument('--flag', dest='flagged', action='append', default=None, metavar='INPUT',
                     help='a phrase (text) or column (tabular) known to be a shortcut; repeat for several')
    rep.add_argument('-o', '--out', dest='path', type=Path, default=Path('report.html'),
                     help='the HTML file to write (default: report.html)')
    rep.add_argument('--metric', choices=METRICS, metavar='NAME', default=None,
                     help=f"one metric for importance and reliance: {', '.join(METRICS)} (default: each method's own)")
    rep.add_argument('--seed', type=_seed, default=None, help='seed for every call: same seed, same page')
    rep.add_argument('--rows', type=int, nargs='+', default=None, metavar='N',
                     help='positions of the rows of DATA to explain as examples (default: chosen to teach)')
    rep.add_argument('--examples', dest='n_examples', type=_positive_int, default=2,
                     help='rows per group of examples (default: 2)')
    rep.add_argument('--background', type=Path, help='tabular: a CSV of typical rows to compare with (default: a '
                                                     'sample of DATA: an exported learner keeps no training rows)')
    return p


@functools.lru_cache(maxsize=None)
def _flags(command: str) -> dict:
    "Parameter name -> the option that carries it, for one subcommand (read from the parser itself, built once)."
    sub = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    return {a.dest: a.option_strings[-1] for a in sub._actions if a.option_strings}


# --- checks made before any work -------------------------------------------------------------------------------

def _check_output(path: Path | None, option: str, image: bool = False) -> None:
    "An output file that can be written: its folder exists, it is not a folder, its format is known."
    if path is None: return
    if path.is_dir(): raise UsageError(f"{option} {path} is a folder; give a file name, e.g. {path / ('plot.png' if image else 'result.csv')}")
    if not path.parent.is_dir(): raise UsageError(f"{option} {path}: the folder {path.parent} does not exist")
    if image and path.suffix.lower().lstrip('.') not in PLOT_FORMATS:
        raise UsageError(f"{option} {path}: unknown image format {path.suffix or '(none)'!r}; use a name ending in "
                         f"{', '.join('.' + f for f in PLOT_FORMATS[:3])} or another of {', '.join(PLOT_FORMATS[3:])}")
    existed = path.exists()
    try:
        with open(path, 'a'): pass
    except OSError as e: raise UsageError(f"cannot write {option} {path}: {e.strerror or e}")
    if not existed: path.unlink()


def _check_input(path: Path, what: str) -> None:
    if str(path) == STDIN: return
    if path.is_dir(): raise UsageError(f"{what} {path} is a folder, not a file")
    if not path.is_file(): raise UsageError(f"{what} not found: {path}")


def _check_one_stdin(*paths) -> None:
    if sum(str(p) == STDIN for p in paths if p is not None) > 1:
        raise UsageError("only one input can be read from stdin ('-')")


# --- loading ----------------------------------------------------------------------------------------------------

def _load_learner(path: Path):
    _check_input(path, 'model file')
    if str(path) == STDIN: raise UsageError("the model is read from a file, not stdin: give the .pkl's path")
    from fastai.learner import load_learner
    from .common.kinds import kind_of
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')   # fastai warns about pickle on every load; the help text says it
            learn = load_learner(path)
    except UnboundLocalError:   # fastai's load_learner swallows an ImportError and fails on: find the missing code
        raise UsageError(f"cannot load {path}: {_missing_code(path)}") from None
    except Exception as e:   # torch.load fails in many ways on a file that is not an exported learner
        if isinstance(e, pickle.UnpicklingError) or any(w in str(e) for w in ('magic number', 'invalid load key')):
            raise UsageError(f"cannot load {path}: it is not a learner saved with learn.export() (not a pickle torch "
                             "can read); export one with learn.export('model.pkl')") from None
        raise UsageError(f"cannot load {path} as a fastai learner saved with learn.export(): {type(e).__name__}: {e}")
    try: kind_of(learn)
    except TypeError as e: raise UsageError(f"{path}: {e}")
    return learn


def _missing_code(path: Path) -> str:
    "Why a pickle cannot be loaded here, when fastai hides it: the module of a custom model or function is missing."
    import torch
    try: torch.load(path, map_location='cpu', weights_only=False)
    except ImportError as e:
        return (f"it needs code that cannot be imported here ({type(e).__name__}: {e}): run fastai-featimp where the "
                "module defining the learner's custom model or functions can be imported (e.g. set PYTHONPATH)")
    except Exception as e: return f"{type(e).__name__}: {e}"
    return "fastai's load_learner failed on it"


def _read_csv(path: Path, what: str = 'data file'):
    import pandas as pd
    _check_input(path, what)
    source = io.StringIO(sys.stdin.read()) if str(path) == STDIN else path
    name = 'stdin' if str(path) == STDIN else path
    try: df = pd.read_csv(source)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as e:
        raise UsageError(f"cannot read {name} as CSV: {e}")
    if len(df) == 0: raise UsageError(f"{name} has a header but no rows: the {'test set' if what == 'data file' else what} is empty")
    return df


IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp', '.gif', '.tif', '.tiff', '.webp')


def _check_inputs(paths: list, what: str) -> None:
    "Every input exists before the learner loads: files, or (for images) one folder."
    _check_one_stdin(*paths)
    if len(paths) == 1 and paths[0].is_dir(): return
    for p in paths: _check_input(p, what)


def _inputs(paths: list, what: str, takes_paths: bool):
    """What the method reads: one CSV as a DataFrame (paths in it made absolute from the CSV's folder, for a learner
    that reads files), or, for a learner that reads files, the files given or the images of one folder."""
    if len(paths) == 1 and (str(paths[0]) == STDIN or paths[0].suffix.lower() not in IMAGE_SUFFIXES
                            and not paths[0].is_dir()):
        df = _read_csv(paths[0], what)
        if takes_paths and str(paths[0]) != STDIN:
            folder = paths[0].resolve().parent
            for col in df.columns:   # a column of files beside the CSV: read from there, wherever the command runs
                values = df[col].dropna()
                if len(values) and all(isinstance(v, str) and (folder / v).is_file() for v in values):
                    df[col] = [str(folder / v) if isinstance(v, str) else v for v in df[col]]
        return df
    if not takes_paths:
        raise UsageError(f"{what}: this learner reads a CSV, not {'a folder' if paths[0].is_dir() else 'image files'}")
    if len(paths) == 1 and paths[0].is_dir():
        files = sorted(p for p in paths[0].iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files: raise UsageError(f"{what}: no image files ({', '.join(IMAGE_SUFFIXES)}) in the folder {paths[0]}")
        return [str(p.resolve()) for p in files]
    return [str(p.resolve()) for p in paths]


def _parse_groups(text):
    if text is None or text == 'auto': return text
    try: groups = json.loads(text)
    except json.JSONDecodeError as e: raise UsageError(f"--groups is not valid JSON: {e}")
    if not isinstance(groups, dict) or not all(isinstance(v, list) and all(isinstance(c, str) for c in v)
                                               for v in groups.values()):
        raise UsageError('--groups must be a JSON object of column lists, e.g. {"edu": ["education", "education-num"]}')
    return groups


# --- running a method through the registry ------------------------------------------------------------------------

def _check_values(args, method: str) -> None:
    """Every option of `method` given, checked before the learner loads (seconds) against the parameter's declared
    constraints (`cli_options.py`, no method imported): a value is refused when every kind that takes it refuses it,
    in the method's own words with the command line's flags."""
    from .core.params import ParameterError, check
    flags = _flags(args.command)
    for name, per_kind in DECLARED[method].items():
        value = getattr(args, name, None) if name in flags else None
        constraints = [c for c, _, _ in per_kind.values() if c is not None]
        if value is None or not constraints: continue
        problems = []
        for constraint in constraints:
            try: check(name, constraint, value)
            except ParameterError as e: problems.append(e)
        if len(problems) == len(constraints):   # no kind takes it (one that does: the learner's kind decides)
            raise UsageError(problems[0].render(lambda n, eq: flags.get(n, n + eq)))


def _given(args, method: str, **read) -> dict:
    "Every option of `method` this command has, as parsed (None: not given); `read`: those read further (JSON, files)."
    flags = _flags(args.command)
    return {**{name: getattr(args, name) for name in DECLARED[method] if name in flags}, **read}


class Call:
    "One method of the learner's kind, with the options the user gave, and its errors in the CLI's words."
    def __init__(self, args, learn, method: str, files: dict):
        from .common.kinds import UnsupportedMethod, kind_of
        self.args, self.learn, self.method = args, learn, method
        self.kind = kind_of(learn)
        try: self.fn = self.kind.function(method)
        except UnsupportedMethod as e:
            raise UsageError(f"{args.command} is not available for this {e.kind.name} learner; the commands it has are "
                             f"{', '.join(sorted(SUBCOMMAND[m] for m in e.kind.all_methods if m in SUBCOMMAND))}") from None
        self.flags = {**_flags(args.command), **files}   # files: parameter -> the file that carries it
        self.params = inspect.signature(self.fn).parameters
        self.pictures = getattr(self.kind.adapter(), 'pictures', {}) if self.kind.adapter_class is not None else {}

    def options(self, **given) -> dict:
        "The options given (not None), refusing those this kind's method does not take."
        options = {k: v for k, v in given.items() if v is not None}
        takes_any = any(p.kind is p.VAR_KEYWORD for p in self.params.values())
        wrong = [] if takes_any else [k for k in options if k not in self.params]
        if wrong:
            taken = [self.flags[p] for p in self.params if p in self.flags and self.flags[p].startswith('--')]
            raise UsageError(f"{', '.join(self.flags.get(k, k) for k in wrong)} does not apply to a {self.kind.name} "
                             f"learner's {self.args.command}" + (f" (it takes {', '.join(taken)})" if taken else ''))
        return options

    def spell(self, name: str, eq: str) -> str: return self.flags.get(name, name + eq)

    def __call__(self, *args, **options):
        from .core.params import ParameterError
        try: return self.fn(self.learn, *args, **options)
        except ParameterError as e: raise UsageError(e.render(self.spell)) from e
        except (ValueError, TypeError) as e: raise UsageError(str(e)) from e


# --- output -----------------------------------------------------------------------------------------------------

class Console:
    "Where things go: the result to stdout; messages, warnings and progress to stderr."
    def __init__(self, args):
        self.quiet = args.quiet
        self.progress = not args.quiet and (args.progress or sys.stderr.isatty())

    def say(self, text: str) -> None:
        if not self.quiet: print(text, file=sys.stderr)

    def result(self, text: str) -> None: print(text, file=sys.stdout, flush=True)

    def warning(self, message, category, filename, lineno, file=None, line=None) -> None:
        "The library's warnings as one line each, in words (no file and line of the library's source)."
        self.say(f"fastai-featimp: warning: {message}")

    @contextlib.contextmanager
    def working(self):
        "Anything printed while computing (fastai's tables, progress bars) goes to stderr, or nowhere."
        sink = sys.stderr if self.progress else open(os.devnull, 'w')
        try:
            with contextlib.redirect_stdout(sink): yield
        finally:
            if sink is not sys.stderr: sink.close()


def _metadata(fi, **extra) -> dict:
    import fastai
    import torch
    from . import __version__
    keep = ('kind', 'method', 'metric', 'greater_is_better', 'baseline', 'n_repeats', 'n_bootstrap', 'seed', 'n_rows',
            'source', 'strategy', 'excluded')
    return dict({k: fi.attrs[k] for k in keep if k in fi.attrs}, **extra, fastai_featimp=__version__,
                fastai=fastai.__version__, torch=torch.__version__)


def _save_figure(ax_or_fig, path: Path) -> None:
    fig = getattr(ax_or_fig, 'figure', ax_or_fig)
    fig.savefig(path, dpi=120, bbox_inches='tight')


def _headless():
    import matplotlib
    matplotlib.use('Agg')   # a file, never a window: the CLI also runs on machines with no screen


def _write_importance(fi, csv_path=None, png_path=None, **meta) -> list:
    _headless()
    from .plot.importance import plot_importance
    written = []
    if csv_path is not None:
        table = fi.assign(Members=[json.dumps(list(m)) for m in fi['Members']])
        table.to_csv(csv_path, index=False)
        json_path = csv_path.with_suffix('.json')
        json_path.write_text(json.dumps(_metadata(fi, **meta), indent=2, default=str) + '\n')
        written += [csv_path, json_path]
    if png_path is not None:
        from .common.kinds import picture
        _save_figure(picture(fi, 'importance', default=plot_importance)(fi), png_path)   # images: over their mean too
        written.append(png_path)
    return written


def _importance_table(fi) -> str:
    cols = [c for c in ['Variable', 'Type', 'Importance', 'Std', 'CI_low', 'CI_high', 'p_value', 'Support', 'MeanDelta']
            if c in fi.columns]
    return fi[cols].to_string(index=False, float_format=lambda v: f'{v:.4f}')


def _importance_header(fi) -> str:
    a = fi.attrs
    masked = a.get('method') == 'phrase ablation'
    spread = (f"{a['n_repeats']} repeats" if 'n_repeats' in a else f"{a.get('n_bootstrap', 0)} bootstrap samples")
    return (f"{a.get('method', 'permutation').capitalize()} importance: {a['metric']} on {a['n_rows']} rows "
            f"(baseline {a['baseline']:.4f}, {spread}); positive = "
            f"{'masking the phrase everywhere hurts' if masked else 'permuting the column hurts'}")


# --- commands ---------------------------------------------------------------------------------------------------

def run_demo(args, console: Console):
    try: args.out.mkdir(parents=True, exist_ok=True)
    except OSError as e: raise UsageError(f"cannot create --out {args.out}: {e.strerror or e}")
    csv_path, png_path = args.out / 'feature_importance.csv', args.out / 'feature_importance.png'
    for path, image in ((csv_path, False), (png_path, True)): _check_output(path, '--out', image)
    html_path = args.out / 'report.html'
    _check_output(html_path, '--out')
    from .datasets import adult
    from .demo import adult_report, train_adult_learner
    train_df, test_df = adult()
    console.say(f"training the fastai tabular tutorial model on UCI Adult ({len(train_df)} rows, {args.epochs} epochs)")
    with console.working():
        learn = train_adult_learner(train_df, epochs=args.epochs, seed=args.seed, show_progress=console.progress)
        fi = learn.feature_importance(df=test_df, n_repeats=args.repeats, seed=args.seed, show_progress=console.progress)
    console.say(_importance_header(fi))
    console.result(_importance_table(fi))
    written = _write_importance(fi, csv_path, png_path, data='UCI Adult test set (bundled)', epochs=args.epochs)
    console.say('writing the report (importance, effects, examples, reliance on race, faithfulness)')
    with console.working():
        written.append(adult_report(learn, test_df, html_path, seed=args.seed, show_progress=console.progress))
    console.say('wrote ' + ', '.join(map(str, written)))


def run_importance(args, console: Console):
    _check_output(args.csv, '--csv'); _check_output(args.plot, '--plot', image=True)
    groups = _parse_groups(args.groups)
    _check_input(args.model, 'model file'); _check_input(args.data, 'data file')   # all before the learner loads
    _check_values(args, 'feature_importance')
    learn = _load_learner(args.model)
    call = Call(args, learn, 'feature_importance', {'df': str(args.data), 'test_dl': str(args.data)})
    df = _inputs([args.data], 'data file', 'path_col' in call.params)
    options = call.options(**_given(args, 'feature_importance', groups=groups))
    with console.working():
        fi = call(df=df, show_progress=console.progress, **options)
    console.say(_importance_header(fi))
    console.result(_importance_table(fi))
    written = _write_importance(fi, args.csv, args.plot, model=str(args.model), data=str(args.data))
    if written: console.say('wrote ' + ', '.join(map(str, written)))


def run_explain(args, console: Console):
    _check_output(args.csv, '--csv'); _check_output(args.plot, '--plot', image=True); _check_output(args.html, '--html')
    _check_one_stdin(*args.rows, args.background)
    _check_input(args.model, 'model file'); _check_inputs(args.rows, 'rows file')   # every file before the learner loads
    if args.background is not None: _check_input(args.background, 'background file')
    if args.row < 0: raise UsageError(f"--row must be a row number >= 0, got {args.row}")
    _check_values(args, 'explain')
    learn = _load_learner(args.model)
    shown = ' '.join(map(str, args.rows))
    call = Call(args, learn, 'explain', {'rows': shown, 'texts': shown, 'images': shown, 'background': '--background',
                                         'flagged': '--box' if args.boxes else '--flag'})
    if args.flagged and args.boxes: raise UsageError("give the shortcuts once: --flag (phrases, columns) or --box (images)")
    takes_background = 'background' in call.params
    if takes_background and args.background is None:
        raise UsageError("explain needs --background BG.csv, a CSV of typical rows: an exported learner keeps no "
                         "training rows to compare with")
    if args.html is not None and 'page' not in call.pictures:
        raise UsageError(f"--html does not apply to a {call.kind.name} learner's explain: it shows texts and images")
    rows = _inputs(args.rows, 'rows file', 'path_col' in call.params)
    background = _read_csv(args.background, 'background file') if args.background is not None else None
    if not 0 <= args.row < len(rows): raise UsageError(f"--row {args.row} is not a row of {shown} ({len(rows)} rows)")
    options = call.options(**_given(args, 'explain', background=background, flagged=args.flagged or args.boxes))
    with console.working():
        expl = call(rows, show_progress=console.progress, **options)
    from .common.kinds import picture   # each kind prints its explanations its own way (by attrs['kind'])
    console.result(picture(expl, 'table')(expl, **({'top': None} if args.all_units else {})))   # else the kind's own top
    written = []
    if args.csv is not None: expl.to_csv(args.csv, index=False); written.append(args.csv)
    if args.plot is not None:
        _headless()
        from .pictures import plot_explanation
        _save_figure(plot_explanation(expl, row=args.row), args.plot); written.append(args.plot)
    if args.html is not None:
        from .common.kinds import picture
        args.html.write_text(picture(expl, 'page')(expl, title=f'Explanations of {shown}'), encoding='utf-8')
        written.append(args.html)
    if written: console.say('wrote ' + ', '.join(map(str, written)))


def run_pdp(args, console: Console):
    _check_output(args.csv, '--csv'); _check_output(args.plot, '--plot', image=True)
    if len(args.features) > 2: raise UsageError(f"pdp takes one FEATURE or two, got {len(args.features)}: {args.features}")
    _check_input(args.model, 'model file'); _check_input(args.data, 'data file')   # all before the learner loads
    _check_values(args, 'partial_dependence')
    learn = _load_learner(args.model)
    call = Call(args, learn, 'partial_dependence', {'df': str(args.data), 'features': 'FEATURE'})
    df = _read_csv(args.data)
    features = args.features[0] if len(args.features) == 1 else args.features
    options = call.options(**_given(args, 'partial_dependence'))
    with console.working():
        res = call(features, df, show_progress=console.progress, **options)
    frame = res.to_frame()
    console.say(f"partial dependence of {res.output_label()} on {' and '.join(res.features)} over {len(df)} rows")
    console.result((frame if res.individual is None else frame.drop_duplicates(res.features[0]).drop(columns=['row', 'individual']))
                   .to_string(index=False, float_format=lambda v: f'{v:.4f}'))
    written = []
    if args.csv is not None: frame.to_csv(args.csv, index=False); written.append(args.csv)
    if args.plot is not None:
        _headless()
        _save_figure(res.plot(), args.plot); written.append(args.plot)
    if written: console.say('wrote ' + ', '.join(map(str, written)))


def _found(found) -> str:
    "What was flagged in a row, in a cell: phrases with their offsets, columns with their values, or boxes."
    if isinstance(found, dict): return ', '.join(f"{k}={v}" for k, v in found.items())
    return ', '.join(f"{f['phrase']}@{f['start']}" if isinstance(f, dict) else
                     'box ' + ','.join(map(str, f)) if isinstance(f, (list, tuple)) else str(f) for f in found)


def _summary_lines(rel) -> list:
    s, a = rel.attrs['summary'], rel.attrs
    lines = [f"{s['share_relies']:.1%} of {s['n_rows']} rows rely on {_found(a['flagged'])} "
             f"(|change| >= {a['threshold']:g} or the class flips); {s['share_flipped']:.1%} flip; " +
             (f"{s['n_with_flagged']} hold a flagged input" if 'n_with_flagged' in s else f"{s['n_changed']} change at all"),
             f"mean |change| {s['mean_abs_change']:.4f}, largest {s['max_abs_change']:.4f} ({a['target']})"]
    if 'metric' in s:
        lines.append(f"{s['metric']}: {s['score']:.4f} with them, {s['score_without']:.4f} without them")
    return lines


def run_reliance(args, console: Console):
    _check_output(args.csv, '--csv'); _check_output(args.plot, '--plot', image=True)
    _check_one_stdin(*args.data, args.background)
    _check_input(args.model, 'model file'); _check_inputs(args.data, 'data file')   # all before the learner loads
    if args.background is not None: _check_input(args.background, 'background file')
    if bool(args.flagged) == bool(args.boxes):
        raise UsageError("name the shortcuts once: --flag INPUT (a phrase or a column), or --box T,L,B,R (images)")
    _check_values(args, 'reliance')
    learn = _load_learner(args.model)
    shown = ' '.join(map(str, args.data))
    call = Call(args, learn, 'reliance', {'data': shown, 'flagged': '--flag' if args.flagged else '--box',
                                          'background': '--background'})
    if 'background' in call.params and args.background is None:
        raise UsageError("reliance of a tabular learner needs --background BG.csv, a CSV of typical rows to take the "
                         "flagged columns from: an exported learner keeps no training rows")
    df = _inputs(args.data, 'data file', 'path_col' in call.params)
    background = _read_csv(args.background, 'background file') if args.background is not None else None
    options = call.options(**_given(args, 'reliance', background=background))
    with console.working():
        rel = call(df, args.flagged or args.boxes, show_progress=console.progress, **options)
    table = rel.assign(Found=rel['Found'].map(_found))
    if args.summary: console.result('\n'.join(_summary_lines(rel)))
    else:
        for line in _summary_lines(rel): console.say(line)
        console.result(table.to_string(index=False, float_format=lambda v: f'{v:.4f}'))
    written = []
    if args.csv is not None:
        rel.assign(Found=rel['Found'].map(lambda f: json.dumps(f, default=str))).to_csv(args.csv, index=False)
        args.csv.with_suffix('.json').write_text(json.dumps(dict(rel.attrs['summary'], flagged=rel.attrs['flagged'],
                                                                 threshold=rel.attrs['threshold'], target=rel.attrs['target']),
                                                            indent=2, default=str) + '\n')
        written += [args.csv, args.csv.with_suffix('.json')]
    if args.plot is not None:
        _headless()
        from .plot.reliance import plot_reliance
        _save_figure(plot_reliance(rel), args.plot); written.append(args.plot)
    if written: console.say('wrote ' + ', '.join(map(str, written)))


def run_report(args, console: Console):
    from .core.params import ParameterError
    from .report.build import check_path, write_report
    flags = {'path': '--out', 'flagged': '--flag', 'data': str(args.data), 'rows': '--rows', 'metric': '--metric',
             'seed': '--seed', 'n_examples': '--examples', 'background': '--background'}
    spell = lambda name, eq: flags.get(name, name + eq)
    _check_one_stdin(args.data, args.background)
    try: check_path(args.path)   # before loading anything
    except ParameterError as e: raise UsageError(e.render(spell)) from None
    learn = _load_learner(args.model)
    df = _read_csv(args.data)
    background = _read_csv(args.background, 'background file') if args.background is not None else None
    with console.working():
        try: path = write_report(learn, df, args.path, flagged=args.flagged, rows=args.rows, metric=args.metric,
                                 seed=args.seed, show_progress=console.progress, n_examples=args.n_examples,
                                 background=background)
        except ParameterError as e: raise UsageError(e.render(spell)) from e
        except TypeError as e: raise UsageError(str(e)) from e
    console.say(f'wrote {path}')


COMMANDS = {'demo': run_demo, 'importance': run_importance, 'explain': run_explain, 'pdp': run_pdp,
            'reliance': run_reliance, 'report': run_report}


def _parse(argv):
    """The arguments; an option no command knows is reported with the usage of the command it was given to (argparse
    alone reports it against the top level's)."""
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[args.command]
        sub.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def main(argv=None) -> int:
    with warnings.catch_warnings():   # the caller's filters and warning display come back as they were
        _quiet_library_warnings()
        args = _parse(argv)
        console = Console(args)
        warnings.showwarning = console.warning
        try:
            COMMANDS[args.command](args, console)
        except UsageError as e:
            print(f"fastai-featimp: error: {e}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("fastai-featimp: interrupted", file=sys.stderr)
            return 130
    return 0


if __name__ == '__main__':
    sys.exit(main())
