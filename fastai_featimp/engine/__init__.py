"""The engine: every capability that explains a model by removing units of its inputs, written once on a kind's
adapter (`engine/protocol.py`). It knows no kind of data: a kind (text, images, a user's own) is one adapter that
says what its units are, how a unit is removed, and how its inputs reach the model."""
