"Every notebook in nbs/ is documentation that must run: execute each in a real Jupyter kernel."
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NBS = sorted((Path(__file__).resolve().parents[1] / 'nbs').glob('*.ipynb'))


def test_there_are_notebooks():
    assert NBS, 'nbs/ holds no notebooks'


@pytest.mark.parametrize('path', NBS, ids=[p.name for p in NBS])
def test_notebook_runs(path):
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, kernel_name='python3', timeout=600, resources={'metadata': {'path': str(path.parent)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == 'code' for o in c.outputs if o.output_type == 'error']
    assert not errors
