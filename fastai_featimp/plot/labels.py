"Words for what a result explains, shared by every plot."

__all__ = ['quantity', 'text_colour_on']

from ..core.words import quantity  # noqa: E402  (one wording, shared with the results)


def text_colour_on(rgba) -> str:
    "'black' or 'white', whichever reads on a cell of colour `rgba` (by its relative luminance, WCAG's formula)."
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgba[:3]]
    luminance = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    return 'black' if luminance > 0.179 else 'white'
