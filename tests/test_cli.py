"""The command-line tool: the offline demo, importance / explain / pdp of an exported learner, a stdout that holds
only the result, output paths checked before any work, and one-line errors (exit 2) in the CLI's own words."""
import json
import re
import shutil
import subprocess
import sys
import time

import pandas as pd
import pytest
import torch

from fastai_featimp.cli import main


def run_cli(*args, cwd=None):
    exe = shutil.which('fastai-featimp')
    assert exe, 'the fastai-featimp console script is not installed (pip install -e .)'
    return subprocess.run([exe, *map(str, args)], capture_output=True, text=True, timeout=600, cwd=cwd)


@pytest.mark.slow
def test_demo_end_to_end_writes_into_its_folder(tmp_path):
    res = run_cli('demo', '--epochs', 1, '--repeats', 2, '--seed', 0, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    out = tmp_path / 'featimp-demo'   # the default --out, created; nothing loose in the current folder
    assert sorted(p.name for p in tmp_path.iterdir()) == ['featimp-demo']
    table = pd.read_csv(out / 'feature_importance.csv')
    assert sorted(table['Variable']) == sorted(['workclass', 'education', 'marital-status', 'occupation',
                                               'relationship', 'race', 'age', 'fnlwgt', 'education-num'])
    assert table['Importance'].max() > 0.01
    assert (out / 'feature_importance.png').read_bytes()[:4] == b'\x89PNG'
    meta = json.loads((out / 'feature_importance.json').read_text())
    assert meta['metric'] == 'loss' and meta['n_repeats'] == 2 and meta['seed'] == 0 and meta['n_rows'] == 16281
    # stdout is the table and nothing else: no progress, no warnings, no training log
    lines = res.stdout.strip().splitlines()
    assert lines[0].split()[:3] == ['Variable', 'Type', 'Importance'] and len(lines) == 10
    assert 'Traceback' not in res.stderr and 'Warning' not in res.stderr and 'epoch' not in res.stdout


def test_help_and_version_answer_without_fastai():
    code = ("import sys, time; sys.argv = ['fastai-featimp']; t = time.time()\n"
            "from fastai_featimp.cli import main\n"
            "for args in (['--help'], ['importance', '--help'], ['explain', '--help'], ['pdp', '--help'], ['--version']):\n"
            "    try: main(args)\n"
            "    except SystemExit: pass\n"
            "print('FASTAI', 'fastai' in sys.modules, 'torch' in sys.modules)")
    res = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120)
    assert 'usage: fastai-featimp' in res.stdout and 'fastai-featimp 0.' in res.stdout
    assert 'FASTAI False False' in res.stdout, res.stdout[-300:]
    start = time.time()
    res = run_cli('--help')
    assert res.returncode == 0 and 'usage: fastai-featimp' in res.stdout and res.stderr == ''
    assert time.time() - start < 10   # generous: a fastai import alone takes seconds more on a loaded machine


@pytest.fixture(scope='module')
def exported(binary_learner, binary_test, tmp_path_factory):
    folder = tmp_path_factory.mktemp('cli')
    binary_learner.export(folder / 'model.pkl')
    binary_test.to_csv(folder / 'test.csv', index=False)
    binary_test.iloc[:3].drop(columns='y').to_csv(folder / 'rows.csv', index=False)
    binary_test.iloc[100:160].to_csv(folder / 'background.csv', index=False)
    return folder


