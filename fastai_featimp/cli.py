"""`fastai-featimp`: the offline Adult demo, and importance, explanations and partial dependence of a learner
saved with `learn.export()`.

The table goes to stdout and nothing else does: messages and progress go to stderr (progress only when
stderr is a terminal, or with --progress; --quiet keeps only the result and errors). Errors print one line
to stderr and exit with status 2. `--help` and `--version` answer without importing fastai."""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import warnings
from pathlib import Path

__all__ = ['main']

from .common.metric_names import METRIC_NAMES as METRICS

PLOT_FORMATS = ('png', 'pdf', 'svg', 'svgz', 'jpg', 'jpeg', 'tif', 'tiff', 'webp', 'eps', 'ps')


class UsageError(Exception):
    "A problem with the user's input: reported as one line, exit status 2."


def _quiet_library_warnings() -> None:
    "Warnings about the libraries' own internals, not the user's data (set before fastai is imported)."
    warnings.filterwarnings('ignore', category=FutureWarning, module='torch')
    warnings.filterwarnings('ignore', message='.*jit.script.*')
    warnings.filterwarnings('ignore', message='.*not writable.*')
    warnings.filterwarnings('ignore', message='.*Constructing a Categorical with a dtype.*')
    warnings.filterwarnings('ignore', message='.*load_learner.*pickle.*')


def _positive_int(text):
    try: value = int(text)
    except ValueError: raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}")
    if value < 1: raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def _seed(text):
    try: value = int(text)
    except ValueError: raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    if value < 0: raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {value}")
    return value


def _version() -> str:
    from . import __version__
    return f"fastai-featimp {__version__}"


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
    sub = p.add_subparsers(dest='command', required=True, metavar='{demo,importance,explain,pdp}')

    demo = sub.add_parser('demo', parents=[common], help='train the fastai tutorial model on the bundled UCI Adult data and explain it',
                          description='Train the fastai tabular tutorial learner on the bundled UCI Adult training set '
                                      '(offline), compute permutation importance on the Adult test set, print it and '
                                      'write feature_importance.csv (+ .json) and feature_importance.png into --out.')
    demo.add_argument('--epochs', type=_positive_int, default=3, help='training epochs (default: 3)')
    demo.add_argument('--repeats', type=_positive_int, default=5, help='permutations per column (default: 5)')
    demo.add_argument('--seed', type=_seed, default=42, help='seed for training and permutations (default: 42)')
    demo.add_argument('--out', type=Path, default=Path('featimp-demo'),
                      help='folder for the results, created if needed (default: featimp-demo)')

    imp = sub.add_parser('importance', parents=[model, common], help='permutation importance of an exported learner',
                         description='Permutation importance of an exported fastai learner on a labelled CSV '
                                     '(tabular: columns; text: words and phrases).')
    imp.add_argument('data', type=Path, help='a labelled CSV with the columns the learner was trained on')
    imp.add_argument('--metric', default='loss', choices=METRICS, metavar='NAME',
                     help=f"what importance is measured with: {', '.join(METRICS)} (default: loss)")
    imp.add_argument('--repeats', type=_positive_int, default=5, help='permutations per column (default: 5)')
    imp.add_argument('--groups', help='columns to permute together, as JSON: \'{"edu": ["education", "education-num"]}\'')
    imp.add_argument('--seed', type=_seed, default=None, help='seed for identical results run to run')
    imp.add_argument('--max-rows', type=_positive_int, default=None, help='score a seeded sample of at most this many rows')
    imp.add_argument('--csv', type=Path, default=None, help='write the table to this CSV file (and the run\'s metadata to a .json beside it)')
    imp.add_argument('--plot', type=Path, default=None, help=f"draw the table into this image ({', '.join(PLOT_FORMATS[:3])}, ...)")

    exp = sub.add_parser('explain', parents=[model, common], help='Shapley explanations of single predictions',
                         description='Shapley values of each input column (tabular) or word (text) for each row of '
                                     'a CSV, towards the output of --target.')
    exp.add_argument('rows', type=Path, help='a CSV of the rows (or texts) to explain; labels are not needed')
    exp.add_argument('--target', help='class or target to explain (default: the positive class of a binary model, '
                                      'else the predicted class)')
    exp.add_argument('--background', type=Path, help='tabular: a CSV of typical rows to compare with (required: an '
                                                     'exported learner keeps no training rows)')
    exp.add_argument('--seed', type=_seed, default=None, help='seed for sampling')
    exp.add_argument('--row', type=int, default=0, help='the row drawn by --plot (default: 0)')
    exp.add_argument('--csv', type=Path, default=None, help='write the contributions to this CSV file')
    exp.add_argument('--plot', type=Path, default=None, help='draw the explanation of --row into this image')

    pdp = sub.add_parser('pdp', parents=[model, common], help='partial dependence of a tabular learner',
                         description='Partial dependence (and ICE curves) of the output on one column or a pair.')
    pdp.add_argument('data', type=Path, help='a CSV of the rows to average over; labels are not needed')
    pdp.add_argument('features', nargs='+', metavar='FEATURE', help='one column, or two for a two-way dependence')
    pdp.add_argument('--kind', choices=('average', 'individual', 'both'), default='average',
                     help='average (PD), individual (ICE) or both (default: average)')
    pdp.add_argument('--target', help='class or target (default: the positive class of a binary model)')
    pdp.add_argument('--grid-resolution', type=_positive_int, default=20, help='grid values per column (default: 20)')
    pdp.add_argument('--csv', type=Path, default=None, help='write the curve to this CSV file')
    pdp.add_argument('--plot', type=Path, default=None, help='draw the curve into this image')
    return p


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
    if path.is_dir(): raise UsageError(f"{what} {path} is a folder, not a file")
    if not path.is_file(): raise UsageError(f"{what} not found: {path}")


