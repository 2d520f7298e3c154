"Progress bars that follow fastai's conventions: fastprogress, and nothing under `learn.no_bar()`."
from __future__ import annotations

from contextlib import contextmanager

from fastai.callback.progress import ProgressCallback
from fastprogress.fastprogress import progress_bar

__all__ = ['counting', 'bars_on']


def bars_on(learn, show: bool) -> bool:
    "Bars are drawn when asked for and the learner's own bar is on (not inside `learn.no_bar()`)."
    return bool(show) and any(isinstance(cb, ProgressCallback) for cb in getattr(learn, 'cbs', []))


class _Counter:
    "Counts finished pieces of work on a bar (or on nothing when bars are off)."
    def __init__(self, bar, total: int): self.bar, self.total, self.count = bar, total, 0

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
    bar = None
    if bars_on(learn, show) and total > 0:
        bar = progress_bar(range(total), total=total, leave=False)
        bar.comment = comment
        bar.update(0)
    counter = _Counter(bar, total)
    try: yield counter
    except BaseException:
        if bar is not None and bar.last_v is not None: bar.on_interrupt()
        raise
    counter.finish()
