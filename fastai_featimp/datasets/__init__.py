"""Data sets shipped inside the package, so demos and notebooks run offline: the real UCI Adult census table,
and a synthetic corpus of ICU notes generated in code with a known answer (`clinical_notes`).

UCI Adult (Census Income): Becker, B. & Kohavi, R. (1996), UCI Machine Learning Repository,
doi:10.24432/C5XW20, licensed CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/). The files
here are the original `adult.data` and `adult.test`, gzip-compressed and otherwise unchanged."""
from __future__ import annotations

import gzip
import hashlib
from importlib import resources
from io import BytesIO

import pandas as pd

from .clinical import CLINICAL_LEAK, CLINICAL_PHRASES, clinical_evidence, clinical_notes
from .marked import MARKED_P, MARKER_COLOUR, marked_images

__all__ = ['adult', 'ADULT_COLUMNS', 'ADULT_CAT_NAMES', 'ADULT_CONT_NAMES', 'ADULT_CITATION', 'clinical_notes',
           'clinical_evidence', 'CLINICAL_LEAK', 'CLINICAL_PHRASES', 'marked_images', 'MARKER_COLOUR', 'MARKED_P']

# fastai's URLs.ADULT_SAMPLE column names
ADULT_COLUMNS = ['age', 'workclass', 'fnlwgt', 'education', 'education-num', 'marital-status', 'occupation',
                 'relationship', 'race', 'sex', 'capital-gain', 'capital-loss', 'hours-per-week', 'native-country',
                 'salary']
# the fastai tabular tutorial's choice of inputs
ADULT_CAT_NAMES = ['workclass', 'education', 'marital-status', 'occupation', 'relationship', 'race']
ADULT_CONT_NAMES = ['age', 'fnlwgt', 'education-num']
ADULT_CITATION = ("UCI Adult data: Becker, B. & Kohavi, R. (1996), UCI Machine Learning Repository, "
                  "doi:10.24432/C5XW20, CC BY 4.0")
_MD5 = {'adult.data': '5d7c39d7b8804f071cdd1f2a7c460872', 'adult.test': '35238206dfdf7f1fe215bbb874adecdc'}


def _read(name: str) -> pd.DataFrame:
    raw = gzip.decompress(resources.files(__name__).joinpath(f'{name}.gz').read_bytes())
    if hashlib.md5(raw).hexdigest() != _MD5[name]:
        raise OSError(f"the bundled {name} is corrupt (md5 mismatch); reinstall fastai_featimp")
    df = pd.read_csv(BytesIO(raw), header=None, names=ADULT_COLUMNS, skipinitialspace=True, na_values='?',
                     comment='|')   # adult.test starts with a '|1x3 Cross validator' line
    for c in df.columns:
        if not pd.api.types.is_numeric_dtype(df[c]): df[c] = df[c].str.strip()
    df['salary'] = df['salary'].str.rstrip('.')   # adult.test writes '<=50K.' and '>50K.'
    return df


def adult() -> tuple:
    "`(train_df, test_df)`: UCI Adult, 32,561 and 16,281 rows, fastai column names, labels '<=50K' and '>50K'."
    return _read('adult.data'), _read('adult.test')
