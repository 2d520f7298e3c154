"""Drawing an explanation of any kind: each function finds how through the kind the explanation carries
(`attrs['kind']`), as that kind's adapter declares it (`common.kinds.picture`)."""
from __future__ import annotations

from .common.kinds import picture

__all__ = ['plot_explanation', 'show_explanation']


def plot_explanation(expl, row:int=0, top:int|None=None, ax=None, **kwargs):
    """One explained row: a waterfall for a tabular row (its `top` columns, default 12), the text with its units shaded
    for a text (the `top` units listed each way, default 5), the image with its map for an image (the `top` regions
    outlined, default 3; several images side by side with `row=[...]`). Returns the Axes."""
    return picture(expl, 'plot')(expl, row=row, ax=ax, **({} if top is None else {'top': top}), **kwargs)


def show_explanation(expl, row:int=0, **kwargs) -> None:
    """One explained text or image in Jupyter as HTML (also when it is not the cell's last line), as plain text
    elsewhere."""
    picture(expl, 'show')(expl, row=row, **kwargs)