# --- loading ----------------------------------------------------------------------------------------------------

def _load_learner(path: Path):
    _check_input(path, 'model file')
    from fastai.learner import load_learner
    from .common.kinds import data_kind
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')   # fastai warns about pickle on every load; the help text says it
            learn = load_learner(path)
    except Exception as e:   # torch.load fails in many ways on a file that is not an exported learner
        raise UsageError(f"cannot load {path} as a fastai learner saved with learn.export(): {type(e).__name__}: {e}")
    try: data_kind(learn)
    except TypeError as e: raise UsageError(f"{path}: {e}")
    return learn


def _read_csv(path: Path, what: str = 'data file'):
    import pandas as pd
    _check_input(path, what)
    try: df = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as e:
        raise UsageError(f"cannot read {path} as CSV: {e}")
    if len(df) == 0: raise UsageError(f"{path} has a header but no rows: the {'test set' if what == 'data file' else what} is empty")
    return df


def _parse_groups(text):
    if text is None: return None
    try: groups = json.loads(text)
    except json.JSONDecodeError as e: raise UsageError(f"--groups is not valid JSON: {e}")
    if not isinstance(groups, dict) or not all(isinstance(v, list) and all(isinstance(c, str) for c in v)
                                               for v in groups.values()):
        raise UsageError('--groups must be a JSON object of column lists, e.g. {"edu": ["education", "education-num"]}')
    return groups


# The library's words for its arguments, and the CLI's.
_CLI_WORDS = [('max_rows', '--max-rows'), ('n_repeats', '--repeats'), ('pass target=', 'pass --target'),
              ('target=', '--target '), ('pass background=', 'pass --background'), ('grid_resolution', '--grid-resolution'),
              (' (or pass a fastai metric object or a callable)', ''), ('pass df= or test_dl=', 'give a CSV with rows'),
              ('pass df=', 'give a CSV with rows')]


def _in_cli_words(message: str) -> str:
    for lib, cli in _CLI_WORDS: message = message.replace(lib, cli)
    return message


@contextlib.contextmanager
def _library_errors():
    "The library's ValueError/TypeError as one line in the CLI's words."
    try: yield
    except (ValueError, TypeError) as e: raise UsageError(_in_cli_words(str(e))) from e


# --- output -----------------------------------------------------------------------------------------------------

