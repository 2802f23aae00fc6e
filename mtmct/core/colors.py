"""One colour per id, the same in the saved videos, the dashboard's frames and its pages."""

from __future__ import annotations

import colorsys

GOLDEN_RATIO = 0.618033988749895


def id_color(key: int) -> tuple[int, int, int]:
    """A stable, well-spread BGR colour for an id (golden-ratio hue steps, so neighbouring ids differ)."""
    r, g, b = colorsys.hsv_to_rgb(key * GOLDEN_RATIO % 1.0, 200 / 255, 1.0)
    return round(b * 255), round(g * 255), round(r * 255)


def id_color_hex(key: int) -> str:
    """:func:`id_color` as a CSS ``#rrggbb`` string for web pages."""
    b, g, r = id_color(key)
    return f"#{r:02x}{g:02x}{b:02x}"
