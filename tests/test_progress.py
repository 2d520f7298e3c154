"""Progress bars only where a person watches (a terminal, a notebook); where output goes to a file or a pipe, one
line at the end instead of every intermediate state; show_progress=False and learn.no_bar() still silence it."""
import io
import re

import pytest

Q = dict(n_repeats=1, seed=0)


class Terminal(io.StringIO):
    def isatty(self): return True


def test_one_line_at_the_end_when_nobody_watches(binary_learner, binary_test, capsys):
    binary_learner.feature_importance(df=binary_test, **Q)
    out = capsys.readouterr().out   # pytest's capture: not a terminal, like `python script.py > log.txt`
    assert '\r' not in out and '%' not in out and len(out.splitlines()) == 1, out[:500]
    assert re.fullmatch(r'permutation importance.*: (\d+) of \1 in \d+\.\d s\n', out), out
    with binary_learner.no_bar(): binary_learner.feature_importance(df=binary_test, **Q)
    binary_learner.feature_importance(df=binary_test, show_progress=False, **Q)
    assert capsys.readouterr().out == ''


def test_a_bar_in_a_terminal(binary_learner, binary_test, monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr('sys.stdout', terminal)
    binary_learner.feature_importance(df=binary_test, **Q)
    drawn = terminal.getvalue()
    assert '%' in drawn and '|' in drawn and not re.search(r' of \d+ in \d', drawn)   # fastprogress's bar
    terminal.truncate(0)
    with binary_learner.no_bar(): binary_learner.feature_importance(df=binary_test, **Q)
    assert terminal.getvalue().strip('\x00') == ''


def test_a_bar_in_a_notebook(binary_learner, binary_test, monkeypatch):
    import IPython
    class Kernel: kernel = object()
    monkeypatch.setattr(IPython, 'get_ipython', lambda: Kernel())
    from fastai_featimp.common.progress import watched
    assert watched()
    monkeypatch.setattr(IPython, 'get_ipython', lambda: None)
    assert not watched()


def test_an_interrupted_run_says_so_in_its_line(binary_learner, binary_test, capsys):
    from fastai_featimp.common.progress import counting
    with pytest.raises(KeyboardInterrupt):
        with counting(binary_learner, True, 10, 'work') as c:
            c.add(3); raise KeyboardInterrupt
    assert re.fullmatch(r'work: interrupted after 3 of 10 in \d+\.\d s\n', capsys.readouterr().out)
