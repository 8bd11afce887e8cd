"""Colours as a reader sees them: sRGB from a PDF's colour values, CIE L*a*b*, and how far text
stands out from what lies beneath it."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

#: CIE76 colour difference below which text does not stand out from what lies beneath it:
#: a 0.93 grey on white differs by 6.2 and is not read; the AI Scientist's 0.9 grey watermark
#: differs by 8.9 and is.
MIN_CONTRAST = 7.5
WHITE = (1.0, 1.0, 1.0)


@lru_cache(maxsize=1024)
def to_rgb(color) -> tuple[float, float, float]:
    """sRGB in [0, 1] of a colour as pymupdf gives it: an sRGB integer, or grey, RGB or CMYK values."""
    if color is None:
        return (0.0, 0.0, 0.0)
    if isinstance(color, int):
        return ((color >> 16) / 255, ((color >> 8) & 255) / 255, (color & 255) / 255)
    values = tuple(float(v) for v in color)
    if len(values) == 1:
        return (values[0],) * 3
    if len(values) == 4:
        c, m, y, k = values
        return ((1 - c) * (1 - k), (1 - m) * (1 - k), (1 - y) * (1 - k))
    return values[:3] if len(values) >= 3 else (0.0, 0.0, 0.0)


def lab(rgb: np.ndarray) -> np.ndarray:
    """CIE L*a*b* (D65) of sRGB values in [0, 1], over the last axis."""
    rgb = np.asarray(rgb, dtype=float)
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = linear @ np.array([[0.4124, 0.2126, 0.0193], [0.3576, 0.7152, 0.1192], [0.1805, 0.0722, 0.9505]])
    xyz /= np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


@lru_cache(maxsize=4096)
def contrast(text: tuple[float, ...], opacity: float, backdrop: tuple[float, ...]) -> float:
    """How far text of this colour and opacity stands out from the backdrop (CIE76 ΔE)."""
    seen = tuple(opacity * t + (1 - opacity) * b for t, b in zip(text, backdrop))
    return float(np.linalg.norm(lab(seen) - lab(backdrop)))
