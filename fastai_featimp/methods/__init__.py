"""The computations behind the Learner methods, one module per capability. Each imports `core`, `common`
and one adapter (`tabular` or `text`), never another method module; `learner.py` attaches them."""
