"""Progress bars that follow fastai's conventions: fastprogress, and nothing under `learn.no_bar()`; drawn only where
a person watches (a notebook, or a terminal), one line at the end where output goes to a file or a pipe (a bar there
writes every intermediate state: thousands of characters per call)."""
from __future__ import annotations

import sys
import time
from contextlib import contextmanager

from fastai.callback.progress import ProgressCallback
from fastprogress.fastprogress import progress_bar

__all__ = ['counting', 'bars_on', 'watched']


def watched() -> bool:
    "A person watches the bar: in a notebook's kernel, or with standard output (where fastprogress draws) a terminal."
    try:
        from IPython import get_ipython
        if getattr(get_ipython(), 'kernel', None) is not None: return True
    except ImportError: pass
    isatty = getattr(sys.stdout, 'isatty', None)
    try: return bool(isatty and isatty())
    except ValueError: return False   # a closed stream


def bars_on(learn, show: bool) -> bool:
    "Bars are drawn when asked for and the learner's own bar is on (not inside `learn.no_bar()`)."
    return bool(show) and any(isinstance(cb, ProgressCallback) for cb in getattr(learn, 'cbs', []))


class _Counter:
    "Counts finished pieces of work on a bar (or on nothing when bars are off)."
    def __init__(self, bar, total: int): self.bar, self.total, self.count = bar, total, 0

    def line(self, comment: str, started: float, interrupted: bool = False) -> None:
        "The one line written in place of a bar nobody watches."
        what = comment or 'done'
        state = f"interrupted after {min(self.count, self.total)} of {self.total}" if interrupted else f"{self.total} of {self.total}"
        print(f"{what}: {state} in {time.perf_counter() - started:.1f} s", file=sys.stdout, flush=True)

    def add(self, k: int = 1) -> None:
        self.count += k
        if self.bar is not None: self.bar.update(min(self.count, self.total))

    def finish(self) -> None:
        "Bring the bar to its end (it closes itself there), whatever was counted."
        if self.bar is not None and self.bar.last_v is not None: self.bar.update(self.total)


@contextmanager
def counting(learn, show: bool, total: int, comment: str = ''):
    """A counter of `total` pieces of work (forward passes, coalitions, retrainings) on one bar: `counter.add(k)` as
    pieces finish; the bar is finished on exit, or marked interrupted by an error or Ctrl-C."""
    bar, line, started = None, False, time.perf_counter()
    if bars_on(learn, show) and total > 0:
        if watched():
            bar = progress_bar(range(total), total=total, leave=False)
            bar.comment = comment
            bar.update(0)
        else: line = True
    counter = _Counter(bar, total)
    try: yield counter
    except BaseException:
        if bar is not None and bar.last_v is not None: bar.on_interrupt()
        if line: counter.line(comment, started, interrupted=True)
        raise
    counter.finish()
    if line: counter.line(comment, started)
