"The bundled UCI Adult copy: complete, fastai's column names, clean labels."
import pandas as pd

from fastai_featimp.datasets import ADULT_CAT_NAMES, ADULT_COLUMNS, ADULT_CONT_NAMES, adult


def test_adult_rows_columns_and_labels():
    train, test = adult()
    assert train.shape == (32561, 15) and test.shape == (16281, 15)
    assert list(train.columns) == list(test.columns) == ADULT_COLUMNS
    assert set(ADULT_CAT_NAMES + ADULT_CONT_NAMES) < set(ADULT_COLUMNS)
    assert set(train['salary']) == set(test['salary']) == {'<=50K', '>50K'}
    assert train['salary'].value_counts()['>50K'] == 7841 and test['salary'].value_counts()['>50K'] == 3846


def test_missing_values_and_spaces():
    train, test = adult()
    assert train['workclass'].isna().sum() == 1836 and test['occupation'].isna().sum() == 966
    for df in (train, test):
        for c in df.columns:
            if not pd.api.types.is_numeric_dtype(df[c]):
                values = df[c].dropna()
                assert not values.str.startswith(' ').any() and not values.str.endswith(' ').any()
                assert not (values == '?').any()
    assert pd.api.types.is_integer_dtype(train['age']) and pd.api.types.is_integer_dtype(test['education-num'])
    assert train.loc[0, 'workclass'] == 'State-gov' and test.loc[0, 'age'] == 25


def test_built_wheel_contains_the_data(tmp_path):
    "A real wheel (not an editable install) must carry the compressed files and their attribution."
    import subprocess, sys, zipfile
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', str(root), '--no-deps', '--no-build-isolation', '-q',
                    '-w', str(tmp_path)], check=True, timeout=300, cwd=tmp_path)
    wheel, = tmp_path.glob('fastai_featimp-*.whl')
    names = set(zipfile.ZipFile(wheel).namelist())
    for f in ['adult.data.gz', 'adult.test.gz', 'README.md']:
        assert f'fastai_featimp/datasets/{f}' in names
    assert any(n.endswith('entry_points.txt') for n in names)
