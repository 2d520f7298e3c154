"""Words for what a result explains, shared by the results and every plot (plain Python)."""

__all__ = ['quantity']


def quantity(output: str, target) -> str:
    "`P(yes)` for a probability, `logit(yes)` for a raw classifier output, the target's name for a regression value."
    return {'probability': f'P({target})', 'raw': f'logit({target})'}.get(output, str(target))
