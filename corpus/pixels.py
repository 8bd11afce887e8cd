"""Where the cheap checks cannot decide, the rendered page does.

Glyphs with nothing drawn over them but an unknown backdrop beneath (an image, a shading, a
shaped paint) are judged from one rendering: a glyph is seen when the pixels of its box that do
not have its colour differ from it. Glyphs under a translucent or shaped paint, an image or a
shading are judged by rendering the region twice, with them and without them (on a copy of the
page where they are redacted): a glyph whose pixels do not change is not seen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pymupdf

from corpus.colour import MIN_CONTRAST, lab

if TYPE_CHECKING:
    from corpus.visibility import Run

#: Verdicts the cheap checks leave: the two renderings, with and without the glyphs, decide /
#: one rendering of the glyphs over their unknown backdrop decides.
UNDECIDED = "?"
ON_UNKNOWN_BACKDROP = "?backdrop"
HIDDEN = "unseen_when_rendered"
#: Rendered glyphs are this many pixels high at least, at most this zoom and this many pixels.
RENDER_PIXELS = 16
MAX_ZOOM = 4.0
MAX_PIXELS = 4_000_000
#: A rendered glyph is visible when this share of its box (and at least MIN_INK_PIXELS) changes.
MIN_INK_SHARE = 0.02
MIN_INK_PIXELS = 3
#: A rendered pixel within this colour difference of a glyph's colour is its ink.
INK_MATCH = 10.0


def judge_backdrops(page: pymupdf.Page, runs: list[Run]) -> None:
    """Glyphs over an unknown backdrop with nothing over them: one rendering of the region; a
    glyph is seen when the pixels beside its ink (those of its box that do not have its colour)
    differ from its colour."""
    clip, zoom = _region(page, runs, ON_UNKNOWN_BACKDROP)
    if clip is None:
        return
    pixels = _pixels(page, pymupdf.Matrix(zoom, zoom), clip)
    for run in runs:
        colour = lab(np.array(run.color))
        for position, glyph in enumerate(run.glyphs):
            if run.verdicts[position] != ON_UNKNOWN_BACKDROP:
                continue
            box = lab(_box_pixels(pixels, glyph[3], clip, zoom) / 255.0)
            distance = np.linalg.norm(box - colour, axis=-1).ravel()
            beside = distance[distance >= INK_MATCH]
            seen = len(beside) and np.median(beside) >= MIN_CONTRAST
            run.verdicts[position] = None if seen else HIDDEN


def judge_by_removal(page: pymupdf.Page, runs: list[Run]) -> None:
    """Render the region of the undecided glyphs with and without them (on a copy of the page
    where they are redacted); a glyph whose pixels do not change is not seen."""
    clip, zoom = _region(page, runs, UNDECIDED)
    if clip is None:
        return
    matrix = pymupdf.Matrix(zoom, zoom)
    with pymupdf.open() as scratch:
        scratch.insert_pdf(page.parent, from_page=page.number, to_page=page.number)
        copy = scratch[0]
        seen = _pixels(copy, matrix, clip)  # first, so that its images are decoded once for both
        _redact(copy, _bands(runs))
        without = _pixels(copy, matrix, clip)
    changed = _changed(seen, without)
    # Changed pixels in any box in constant time: a summed-area table.
    table = np.pad(changed.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    for run in runs:
        for position, glyph in enumerate(run.glyphs):
            if run.verdicts[position] != UNDECIDED:
                continue
            x0, y0, x1, y1 = _pixel_box(glyph[3], clip, zoom, changed.shape)
            ink = table[y1, x1] - table[y0, x1] - table[y1, x0] + table[y0, x0]
            if ink < max(MIN_INK_PIXELS, MIN_INK_SHARE * (x1 - x0) * (y1 - y0)):
                run.verdicts[position] = HIDDEN


def _region(page: pymupdf.Page, runs: list[Run], verdict: str) -> tuple[pymupdf.Rect | None, float]:
    """The box around the glyphs with this verdict, and the zoom that renders them legibly."""
    boxes = np.array([glyph[3] for run in runs for glyph, v in zip(run.glyphs, run.verdicts) if v == verdict])
    clip = pymupdf.Rect(*boxes[:, :2].min(axis=0), *boxes[:, 2:].max(axis=0))
    clip = (clip + (-1, -1, 1, 1)) & page.rect
    if clip.is_empty:
        return None, 1.0
    zoom = min(MAX_ZOOM, max(1.0, RENDER_PIXELS / max(min(run.size for run in runs), 0.1)))
    return clip, max(1.0, min(zoom, (MAX_PIXELS / abs(clip)) ** 0.5))


def _pixel_box(bbox, clip: pymupdf.Rect, zoom: float, shape) -> tuple[int, int, int, int]:
    height, width = shape[:2]
    x0, y0, x1, y1 = (int(round((v - o) * zoom)) for v, o in zip(bbox, (clip.x0, clip.y0) * 2))
    x0, x1 = sorted((min(max(x0, 0), width), min(max(x1, 0), width)))
    y0, y1 = sorted((min(max(y0, 0), height), min(max(y1, 0), height)))
    return x0, y0, x1, y1


def _box_pixels(pixels: np.ndarray, bbox, clip: pymupdf.Rect, zoom: float) -> np.ndarray:
    x0, y0, x1, y1 = _pixel_box(bbox, clip, zoom, pixels.shape)
    return pixels[y0:max(y1, y0 + 1), x0:max(x1, x0 + 1)]


def _redact(page: pymupdf.Page, rects: list[pymupdf.Rect]) -> None:
    """Remove the text under ``rects`` and nothing else. MuPDF's own calls: pymupdf's
    add_redact_annot bookkeeps every annotation of the page on each call (quadratic)."""
    pdf_page = page._pdf_page()
    for rect in rects:
        annot = pymupdf.mupdf.pdf_create_annot(pdf_page, pymupdf.mupdf.PDF_ANNOT_REDACT)
        pymupdf.mupdf.pdf_set_annot_rect(annot, pymupdf.mupdf.FzRect(*rect))
    options = pymupdf.mupdf.PdfRedactOptions()
    options.black_boxes = 0
    options.text = pymupdf.PDF_REDACT_TEXT_REMOVE
    options.image_method = pymupdf.PDF_REDACT_IMAGE_NONE
    options.line_art = pymupdf.PDF_REDACT_LINE_ART_NONE
    pymupdf.mupdf.pdf_redact_page(pdf_page.doc(), pdf_page, options)


def _bands(runs: list[Run]) -> list[pymupdf.Rect]:
    """Thin rectangles through the middles of the undecided glyphs, one per stretch of them on
    one line: redacting them removes exactly those glyphs (each redaction is costly)."""
    bands = []
    for run in runs:
        start = previous = None
        for glyph in (g for g, verdict in zip(run.glyphs, run.verdicts) if verdict == UNDECIDED):
            x0, y0, x1, y1 = glyph[3]
            middle = ((x0 + x1) / 2, (y0 + y1) / 2)
            if start is not None and abs(middle[1] - start[1]) < 0.05 and middle[0] >= previous[0]:
                previous = middle
                continue
            if start is not None:
                bands.append(pymupdf.Rect(start[0], start[1] - 0.05, previous[0] + 0.05, start[1] + 0.05))
            start = previous = middle
        if start is not None:
            bands.append(pymupdf.Rect(start[0], start[1] - 0.05, previous[0] + 0.05, start[1] + 0.05))
    return bands


def _pixels(page: pymupdf.Page, matrix: pymupdf.Matrix, clip: pymupdf.Rect) -> np.ndarray:
    pix = page.get_pixmap(matrix=matrix, clip=clip, alpha=False, colorspace=pymupdf.csRGB)
    return np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.height, pix.width, pix.n)[..., :3]


def _changed(seen: np.ndarray, without: np.ndarray) -> np.ndarray:
    """Pixels where the glyphs make a visible difference (ΔE at least MIN_CONTRAST)."""
    height, width = min(seen.shape[0], without.shape[0]), min(seen.shape[1], without.shape[1])
    seen, without = seen[:height, :width], without[:height, :width]
    changed = np.zeros((height, width), dtype=np.int32)
    candidates = np.abs(seen.astype(np.int16) - without).max(axis=-1) > 2
    if candidates.any():
        delta = np.linalg.norm(lab(seen[candidates] / 255.0) - lab(without[candidates] / 255.0), axis=-1)
        changed[candidates] = delta >= MIN_CONTRAST
    return changed
