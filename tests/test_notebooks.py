"Every notebook in nbs/ is documentation that must run: execute each in a real Jupyter kernel, and look at what it shows."
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NBS = sorted((Path(__file__).resolve().parents[1] / 'nbs').glob('*.ipynb'))


def test_there_are_notebooks():
    assert NBS, 'nbs/ holds no notebooks'


@pytest.mark.parametrize('path', NBS, ids=[p.name for p in NBS])
def test_notebook_runs_and_draws(path):
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, kernel_name='python3', timeout=900, resources={'metadata': {'path': str(path.parent)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == 'code' for o in c.outputs]
    errors = [o for o in outputs if o.output_type == 'error']
    assert not errors, [f"{e.ename}: {e.evalue}" for e in errors]
    tracebacks = [o for o in outputs if o.output_type == 'stream' and o.name == 'stderr' and 'Traceback' in o.text]
    assert not tracebacks
    figures = [o for o in outputs if o.output_type in ('display_data', 'execute_result') and
               ('image/png' in o.get('data', {}) or 'text/html' in o.get('data', {}) and '<svg' in o['data']['text/html'])]
    assert figures, f'{path.name} shows no figure'