class Console:
    "Where things go: the result to stdout; messages and progress to stderr."
    def __init__(self, args):
        self.quiet = args.quiet
        self.progress = not args.quiet and (args.progress or sys.stderr.isatty())

    def say(self, text: str) -> None:
        if not self.quiet: print(text, file=sys.stderr)

    def result(self, text: str) -> None: print(text, file=sys.stdout, flush=True)

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
    keep = ('method', 'metric', 'greater_is_better', 'baseline', 'n_repeats', 'seed', 'n_rows', 'source', 'strategy')
    return dict({k: fi.attrs[k] for k in keep if k in fi.attrs}, **extra, fastai_featimp=__version__,
                fastai=fastai.__version__, torch=torch.__version__)


def _save_figure(ax_or_fig, path: Path) -> None:
    fig = getattr(ax_or_fig, 'figure', ax_or_fig)
    fig.savefig(path, dpi=120, bbox_inches='tight')


def _write_importance(fi, csv_path=None, png_path=None, **meta) -> list:
    import matplotlib
    matplotlib.use('Agg')   # a file, never a window: the CLI also runs on machines with no screen
    from .plot.importance import plot_importance
    written = []
    if csv_path is not None:
        table = fi.assign(Members=[json.dumps(list(m)) for m in fi['Members']])
        table.to_csv(csv_path, index=False)
        json_path = csv_path.with_suffix('.json')
        json_path.write_text(json.dumps(_metadata(fi, **meta), indent=2, default=str) + '\n')
        written += [csv_path, json_path]
    if png_path is not None:
        _save_figure(plot_importance(fi), png_path)
        written.append(png_path)
    return written


def _importance_table(fi) -> str:
    cols = [c for c in ['Variable', 'Type', 'Importance', 'Std', 'CI_low', 'CI_high', 'p_value', 'Support', 'MeanDelta']
            if c in fi.columns]
    return fi[cols].to_string(index=False, float_format=lambda v: f'{v:.4f}')


def _importance_header(fi) -> str:
    a = fi.attrs
    return (f"{a.get('method', 'permutation').capitalize()} importance: {a['metric']} on {a['n_rows']} rows "
            f"(baseline {a['baseline']:.4f}, {a.get('n_repeats', a.get('n_bootstrap', 1))} "
            f"{'repeats' if 'n_repeats' in a else 'bootstrap samples'}); positive = permuting hurts")


# --- commands ---------------------------------------------------------------------------------------------------

def run_demo(args, console: Console):
    try: args.out.mkdir(parents=True, exist_ok=True)
    except OSError as e: raise UsageError(f"cannot create --out {args.out}: {e.strerror or e}")
    csv_path, png_path = args.out / 'feature_importance.csv', args.out / 'feature_importance.png'
    for path, image in ((csv_path, False), (png_path, True)): _check_output(path, '--out', image)
    from .datasets import adult
    from .demo import train_adult_learner
    from .learner import feature_importance  # noqa: F401  (attaches the methods)
    train_df, test_df = adult()
    console.say(f"training the fastai tabular tutorial model on UCI Adult ({len(train_df)} rows, {args.epochs} epochs)")
    with console.working():
        learn = train_adult_learner(train_df, epochs=args.epochs, seed=args.seed, show_progress=console.progress)
        fi = learn.feature_importance(df=test_df, n_repeats=args.repeats, seed=args.seed, show_progress=console.progress)
    console.say(_importance_header(fi))
    console.result(_importance_table(fi))
    written = _write_importance(fi, csv_path, png_path, data='UCI Adult test set (bundled)', epochs=args.epochs)
    console.say('wrote ' + ', '.join(map(str, written)))


