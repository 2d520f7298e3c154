"""The report of an image learner: its data are a path column and a label column, its flagged inputs boxes in the
images' own pixels (a marker in a corner, a ruler beside a lesion), its examples the images with the map of their
regions over them, as `show_explanation` shows them."""
from __future__ import annotations

import numbers

from ..core.params import ParameterError
from .recipe import Recipe

__all__ = ['RECIPE']


class VisionRecipe(Recipe):
    removal = "an image's regions are removed (blurred), not taken from other rows"
    unit = 'region'
    data_needs = 'the image path column and the label column'
    importance_columns = ['Variable', 'Importance', 'Std', 'CI_low', 'CI_high', 'p_value', 'Top', 'Left', 'Bottom',
                          'Right']
    n_compare = 2          # images every explanation method explains
    explains_flagged = False   # an image's explanation does not mark flagged boxes yet: the reliance section does

    def columns(self, schema) -> list:
        if schema.path_col is None:
            raise ParameterError('data', "this image learner does not say which column holds its image paths (it was "
                                         "not built from a DataFrame); the report needs a DataFrame with that column")
        return [schema.path_col] + list(schema.y_names)

    def check_flagged(self, run, flagged) -> list:
        "Boxes `(top, left, bottom, right)` in the images' own pixels (the reliance method checks them on each image)."
        boxes = [flagged] if isinstance(flagged, tuple) else list(flagged) if isinstance(flagged, list) else None
        ok = boxes and all(isinstance(b, (tuple, list)) and len(b) == 4 and
                           all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in b) for b in boxes)
        if not ok:
            raise ParameterError('flagged', "`flagged` for an image learner is a box (top, left, bottom, right) in the "
                                            f"images' own pixels, or a list of boxes; got {flagged!r}")
        return [tuple(int(v) for v in b) for b in boxes]

    def importance_how(self, fi) -> str:
        return (f"How much {fi.attrs['metric']} {self.moves(fi)} when one region is blurred in every one of the "
                f"{fi.attrs['n_rows']:,} images (bars: 95% bootstrap interval over images); Top, Left, Bottom and Right "
                "give the region's box in the pixels of the images the model sees.")


RECIPE = VisionRecipe()
