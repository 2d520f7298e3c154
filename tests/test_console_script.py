"""The doors users walk through: the installed `fastai-featimp` console script, run in a subprocess for every
subcommand on a tabular and a text learner exported with `learn.export()`, with their results and their errors
(one line on stderr, status 2, no traceback). A test calling `cli.main()` in a process where the package is already
imported cannot see a broken console script; these can."""
import json
import os
import shutil
import re
import subprocess
import sys

from pathlib import Path

import pandas as pd
import pytest

SCRIPT = shutil.which('fastai-featimp')


TESTS = Path(__file__).parent


def run(*args, stdin=None, cwd=None, code_path=True):
    "The console script; `code_path`: the tests' folder importable (the custom text model is defined in helpers.py)."
    assert SCRIPT, 'the fastai-featimp console script is not installed (pip install -e .)'
    env = dict(os.environ, PYTHONPATH=str(TESTS)) if code_path else {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    return subprocess.run([SCRIPT, *map(str, args)], capture_output=True, text=True, timeout=600, input=stdin, cwd=cwd,
                          env=env)


def one_line_error(res, pattern):
    import re
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2, (res.returncode, res.stderr[-2000:])
    assert 'Traceback' not in res.stderr and len(lines) == 1 and lines[0].startswith('fastai-featimp: error:'), res.stderr
    assert re.search(pattern, lines[0]), lines[0]
    return lines[0]


@pytest.fixture(scope='module')
def tabular_files(binary_learner, binary_test, tmp_path_factory):
    folder = tmp_path_factory.mktemp('console_tabular')
    binary_learner.export(folder / 'model.pkl')
    binary_test.iloc[:400].to_csv(folder / 'test.csv', index=False)
    binary_test.iloc[:3].drop(columns='y').to_csv(folder / 'rows.csv', index=False)
    binary_test.iloc[400:460].to_csv(folder / 'background.csv', index=False)
    return folder


@pytest.fixture(scope='module')
def text_files(custom_text, notes, tmp_path_factory):
    folder = tmp_path_factory.mktemp('console_text')
    custom_text.export(folder / 'notes.pkl')
    notes[1].head(80).to_csv(folder / 'notes.csv', index=False)
    notes[1].head(2)[['text']].to_csv(folder / 'two.csv', index=False)
    return folder


@pytest.mark.slow
def test_a_fresh_interpreter_gets_the_methods_whatever_it_imports_first():
    for first in ['import fastai_featimp; from fastai.tabular.all import Learner',
                  'from fastai.text.all import Learner; import fastai_featimp',
                  'import fastai_featimp; from fastai.learner import Learner, load_learner',
                  'import fastai_featimp.cli; from fastai.vision.all import Learner']:
        code = first + "; assert all(hasattr(Learner, m) for m in ('feature_importance', 'explain', " \
                       "'show_explanation', 'plot_feature_importance')); print('ok')"
        res = subprocess.run([sys.executable, '-W', 'ignore', '-c', code], capture_output=True, text=True, timeout=300)
        assert res.stdout.strip() == 'ok', (first, res.stderr[-1500:])


def test_version_of_the_installed_command():   # that --help imports neither fastai nor torch: test_cli.py
    res = run('--version')
    assert res.returncode == 0 and res.stdout.startswith('fastai-featimp 0.')


@pytest.mark.slow
def test_tabular_importance_through_the_console_script(tabular_files, binary_learner):
    f = tabular_files
    res = run('importance', f / 'model.pkl', f / 'test.csv', '--repeats', 2, '--seed', 0, '--metric', 'accuracy',
              '--csv', f / 'fi.csv')
    assert res.returncode == 0, res.stderr
    assert res.stdout.split()[:3] == ['Variable', 'Type', 'Importance'] and 'Traceback' not in res.stderr
    table = pd.read_csv(f / 'fi.csv')
    ref = binary_learner.feature_importance(df=pd.read_csv(f / 'test.csv'), metric='accuracy', n_repeats=2, seed=0,
                                            show_progress=False)
    pd.testing.assert_series_equal(table['Importance'], ref['Importance'], atol=1e-6)
    assert json.loads((f / 'fi.json').read_text())['metric'] == 'accuracy'


@pytest.mark.slow
def test_one_line_errors_through_the_console_script(tabular_files):
    "A few errors through the installed command; the others are the same code, run in-process below."
    f = tabular_files
    one_line_error(run('importance', f / 'model.pkl', f / 'missing.csv'), 'data file not found')
    one_line_error(run('importance', f / 'model.pkl', f / 'test.csv', '--repeats', 0), '--repeats must be an integer >= 1, got 0')
    one_line_error(run('explain', f / 'model.pkl', f / 'rows.csv', '--background', f / 'background.csv', '--unit', 'word'),
                   "--unit does not apply to a tabular learner's explain")


def in_process_error(capsys, args, pattern, stdin=None, monkeypatch=None):
    "`cli.main(args)`, as the console script calls it: status 2 and one line on stderr matching `pattern`."
    import io
    import re
    from fastai_featimp.cli import main
    if stdin is not None: monkeypatch.setattr(sys, 'stdin', io.StringIO(stdin))
    capsys.readouterr()
    assert main([str(a) for a in args]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('fastai-featimp: error:') and re.search(pattern, lines[0]), lines
    return lines[0]


def _files(folder, args): return [folder / a if str(a).endswith(('.pkl', '.csv')) else a for a in args]


TABULAR_ERRORS = [
    (['importance', 'model.pkl', 'test.csv', '--max-rows', 1], '--max-rows must be an integer >= 2'),
    (['importance', 'model.pkl', 'test.csv', '--candidates', 'a b'],
     r"--candidates does not apply to a tabular learner's importance \(it takes --metric, --repeats"),
    (['explain', 'model.pkl', 'rows.csv'], 'explain needs --background BG.csv'),
    (['explain', 'model.pkl', 'rows.csv', '--background', 'background.csv', '--target', 'maybe'], "unknown --target 'maybe'"),
    (['pdp', 'model.pkl', 'test.csv', 'nope'], "unknown column 'nope'"),
    (['explain', 'model.pkl', '-', '--background', '-'], 'only one input can be read from stdin'),
]


@pytest.mark.parametrize('args, pattern', TABULAR_ERRORS, ids=[' '.join(map(str, a)) for a, _ in TABULAR_ERRORS])
def test_tabular_errors_in_the_cli_words(tabular_files, capsys, monkeypatch, args, pattern):
    line = in_process_error(capsys, _files(tabular_files, args), pattern, stdin='' if '-' in args else None,
                            monkeypatch=monkeypatch)
    assert 'target=' not in line and 'max_rows' not in line   # the CLI's words, not the library's


@pytest.mark.slow
def test_tabular_explain_pdp_and_stdin_through_the_console_script(tabular_files):
    f = tabular_files
    res = run('explain', f / 'model.pkl', f / 'rows.csv', '--background', f / 'background.csv', '--seed', 0,
              '--plot', f / 'e.png', '--csv', f / 'e.csv')
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith('row 0: yes output') and (f / 'e.png').stat().st_size > 1000
    assert len(pd.read_csv(f / 'e.csv')) == 3 * 6
    res = run('explain', f / 'model.pkl', '-', '--background', f / 'background.csv', '--seed', 0,
              stdin=(f / 'rows.csv').read_text())
    assert res.returncode == 0 and res.stdout.count('row ') == 3, res.stderr
    res = run('pdp', f / 'model.pkl', '-', 'signal', '--grid-resolution', 4, stdin=(f / 'test.csv').read_text())
    assert res.returncode == 0 and res.stdout.split()[:2] == ['signal', 'average'], res.stderr


@pytest.mark.slow
def test_text_learner_through_the_console_script(text_files):
    f = text_files
    res = run('importance', f / 'notes.pkl', f / 'notes.csv', '--seed', 0, '--bootstrap', 20, '--min-support', 10)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split()[:3] == ['Variable', 'Type', 'Importance'] and 'masking the phrase' in res.stderr
    res = run('importance', f / 'notes.pkl', f / 'notes.csv', '--candidates', 'family visit', 'ambulating', '--seed', 0)
    assert res.returncode == 0 and 'family visit' in res.stdout and 'ambulating' in res.stdout, res.stderr
    res = run('explain', f / 'notes.pkl', f / 'two.csv', '--seed', 0, '--method', 'occlusion', '--html', f / 'notes.html',
              '--plot', f / 'note.png', '--flag', 'family visit')
    assert res.returncode == 0, res.stderr
    assert 'Row 1: Probability of died' in res.stdout and (f / 'note.png').stat().st_size > 1000
    assert len(re.findall(r'^  (Discount this prediction\.|Checked: )', res.stdout, flags=re.M)) == 2, res.stdout
    page = (f / 'notes.html').read_text()
    assert page.startswith('<!DOCTYPE html>') and page.count('class="featimp-text"') == 2
    assert 'Row 0' in page and 'Row 1' in page
    assert page.count('class="featimp-banner"') + page.count('class="featimp-checked"') == 2
    one_line_error(run('importance', f / 'notes.pkl', f / 'notes.csv', '--repeats', 3),
                   r"--repeats does not apply to a text learner's importance \(it takes .*--candidates")
    one_line_error(run('importance', f / 'notes.pkl', f / 'notes.csv', code_path=False),
                   "needs code that cannot be imported here.*No module named 'helpers'")


TEXT_ERRORS = [
    (['importance', 'notes.pkl', 'notes.csv', '--groups', '{"a": ["b"]}'], "--groups does not apply to a text learner"),
    (['explain', 'notes.pkl', 'two.csv', '--background', 'two.csv'], "--background does not apply to a text learner's explain"),
    (['pdp', 'notes.pkl', 'notes.csv', 'age'], 'pdp is not available for this text learner'),
    (['importance', 'notes.pkl', 'two.csv'], "two.csv has no label column 'outcome'"),
    (['explain', 'notes.pkl', 'notes.csv', '--text-col', 'nope'], "notes.csv has no text column 'nope'.*--text-col"),
    (['importance', 'notes.pkl', 'notes.csv', '--candidates', 'zyqxolam'], "'zyqxolam' in --candidates holds word.* the model never saw"),
]


@pytest.mark.parametrize('args, pattern', TEXT_ERRORS, ids=[' '.join(map(str, a)) for a, _ in TEXT_ERRORS])
def test_text_errors_in_the_cli_words(text_files, capsys, args, pattern):
    in_process_error(capsys, _files(text_files, args), pattern)
