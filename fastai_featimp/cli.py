"""`fastai-featimp`: the offline Adult demo, and permutation importance for a learner saved with
`learn.export()`. Errors print one line to stderr and exit with status 2."""
from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

__all__ = ['main']


class UsageError(Exception):
    "A problem with the user's input: reported as one line, exit status 2."


def _positive_int(text):
    try: value = int(text)
    except ValueError: raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}")
    if value < 1: raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog='fastai-featimp',
                                description='Permutation feature importance for fastai tabular models.')
    sub = p.add_subparsers(dest='command', required=True, metavar='{demo,importance}')
    demo = sub.add_parser('demo', help='train the fastai tutorial model on the bundled UCI Adult data and explain it',
                          description='Train the fastai tabular tutorial learner on the bundled UCI Adult training '
                                      'set (offline), compute permutation importance on the Adult test set, print '
                                      'it and write feature_importance.csv and feature_importance.png.')
    demo.add_argument('--epochs', type=_positive_int, default=3, help='training epochs (default: 3)')
    demo.add_argument('--repeats', type=_positive_int, default=5, help='permutations per column (default: 5)')
    demo.add_argument('--seed', type=int, default=42, help='seed for training and permutations (default: 42)')
    demo.add_argument('--out', type=Path, default=Path('.'), help='folder for the csv and png (default: .)')
    imp = sub.add_parser('importance', help='permutation importance of a learner saved with learn.export()',
                         description='Permutation importance of an exported fastai tabular learner on a labelled CSV.')
    imp.add_argument('model', type=Path, help='a learner saved with learn.export() (a .pkl file; only load files you trust)')
    imp.add_argument('data', type=Path, help='a labelled CSV with the feature and label columns the learner was trained on')
    imp.add_argument('--metric', default='loss', help="loss (default), accuracy, error_rate, roc_auc, rmse, mae, mse, "
                                                      "msle, exp_rmspe, r2, f1 or balanced_accuracy")
    imp.add_argument('--repeats', type=_positive_int, default=5, help='permutations per column (default: 5)')
    imp.add_argument('--groups', help='columns to permute together, as JSON: \'{"edu": ["education", "education-num"]}\'')
    imp.add_argument('--seed', type=int, default=None, help='seed for identical results run to run')
    imp.add_argument('--max-rows', type=_positive_int, default=None, help='score a seeded subsample of this many rows')
    imp.add_argument('--csv', type=Path, default=None, help='write the table to this CSV file')
    imp.add_argument('--plot', type=Path, default=None, help='write the plot to this PNG file')
    return p


def _parse_groups(text):
    if text is None: return None
    try: groups = json.loads(text)
    except json.JSONDecodeError as e: raise UsageError(f"--groups is not valid JSON: {e}")
    if not isinstance(groups, dict) or not all(isinstance(v, list) and all(isinstance(c, str) for c in v)
                                               for v in groups.values()):
        raise UsageError('--groups must be a JSON object of column lists, e.g. {"edu": ["education", "education-num"]}')
    return groups


def _write_outputs(fi, csv_path=None, png_path=None):
    import matplotlib
    matplotlib.use('Agg')   # a file, never a window: the CLI also runs on machines with no screen
    from .plot.importance import plot_importance
    if csv_path is not None:
        fi.drop(columns='Members').to_csv(csv_path, index=False)
    if png_path is not None:
        ax = plot_importance(fi)
        ax.figure.savefig(png_path, dpi=120)


def _show(fi):
    cols = ['Variable', 'Type', 'Importance', 'Std', 'CI_low', 'CI_high', 'p_value']
    print(f"Permutation importance: {fi.attrs['metric']} on {fi.attrs['n_rows']} rows "
          f"(baseline {fi.attrs['baseline']:.4f}, {fi.attrs['n_repeats']} repeats)")
    print(fi[cols].to_string(index=False, float_format=lambda v: f'{v:.4f}'))


def run_demo(args):
    from .demo import train_adult_learner
    from .datasets import adult
    args.out.mkdir(parents=True, exist_ok=True)
    train_df, test_df = adult()
    learn = train_adult_learner(train_df, epochs=args.epochs, seed=args.seed, show_progress=True)   # a bar per epoch
    fi = learn.feature_importance(df=test_df, n_repeats=args.repeats, seed=args.seed)
    _show(fi)
    _write_outputs(fi, args.out / 'feature_importance.csv', args.out / 'feature_importance.png')
    print(f"wrote {args.out / 'feature_importance.csv'} and {args.out / 'feature_importance.png'}")


def _load_learner(path: Path):
    from fastai.learner import load_learner
    from .tabular.schema import check_tabular
    if not path.is_file(): raise UsageError(f"model file not found: {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')   # fastai warns about pickle on every load; the help text says it
            learn = load_learner(path)
    except Exception as e:   # torch.load fails in many ways on a file that is not an exported learner
        raise UsageError(f"cannot load {path} as a fastai learner saved with learn.export(): {type(e).__name__}: {e}")
    try: check_tabular(learn)
    except TypeError as e: raise UsageError(f"{path}: {e}")
    return learn


def _read_csv(path: Path):
    import pandas as pd
    if not path.is_file(): raise UsageError(f"data file not found: {path}")
    try: return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as e:
        raise UsageError(f"cannot read {path} as CSV: {e}")


def run_importance(args):
    from . import permutation_importance
    groups = _parse_groups(args.groups)
    learn = _load_learner(args.model)
    df = _read_csv(args.data)
    try:
        fi = permutation_importance(learn, df=df, metric=args.metric, n_repeats=args.repeats, groups=groups,
                                    seed=args.seed, max_rows=args.max_rows)
    except (ValueError, TypeError) as e: raise UsageError(str(e))
    _show(fi)
    _write_outputs(fi, args.csv, args.plot)


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings('ignore', category=FutureWarning)
            warnings.filterwarnings('ignore', message='.*not writable.*')
            (run_demo if args.command == 'demo' else run_importance)(args)
    except UsageError as e:
        print(f"fastai-featimp: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fastai-featimp: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == '__main__':
    sys.exit(main())
