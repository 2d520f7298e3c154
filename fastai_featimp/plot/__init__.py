"""Drawing only: each function takes a result and `ax=`, imports matplotlib when called, and returns what it
drew. No fastai and no computing here."""