def test_automatic_groups_and_conditional_permutation_from_the_command_line(exported, binary_learner, capsys):
    "The table's own options come to the command line with their declarations: --groups auto, --threshold, --strategy."
    out_csv = exported / 'auto.csv'
    assert main(['importance', str(exported / 'model.pkl'), str(exported / 'test.csv'), '--groups', 'auto',
                 '--threshold', '0.3', '--strategy', 'conditional', '--repeats', '1', '--seed', '0', '--max-rows', '500',
                 '--csv', str(out_csv)]) == 0
    ref = binary_learner.feature_importance(df=pd.read_csv(exported / 'test.csv'), groups='auto', threshold=0.3,
                                            strategy='conditional', n_repeats=1, seed=0, max_rows=500, show_progress=False)
    table = pd.read_csv(out_csv)
    assert list(table['Variable']) == list(ref['Variable']) and any(' + ' in v for v in table['Variable'])
    pd.testing.assert_series_equal(table['Importance'], ref['Importance'], atol=1e-6)
    assert json.loads(out_csv.with_suffix('.json').read_text())['strategy'] == 'conditional'
    capsys.readouterr()
    assert main(['reliance', str(exported / 'model.pkl'), str(exported / 'rows.csv'), '--box', '1,1,2,2',
                 '--background', str(exported / 'background.csv')]) == 2
    assert "--box names the table's columns (strings), got (1, 1, 2, 2)" in capsys.readouterr().err


def test_importance_command(exported, binary_learner, capsys):
    out_csv, out_png = exported / 'fi.csv', exported / 'fi.png'
    groups = {'noise_pair': ['noise', 'noise_cat']}
    code = main(['importance', str(exported / 'model.pkl'), str(exported / 'test.csv'), '--metric', 'accuracy',
                 '--repeats', '2', '--seed', '0', '--groups', json.dumps(groups), '--csv', str(out_csv),
                 '--plot', str(out_png)])
    assert code == 0
    table = pd.read_csv(out_csv)
    ref = binary_learner.feature_importance(df=pd.read_csv(exported / 'test.csv'), metric='accuracy', n_repeats=2,
                                            seed=0, groups=groups, show_progress=False)
    pd.testing.assert_series_equal(table['Importance'], ref['Importance'], atol=1e-6)
    assert table['Variable'][0] == 'signal'
    members = dict(zip(table['Variable'], table['Members'].map(json.loads)))   # Members kept, as JSON lists
    assert members['noise_pair'] == ['noise', 'noise_cat'] and members['signal'] == ['signal']
    meta = json.loads(out_csv.with_suffix('.json').read_text())
    assert meta['metric'] == 'accuracy' and meta['seed'] == 0 and meta['n_repeats'] == 2 and meta['n_rows'] == 4000
    assert meta['baseline'] == pytest.approx(ref.attrs['baseline']) and {'fastai_featimp', 'fastai'} <= set(meta)
    assert out_png.stat().st_size > 1000
    captured = capsys.readouterr()
    assert captured.out.splitlines()[0].split()[:3] == ['Variable', 'Type', 'Importance']
    assert 'accuracy on 4000 rows' in captured.err and 'wrote' in captured.err


def test_quiet_and_progress(exported, capsys):
    args = ['importance', str(exported / 'model.pkl'), str(exported / 'test.csv'), '--repeats', '1', '--seed', '0']
    assert main(args + ['--quiet']) == 0
    quiet = capsys.readouterr()
    assert quiet.err == '' and quiet.out.lstrip().startswith('Variable')
    assert main(args + ['--progress']) == 0
    loud = capsys.readouterr()
    assert 'permutation importance' in loud.err and loud.out.lstrip().startswith('Variable')   # the bar, on stderr