def run_importance(args, console: Console):
    _check_output(args.csv, '--csv'); _check_output(args.plot, '--plot', image=True)
    groups = _parse_groups(args.groups)
    learn = _load_learner(args.model)
    df = _read_csv(args.data)
    from .common.kinds import data_kind
    with console.working(), _library_errors():
        if data_kind(learn) == 'text':
            if groups is not None: raise UsageError("--groups is for tabular learners; this is a text learner")
            fi = learn.feature_importance(df=df, metric=args.metric, seed=args.seed, max_rows=args.max_rows,
                                          show_progress=console.progress)
        else:
            fi = learn.feature_importance(df=df, metric=args.metric, n_repeats=args.repeats, groups=groups,
                                          seed=args.seed, max_rows=args.max_rows, show_progress=console.progress)
    console.say(_importance_header(fi))
    console.result(_importance_table(fi))
    written = _write_importance(fi, args.csv, args.plot, model=str(args.model), data=str(args.data))
    if written: console.say('wrote ' + ', '.join(map(str, written)))


def run_explain(args, console: Console):
    _check_output(args.csv, '--csv'); _check_output(args.plot, '--plot', image=True)
    learn = _load_learner(args.model)
    rows = _read_csv(args.rows, 'rows file')
    from .common.kinds import data_kind
    text = data_kind(learn) == 'text'
    if not text and args.background is None:
        raise UsageError("explain needs --background BG.csv, a CSV of typical rows: an exported learner keeps no "
                         "training rows to compare with")
    background = _read_csv(args.background, 'background file') if args.background is not None else None
    if not 0 <= args.row < len(rows): raise UsageError(f"--row {args.row} is not a row of {args.rows} ({len(rows)} rows)")
    with console.working(), _library_errors():
        kw = dict(target=args.target, seed=args.seed, show_progress=console.progress)
        expl = learn.explain(rows, **kw) if text else learn.explain(rows, background=background, **kw)
    for r in sorted(expl['row'].unique()):
        part = expl[expl['row'] == r].reindex(expl[expl['row'] == r]['Contribution'].abs().sort_values(ascending=False).index)
        console.result(f"row {r}: {expl.attrs['targets'][r]} output {expl.attrs['outputs'][r]:.4f} "
                       f"(base {expl.attrs['base_values'][r]:.4f})")
        shown = [c for c in ['Variable', 'Value', 'Contribution', 'Std', 'OOV'] if c in part.columns]
        console.result(part[shown].to_string(index=False, float_format=lambda v: f'{v:.4f}'))
    written = []
    if args.csv is not None: expl.to_csv(args.csv, index=False); written.append(args.csv)
    if args.plot is not None:
        import matplotlib
        matplotlib.use('Agg')
        _save_figure(learn.plot_explanation(expl, row=args.row), args.plot); written.append(args.plot)
    if written: console.say('wrote ' + ', '.join(map(str, written)))


def run_pdp(args, console: Console):
    _check_output(args.csv, '--csv'); _check_output(args.plot, '--plot', image=True)
    if len(args.features) > 2: raise UsageError(f"pdp takes one FEATURE or two, got {len(args.features)}: {args.features}")
    learn = _load_learner(args.model)
    df = _read_csv(args.data)
    from .common.kinds import data_kind
    if data_kind(learn) != 'tabular': raise UsageError("pdp is for tabular learners; this is a text learner")
    features = args.features[0] if len(args.features) == 1 else args.features
    with console.working(), _library_errors():
        res = learn.partial_dependence(features, df, kind=args.kind, target=args.target,
                                       grid_resolution=args.grid_resolution, show_progress=console.progress)
    frame = res.to_frame()
    console.say(f"partial dependence of {res.output_label()} on {' and '.join(res.features)} over {len(df)} rows")
    console.result((frame if res.individual is None else frame.drop_duplicates(res.features[0]).drop(columns=['row', 'individual']))
                   .to_string(index=False, float_format=lambda v: f'{v:.4f}'))
    written = []
    if args.csv is not None: frame.to_csv(args.csv, index=False); written.append(args.csv)
    if args.plot is not None:
        import matplotlib
        matplotlib.use('Agg')
        _save_figure(res.plot(), args.plot); written.append(args.plot)
    if written: console.say('wrote ' + ', '.join(map(str, written)))


COMMANDS = {'demo': run_demo, 'importance': run_importance, 'explain': run_explain, 'pdp': run_pdp}


def main(argv=None) -> int:
    _quiet_library_warnings()
    args = _parser().parse_args(argv)
    console = Console(args)
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
