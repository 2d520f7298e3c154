"The command-line tool: the offline demo, importance of an exported learner, and one-line errors (exit 2)."
import json
import shutil
import subprocess

import pandas as pd
import pytest
import torch

from fastai_featimp.cli import main


def run_cli(*args):
    exe = shutil.which('fastai-featimp')
    assert exe, 'the fastai-featimp console script is not installed (pip install -e .)'
    return subprocess.run([exe, *map(str, args)], capture_output=True, text=True, timeout=600)


def test_demo_end_to_end(tmp_path):
    res = run_cli('demo', '--epochs', 1, '--repeats', 2, '--seed', 0, '--out', tmp_path)
    assert res.returncode == 0, res.stderr
    table = pd.read_csv(tmp_path / 'feature_importance.csv')
    assert sorted(table['Variable']) == sorted(['workclass', 'education', 'marital-status', 'occupation',
                                               'relationship', 'race', 'age', 'fnlwgt', 'education-num'])
    assert table['Importance'].max() > 0.01
    assert (tmp_path / 'feature_importance.png').read_bytes()[:4] == b'\x89PNG'
    assert 'education-num' in res.stdout and 'Traceback' not in res.stderr


def test_help_on_every_command():
    for args in ([], ['demo'], ['importance']):
        res = run_cli(*args, '--help')
        assert res.returncode == 0 and 'usage: fastai-featimp' in res.stdout


@pytest.fixture(scope='module')
def exported(binary_learner, binary_test, tmp_path_factory):
    folder = tmp_path_factory.mktemp('cli')
    binary_learner.export(folder / 'model.pkl')
    binary_test.to_csv(folder / 'test.csv', index=False)
    return folder


def test_importance_command(exported, binary_learner, binary_test, capsys):
    out_csv, out_png = exported / 'fi.csv', exported / 'fi.png'
    code = main(['importance', str(exported / 'model.pkl'), str(exported / 'test.csv'), '--metric', 'accuracy',
                 '--repeats', '2', '--seed', '0', '--groups', json.dumps({'noise_pair': ['noise', 'noise_cat']}),
                 '--csv', str(out_csv), '--plot', str(out_png)])
    assert code == 0
    table = pd.read_csv(out_csv)
    ref = binary_learner.feature_importance(df=pd.read_csv(exported / 'test.csv'), metric='accuracy', n_repeats=2,
                                            seed=0, groups={'noise_pair': ['noise', 'noise_cat']},
                                            show_progress=False)
    pd.testing.assert_series_equal(table['Importance'], ref['Importance'], atol=1e-6)
    assert table['Variable'][0] == 'signal' and 'noise_pair' in set(table['Variable'])
    assert out_png.stat().st_size > 1000
    assert 'accuracy' in capsys.readouterr().out


def test_importance_with_max_rows_and_regression_metric_names(exported, capsys):
    assert main(['importance', str(exported / 'model.pkl'), str(exported / 'test.csv'), '--max-rows', '300',
                 '--repeats', '1', '--seed', '1', '--metric', 'roc_auc']) == 0
    assert 'roc_auc_score on 300 rows' in capsys.readouterr().out


def write(path, text): path.write_text(text); return path


@pytest.mark.parametrize('case, message', [
    ('missing_model', 'model file not found'),
    ('text_model', 'cannot load'),
    ('dict_model', "cannot load .* as a fastai learner.*'dict'"),
    ('missing_data', 'data file not found'),
    ('no_label', "no label column 'y'"),
    ('no_feature', "lacks feature column.*'signal'"),
    ('bad_json', '--groups is not valid JSON'),
    ('bad_groups', '--groups must be a JSON object'),
    ('unknown_group_column', "unknown column 'nope'"),
    ('bad_metric', "unknown metric name 'auc'"),
])
def test_errors_are_one_line_with_status_2(case, message, exported, tmp_path, capsys):
    model, data, extra = exported / 'model.pkl', exported / 'test.csv', []
    df = pd.read_csv(data)
    if case == 'missing_model': model = tmp_path / 'nope.pkl'
    if case == 'text_model': model = write(tmp_path / 'm.pkl', 'not a pickle')
    if case == 'dict_model': torch.save({'a': 1}, model := tmp_path / 'd.pkl')
    if case == 'missing_data': data = tmp_path / 'nope.csv'
    if case == 'no_label': df.drop(columns='y').to_csv(data := tmp_path / 'x.csv', index=False)
    if case == 'no_feature': df.drop(columns='signal').to_csv(data := tmp_path / 'x.csv', index=False)
    if case == 'bad_json': extra = ['--groups', '{oops']
    if case == 'bad_groups': extra = ['--groups', '["signal"]']
    if case == 'unknown_group_column': extra = ['--groups', '{"g": ["signal", "nope"]}']
    if case == 'bad_metric': extra = ['--metric', 'auc']
    capsys.readouterr()
    code = main(['importance', str(model), str(data), '--repeats', '1', *extra])
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('fastai-featimp: error:') and 'Traceback' not in err
    import re
    assert re.search(message, lines[0]), lines[0]


def test_error_through_the_console_script_has_no_traceback(tmp_path):
    res = run_cli('importance', tmp_path / 'missing.pkl', tmp_path / 'missing.csv')
    assert res.returncode == 2 and 'Traceback' not in res.stderr
    assert res.stderr.strip().splitlines()[-1].startswith('fastai-featimp: error: model file not found')
