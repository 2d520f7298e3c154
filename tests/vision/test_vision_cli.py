"""Images through the command line: explain image files, a folder or a CSV of paths; importance from a CSV of paths
and labels; reliance on a box; unreadable images as a one-line error."""
import shutil

import pandas as pd
import pytest

from fastai_featimp.cli import main
from fastai_featimp.datasets.marked import marker_box


@pytest.fixture(scope='module')
def exported_images(marked, tmp_path_factory):
    "The marked-image learner exported, and a folder of 12 test images with a CSV of their paths (relative) and labels."
    learn, test = marked
    folder = tmp_path_factory.mktemp('cli_images')
    learn.export(folder / 'model.pkl')
    images = folder / 'images'
    images.mkdir()
    rows = pd.concat([test[test['has_marker']].head(8), test[~test['has_marker']].head(4)])
    for p in rows['path']: shutil.copy(p, images)
    pd.DataFrame({'path': [p.split('/')[-1] for p in rows['path']], 'label': rows['label']}).to_csv(
        images / 'labels.csv', index=False)
    return folder, rows


def test_explain_image_files_a_folder_and_a_box(exported_images, tmp_path, capsys):
    folder, rows = exported_images
    model, files = str(folder / 'model.pkl'), [str(folder / 'images' / p.split('/')[-1]) for p in rows['path'][:2]]
    box = ','.join(map(str, marker_box(32)))
    out = dict(csv=tmp_path / 'e.csv', plot=tmp_path / 'e.png', html=tmp_path / 'e.html')
    assert main(['explain', model, *files, '--method', 'occlusion', '--grid', '3', '--box', box, '--quiet',
                 '--csv', str(out['csv']), '--plot', str(out['plot']), '--html', str(out['html'])]) == 0
    said = capsys.readouterr().out
    assert said.count('image ') == 2 and 'r0c0' in said
    assert said.count('discount this prediction') + said.count('checked: without') == 2
    table = pd.read_csv(out['csv'])
    assert list(table.columns[:6]) == ['row', 'Variable', 'Top', 'Left', 'Bottom', 'Right'] and len(table) == 18
    assert out['plot'].read_bytes()[:4] == b'\x89PNG'
    page = out['html'].read_text()
    assert page.count('<figure class="featimp-image">') == 2 and 'data:image/png;base64,' in page
    # a folder: every image in it, in name order
    assert main(['explain', model, str(folder / 'images'), '--method', 'occlusion', '--grid', '2', '--quiet',
                 '--csv', str(out['csv'])]) == 0
    assert pd.read_csv(out['csv'])['row'].nunique() == len(rows)


def test_importance_and_reliance_from_a_csv_of_paths(exported_images, capsys):
    folder, rows = exported_images
    model, labels = str(folder / 'model.pkl'), str(folder / 'images' / 'labels.csv')   # paths relative to the CSV
    assert main(['importance', model, labels, '--grid', '4', '--bootstrap', '20', '--seed', '0', '--quiet']) == 0
    table = capsys.readouterr().out.strip().splitlines()
    assert table[0].split()[0] == 'Variable' and table[1].split()[0] == 'r0c0'   # the marker's corner first
    assert main(['reliance', model, labels, '--box', ','.join(map(str, marker_box(32))), '--summary', '--quiet']) == 0
    said = capsys.readouterr().out
    assert 'rows rely on' in said and 'accuracy' in said


def test_bad_image_inputs_are_one_line_errors(exported_images, tmp_path, capsys):
    folder, _ = exported_images
    model = str(folder / 'model.pkl')
    note = tmp_path / 'note.png'
    note.write_text('not an image')
    assert main(['explain', model, str(note), '--quiet']) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'cannot be read as an image' in err[0] and 'Traceback' not in err[0]
    empty = tmp_path / 'empty'
    empty.mkdir()
    assert main(['explain', model, str(empty), '--quiet']) == 2
    assert 'no image files' in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:   # argparse's own usage error
        main(['reliance', model, str(folder / 'images'), '--box', '1,2,3'])
    assert info.value.code == 2 and 'top,left,bottom,right' in capsys.readouterr().err
    assert main(['reliance', model, str(folder / 'images'), '--box', '0,0,40,8', '--quiet']) == 2
    assert 'reaches outside image 0' in capsys.readouterr().err


@pytest.mark.slow
def test_the_installed_console_script_explains_a_folder_of_images(exported_images, tmp_path):
    "The door a shell user walks through: the installed command, in a fresh process."
    import os
    import subprocess
    from pathlib import Path
    folder, rows = exported_images
    exe = shutil.which('fastai-featimp')
    assert exe, 'the fastai-featimp console script is not installed (pip install -e .)'
    tests = str(Path(__file__).resolve().parents[1])   # the test model's class (helpers.SmallCNN) must be importable
    env = dict(os.environ, PYTHONPATH=tests + os.pathsep + os.environ.get('PYTHONPATH', ''))
    res = subprocess.run([exe, 'explain', str(folder / 'model.pkl'), str(folder / 'images'), '--method', 'occlusion',
                          '--grid', '2', '--box', '2,2,7,7', '--csv', str(tmp_path / 'e.csv')],
                         capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.count('image ') == len(rows) and 'Traceback' not in res.stderr
    assert pd.read_csv(tmp_path / 'e.csv')['row'].nunique() == len(rows)
