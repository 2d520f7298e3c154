"""Explain fastai models: `import fastai_featimp` adds `feature_importance`, `explain`, `partial_dependence`,
`feature_dependence`, `drop_column_importance` and their plots to fastai's `Learner` (see `learner.py`).
The same computations are free functions here, taking the learner first."""
import sys as _sys
from pathlib import Path as _Path

__version__ = '0.2.0'

# The console script `fastai-featimp` imports this package before its argument parser runs. It loads fastai
# itself once a command needs it, so that `--help` and `--version` answer at once; everywhere else,
# importing the package attaches the Learner methods straight away.
_CONSOLE_SCRIPT = bool(_sys.argv) and _Path(str(_sys.argv[0])).stem == 'fastai-featimp'

if not _CONSOLE_SCRIPT:
    from .api import *  # noqa: F401,F403
    from .api import __all__  # noqa: F401  (the public names, for `from fastai_featimp import *`)


def __getattr__(name):
    "Public names on demand inside the console script (see above)."
    from . import api
    try: return getattr(api, name)
    except AttributeError: raise AttributeError(f"module 'fastai_featimp' has no attribute {name!r}") from None
