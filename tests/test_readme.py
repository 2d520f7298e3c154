"""Every Python example of README.md runs as written: the blocks are extracted and run in order, in a fresh
interpreter, as a new user pasting them would (with a non-interactive plotting backend, as in a script)."""
import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / 'README.md'


def python_blocks(text: str) -> list:
    return re.findall(r'^```python\n(.*?)^```', text, flags=re.S | re.M)


def test_readme_has_examples():
    blocks = python_blocks(README.read_text(encoding='utf-8'))
    assert len(blocks) >= 5 and 'import fastai_featimp' in blocks[0]


def test_every_python_example_runs_as_written(tmp_path):
    script = '\n\n'.join(python_blocks(README.read_text(encoding='utf-8')))
    (tmp_path / 'readme_examples.py').write_text(script)
    env = dict(os.environ, MPLBACKEND='Agg')
    res = subprocess.run([sys.executable, 'readme_examples.py'], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=1500)
    assert res.returncode == 0, res.stderr[-3000:]
