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
