"Progress bars that follow fastai's conventions: fastprogress, and nothing under `learn.no_bar()`."
from __future__ import annotations

from fastai.callback.progress import ProgressCallback
from fastprogress.fastprogress import progress_bar

__all__ = ['progress_for']


def progress_for(learn, show: bool, comment: str = ''):
    "A function wrapping an iterable in a bar, or `iter` when bars are off (show=False or `learn.no_bar()`)."
    if not show or not any(isinstance(cb, ProgressCallback) for cb in getattr(learn, 'cbs', [])):
        return lambda items, total=None: iter(items)
    def wrap(items, total=None):   # `total` for generators, e.g. results arriving from joblib workers
        bar = progress_bar(items, total=total, leave=False)
        bar.comment = comment
        return bar
    return wrap