def test_explain_and_pdp_commands(exported, tmp_path, capsys):
    model = str(exported / 'model.pkl')
    assert main(['explain', model, str(exported / 'rows.csv'), '--background', str(exported / 'background.csv'),
                 '--seed', '0', '--csv', str(tmp_path / 'e.csv'), '--plot', str(tmp_path / 'e.png'), '--row', '1']) == 0
    out = capsys.readouterr().out
    assert re.search(r'row 0: yes output 0\.\d+ \(base 0\.\d+\)', out) and 'signal' in out
    expl = pd.read_csv(tmp_path / 'e.csv')
    assert len(expl) == 3 * 6 and (tmp_path / 'e.png').stat().st_size > 1000
    assert main(['pdp', model, str(exported / 'test.csv'), 'signal', '--kind', 'both', '--grid-resolution', '5',
                 '--csv', str(tmp_path / 'p.csv'), '--plot', str(tmp_path / 'p.pdf')]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ['signal', 'average'] and len(out.strip().splitlines()) == 6
    assert len(pd.read_csv(tmp_path / 'p.csv')) == 5 * 4000 and (tmp_path / 'p.pdf').read_bytes()[:4] == b'%PDF'
    assert main(['pdp', model, str(exported / 'test.csv'), 'signal', 'level', '--grid-resolution', '3']) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 1 + 3 * 3


def write(path, text): path.write_text(text); return path


@pytest.mark.parametrize('case, message', [
    ('missing_model', 'model file not found'),
    ('text_model', 'cannot load'),
    ('dict_model', "cannot load .* as a fastai learner.*'dict'"),
    ('missing_data', 'data file not found'),
    ('data_is_folder', r'data file .* is a folder, not a file'),
    ('header_only', 'has a header but no rows: the test set is empty'),
    ('no_label', "no label column 'y'"),
    ('no_feature', "lacks feature column.*'signal'"),
    ('bad_json', '--groups is not valid JSON'),
    ('bad_groups', '--groups must be a JSON object'),
    ('unknown_group_column', "unknown column 'nope'"),
    ('bad_max_rows', '--max-rows must be an integer >= 2, got 1'),
    ('csv_folder_missing', r'--csv .*nowhere/fi.csv: the folder .*nowhere does not exist'),
    ('csv_is_folder', r'--csv .* is a folder; give a file name'),
    ('plot_format', r"--plot .*fi.xyz: unknown image format '.xyz'"),
    ('unwritable', r'cannot write --csv /proc/fi.csv'),
])
def test_errors_are_one_line_with_status_2(case, message, exported, tmp_path, capsys):
    model, data, extra = exported / 'model.pkl', exported / 'test.csv', []
    df = pd.read_csv(data)
    if case == 'missing_model': model = tmp_path / 'nope.pkl'
    if case == 'text_model': model = write(tmp_path / 'm.pkl', 'not a pickle')
    if case == 'dict_model': torch.save({'a': 1}, model := tmp_path / 'd.pkl')
    if case == 'missing_data': data = tmp_path / 'nope.csv'
    if case == 'data_is_folder': data = tmp_path
    if case == 'header_only': df.iloc[:0].to_csv(data := tmp_path / 'x.csv', index=False)
    if case == 'no_label': df.drop(columns='y').to_csv(data := tmp_path / 'x.csv', index=False)
    if case == 'no_feature': df.drop(columns='signal').to_csv(data := tmp_path / 'x.csv', index=False)
    if case == 'bad_json': extra = ['--groups', '{oops']
    if case == 'bad_groups': extra = ['--groups', '["signal"]']
    if case == 'unknown_group_column': extra = ['--groups', '{"g": ["signal", "nope"]}']
    if case == 'bad_max_rows': extra = ['--max-rows', '1']
    if case == 'csv_folder_missing': extra = ['--csv', str(tmp_path / 'nowhere' / 'fi.csv')]
    if case == 'csv_is_folder': extra = ['--csv', str(tmp_path)]
    if case == 'plot_format': extra = ['--plot', str(tmp_path / 'fi.xyz')]
    if case == 'unwritable': extra = ['--csv', '/proc/fi.csv']
    capsys.readouterr()
    started = time.time()
    code = main(['importance', str(model), str(data), '--repeats', '1', *extra])
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('fastai-featimp: error:') and 'Traceback' not in err
    assert re.search(message, lines[0]), lines[0]
    assert 'max_rows' not in lines[0] and 'metric object' not in lines[0]   # the CLI's words, not the library's
    if case in ('csv_folder_missing', 'csv_is_folder', 'plot_format', 'unwritable'):
        assert time.time() - started < 2   # checked before the model is even loaded


def test_explain_without_background_says_what_to_pass(exported, capsys):
    assert main(['explain', str(exported / 'model.pkl'), str(exported / 'rows.csv')]) == 2
    assert 'explain needs --background BG.csv' in capsys.readouterr().err


def test_error_through_the_console_script_has_no_traceback(tmp_path):
    res = run_cli('importance', tmp_path / 'missing.pkl', tmp_path / 'missing.csv')
    assert res.returncode == 2 and 'Traceback' not in res.stderr
    assert res.stderr.strip().splitlines() == [f"fastai-featimp: error: model file not found: {tmp_path / 'missing.pkl'}"]


@pytest.mark.parametrize('args, message', [
    (['importance', '{model}', '{tmp}/nope.csv'], 'data file not found'),
    (['importance', '{model}', '{data}', '--max-rows', '1'], '--max-rows must be an integer >= 2, got 1'),
    (['importance', '{model}', '{data}', '--repeats', '0'], '--repeats must be an integer >= 1, got 0'),
    (['importance', '{model}', '{data}', '--seed', '-1'], '--seed must be an integer >= 0, got -1'),
    (['explain', '{model}', '{data}', '--background', '{data}', '--grid', '1'],
     r'--grid must be a whole number >= 2 \(a square grid\) or \(rows, columns\), got 1'),
    (['reliance', '{model}', '{data}', '--flag', 'signal', '--threshold', 'nan'], '--threshold must be a number, got nan'),
    (['pdp', '{model}', '{data}', 'signal', '--grid-resolution', '1'], '--grid-resolution must be an integer >= 2'),
    (['explain', '{model}', '{tmp}/nope.csv', '--background', '{data}'], 'rows file not found'),
    (['explain', '{model}', '{data}', '--background', '{tmp}/nope.csv'], 'background file not found'),
    (['pdp', '{model}', '{tmp}/nope.csv', 'signal'], 'data file not found'),
    (['reliance', '{model}', '{tmp}/nope.csv', '--flag', 'signal'], 'data file not found'),
])
def test_files_and_values_are_checked_before_the_learner_loads(args, message, exported, tmp_path, capsys, monkeypatch):
    import fastai_featimp.cli as cli
    def no_load(path): raise AssertionError('the learner was loaded before the check')
    monkeypatch.setattr(cli, '_load_learner', no_load)
    fill = dict(model=exported / 'model.pkl', data=exported / 'test.csv', tmp=tmp_path)
    assert main([a.format(**fill) for a in args]) == 2
    err = capsys.readouterr().err
    assert re.search(message, err) and len(err.strip().splitlines()) == 1, err


def test_a_typo_in_an_option_shows_the_subcommands_usage(exported, capsys):
    with pytest.raises(SystemExit) as stop:
        main(['explain', str(exported / 'model.pkl'), str(exported / 'rows.csv'), '--bakground', 'x.csv'])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and 'usage: fastai-featimp explain' in err and 'unrecognized arguments: --bakground' in err


def test_a_file_that_is_not_a_pickle_gets_a_clean_message(tmp_path, capsys):
    (tmp_path / 'm.pkl').write_text('not a pickle')
    (tmp_path / 'd.csv').write_text('a\n1\n')
    assert main(['importance', str(tmp_path / 'm.pkl'), str(tmp_path / 'd.csv')]) == 2
    err = capsys.readouterr().err
    assert 'is not a learner saved with learn.export()' in err and 'magic number' not in err.lower()


def test_explain_flag_states_the_check_for_every_tabular_row(exported, capsys):
    assert main(['explain', str(exported / 'model.pkl'), str(exported / 'rows.csv'), '--background',
                 str(exported / 'background.csv'), '--seed', '0', '--flag', 'signal']) == 0
    out = capsys.readouterr().out
    said = re.findall(r'^  (discount this prediction|checked): without the flagged signal, [\d.]+ -> [\d.]+', out, flags=re.M)
    assert len(said) == 3, out


@pytest.fixture(scope='module')
def exported_text(custom_text, notes, tmp_path_factory):
    folder = tmp_path_factory.mktemp('cli_text')
    custom_text.export(folder / 'model.pkl')
    leak = notes[1][notes[1]['has_family_visit']]['text'].head(2).tolist()
    calm = notes[1][~notes[1]['has_family_visit']]['text'].head(1).tolist()
    pd.DataFrame({'text': leak + calm}).to_csv(folder / 'notes.csv', index=False)
    return folder


def test_text_explain_prints_a_readable_table_and_flags(exported_text, tmp_path, capsys):
    model, notes_csv = str(exported_text / 'model.pkl'), str(exported_text / 'notes.csv')
    page = tmp_path / 'notes.html'
    assert main(['explain', model, notes_csv, '--method', 'occlusion', '--flag', 'family visit', '--html', str(page)]) == 0
    out = capsys.readouterr().out
    blocks = out.strip().split('\n\n')
    assert len(blocks) == 3 and all(b.startswith(f'Row {i}:') for i, b in enumerate(blocks))
    for block in blocks:   # the check either way, then at most 5 + 5 units with their offsets
        assert re.search(r'^  (Discount this prediction\.|Checked: )', block, flags=re.M), block
        units = re.findall(r'^\s*"[^"]+"(?: \(\d+\w\w of \d+\))? +(\d+)-(\d+) +[+-]\d+\.\d pts', block, flags=re.M)
        assert 1 <= len(units) <= 10 and all(int(a) < int(b) for a, b in units), block
    assert len(out.splitlines()) < 60
    shown = pd.read_csv(notes_csv)['text'][0]
    first = re.search(r'^\s*"([^"]+)"(?: \(\d+\w\w of \d+\))? +(\d+)-(\d+)', blocks[0], flags=re.M)
    assert shown[int(first.group(2)):int(first.group(3))] == first.group(1)   # the offsets point into the text
    html_page = page.read_text()
    assert [f'Row {i}' in html_page for i in range(3)] == [True] * 3
    assert html_page.count('class="featimp-banner"') + html_page.count('class="featimp-checked"') == 3
    assert 'box-shadow: inset 0 0 0 2px #333' in html_page   # the phrase outlined
    assert main(['explain', model, notes_csv, '--method', 'occlusion', '--all']) == 0
    every = capsys.readouterr().out
    assert len(every.splitlines()) > len(out.splitlines()) and 'strongest each way' not in every


def test_the_options_are_the_methods_declared_parameters():
    """The command line builds its options from the parameters as the methods declare them (cli_options.py, kept as
    source for a fast --help): that file matches the methods, and each option's form, kinds and default come from it."""
    import inspect
    from pathlib import Path
    from fastai_featimp import cli, cli_declare
    from fastai_featimp.common.kinds import kinds
    current = Path(cli_declare.__file__).with_name('cli_options.py').read_text()
    assert current == cli_declare.options_source(), "cli_options.py is stale: run python -m fastai_featimp.cli_declare"
    tabular, text, vision = (next(k for k in kinds() if k.name == n) for n in ('tabular', 'text', 'vision'))
    sig = lambda kind, method: inspect.signature(kind.function(method)).parameters
    actions = {a.dest: a for a in cli._parser()._subparsers._group_actions[0].choices['importance']._actions}
    assert actions['n_repeats'].type is cli._count and actions['n_repeats'].help.startswith('tabular: ')
    assert f"(default: {sig(tabular, 'feature_importance')['n_repeats'].default})" in actions['n_repeats'].help
    assert actions['n_bootstrap'].help.startswith('text, images: ') and \
        f"(default: {sig(text, 'feature_importance')['n_bootstrap'].default})" in actions['n_bootstrap'].help
    explain = {a.dest: a for a in cli._parser()._subparsers._group_actions[0].choices['explain']._actions}
    assert explain['unit'].choices == list(text.function('explain').constraints['unit'].choices)
    assert explain['grid'].type is cli._count and explain['method'].type is str
    pdp = {a.dest: a for a in cli._parser()._subparsers._group_actions[0].choices['pdp']._actions}
    assert pdp['kind'].choices == ['average', 'individual', 'both'] and pdp['kind'].default is None   # the method's own
    assert pdp['kind'].help.endswith(f"(default: {sig(tabular, 'partial_dependence')['kind'].default})")
    assert explain['method'].help.endswith(f"(default: {sig(tabular, 'explain')['method'].default} for tabular, else "
                                           f"{sig(vision, 'explain')['method'].default})")
    # a flag for a parameter no method declares fails when the parser is built
    with pytest.raises(KeyError):
        cli._method_option(cli.argparse.ArgumentParser(), '--nope', 'nope', 'explain')
