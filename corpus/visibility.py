"""Which glyphs of a PDF page a reader of the rendered page can see.

A glyph is hidden when a person looking at the page cannot read it: its render mode is invisible
or its opacity (near) zero; its colour is close to whatever lies beneath it (the page, a box, a
shading, an image); an opaque shape or image drawn later covers it; it lies outside the visible
page; or it is too small to read, through its font size or the scaling in its text matrix.

Most pages need one look: ``plainly_visible`` finds, from the paint log and the structured text
alone, that nothing is painted under or over the text but thin lines and that every span is
plainly drawn. The others are read glyph by glyph: pymupdf's text trace gives each run's render
mode, colour, opacity, size and place in the paint order; the paint directly beneath and above
each glyph comes from ``corpus.page_paint`` (opaque rectangles and opaque images decide; colours
are compared in ``corpus.colour``). What that cannot decide, the pixels do (``corpus.pixels``).
Clipped text is found by the reader (``corpus.pdf_reader``): MuPDF leaves out glyphs a clip path
removes entirely, so a glyph of the trace missing from the extraction is clipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pymupdf

from corpus.colour import MIN_CONTRAST, WHITE, contrast, to_rgb
from corpus.page_paint import PAINTS, PagePaint, Paint, contains, intersects, overlap, overlaps
from corpus.pixels import ON_UNKNOWN_BACKDROP, UNDECIDED, judge_backdrops, judge_by_removal

#: Glyphs smaller than this (points, after the text matrix and the page transform) cannot be read.
TINY_POINTS = 4.0
#: Letters whose ink is lower than this share of their size are squashed flat (a lowercase
#: run's ink is half its size at least).
FLAT_SHARE = 0.25
#: Below this opacity a glyph is transparent, whatever its colour.
MIN_OPACITY = 0.05
#: A glyph whose origins step forward less than this share of its size is squeezed together
#: (character spacing or horizontal scaling) into an unreadable smear.
MIN_ADVANCE_SHARE = 0.15
MIN_SHARE_ON_PAGE = 0.5
#: Opaque paint over this share of a glyph's middle hides it; over less, the glyph is read.
MOSTLY = 0.5
#: A stroke thinner than this share of a glyph's size neither hides it nor is its backdrop.
THIN_LINE = 0.5
#: Paint thinner than this (points) is a line: a rule or a grid line hides no text.
THIN_PAINT = 1.5
SPACE = {0x20, 0xA0, 0x09, 0x0A, 0x0D, 0x3000}

#: A glyph as the text trace gives it: (unicode, glyph id, origin, bbox), page coordinates.
Glyph = tuple


def char(glyph: Glyph) -> str:
    return chr(glyph[0])


@dataclass
class Run:
    """Glyphs drawn by one text operation, with their verdicts (None: visible)."""

    seqno: int
    size: float
    color: tuple[float, float, float]
    opacity: float
    bbox: tuple[float, float, float, float]
    glyphs: list[Glyph]
    #: 0 fill, 1 stroke, 2 fill and stroke, 3 invisible.
    render_mode: int = 0
    #: Per glyph: None (visible), why it is hidden, or a verdict left to the pixels.
    verdicts: list[str | None] = field(default_factory=list)
    horizontal: bool = True

    @property
    def middle(self) -> tuple[float, float, float, float]:
        """A box holding the middles (``core``) of all the run's glyphs."""
        x0, y0, x1, y1 = self.bbox
        if not self.horizontal:
            return self.bbox
        dy = (y1 - y0) * 0.3
        return (x0, y0 + dy, x1, y1 - dy)


def core(bbox) -> tuple[float, float, float, float]:
    """The middle of a glyph box: what must stay visible for the glyph to be read (a rule
    or an underline touching the box's edge covers none of it)."""
    x0, y0, x1, y1 = bbox
    dx, dy = (x1 - x0) * 0.3, (y1 - y0) * 0.3
    return (x0 + dx, y0 + dy, x1 - dx, y1 - dy)


def glyph_key(char: str, origin: tuple[float, float]) -> tuple[str, int, int]:
    """How a trace glyph and an extracted character are matched: same character, same origin."""
    return char, round(origin[0] * 10), round(origin[1] * 10)


def share_inside(bbox, area: pymupdf.Rect) -> float:
    rect = pymupdf.Rect(bbox)
    if rect.is_empty:
        return 1.0 if (rect.tl + rect.br) / 2 in area else 0.0
    return abs(rect & area) / abs(rect)


def plainly_visible(page: pymupdf.Page, log: list, content: dict) -> bool:
    """Whether a page needs no closer look: its text drawn plainly, in a readable size and a
    colour that stands out on white, nothing painted under or over it but thin lines, nothing
    off the page, clipped away or invisible. From the paint log and the structured text only,
    which costs less than the glyph-by-glyph trace that ``PageVisibility`` reads."""
    if any(kind not in PAINTS and kind != "fill-text" for kind, _ in log):
        return False  # invisible or stroked text
    texts = np.array([rect for kind, rect in log if kind == "fill-text"], dtype=float).reshape(-1, 4)
    texts = texts[(texts[:, 2] - texts[:, 0]) * (texts[:, 3] - texts[:, 1]) > 0]
    area = page.rect
    if len(texts) and ((texts[:, :2] < (area.x0, area.y0)).any() or (texts[:, 2:] > (area.x1, area.y1)).any()):
        return False
    paints = np.array([rect for kind, rect in log if kind in PAINTS], dtype=float).reshape(-1, 4)
    paints = paints[np.minimum(paints[:, 2] - paints[:, 0], paints[:, 3] - paints[:, 1]) >= THIN_PAINT]
    if len(paints) and len(texts) and overlaps(texts, paints).any():
        return False
    spans = [span for block in content["blocks"] for line in block["lines"] for span in line["spans"]
             if span["text"].strip()]
    for span in spans:
        x0, _, x1, _ = span["bbox"]
        letters = len(span["text"].strip())
        if (span["alpha"] < 255 or span["size"] < TINY_POINTS
                or contrast(to_rgb(span["color"]), 1.0, WHITE) < MIN_CONTRAST
                or letters >= 4 and x1 - x0 < MIN_ADVANCE_SHARE * span["size"] * (letters - 1)):
            return False
    if not len(texts):
        return True
    # Nothing clipped away: every text operation left text where it drew (a wholly clipped one
    # leaves none), and no clip cuts through one (each lies wholly inside or outside each clip).
    boxes = np.array([span["bbox"] for span in spans], dtype=float).reshape(-1, 4)
    if not len(boxes) or not overlaps(texts, boxes).any(axis=1).all():
        return False
    clips = np.array([item["scissor"] for item in page.get_cdrawings(extended=True) if item["type"] == "clip"],
                     dtype=float).reshape(-1, 4)
    inside = ((texts[:, None, :2] >= clips[None, :, :2]) & (texts[:, None, 2:] <= clips[None, :, 2:])).all(axis=2)
    return bool((inside | ~overlaps(texts, clips)).all())


class PageVisibility:
    """Verdicts for every glyph of one page.

    ``hidden`` maps a glyph (``glyph_key``) to why it cannot be seen; ``runs`` keeps the trace,
    so that the reader can report hidden text and find glyphs the extraction left out.
    """

    def __init__(self, page: pymupdf.Page, *, render: bool = True, masks: dict | None = None,
                 log: list | None = None):
        """``masks`` caches decoded image masks across the pages of one document; ``log`` is
        the page's paint log when the caller has read it."""
        self.page = page
        self.area = page.rect
        self.runs = [run for span in page.get_texttrace() if (run := self._run(span))]
        self._log = page.get_bboxlog() if log is None else log
        self._paints = PagePaint(page, self._log, {} if masks is None else masks)
        self._judge_own()
        self._judge_paint()
        undecided = [run for run in self.runs if UNDECIDED in run.verdicts or ON_UNKNOWN_BACKDROP in run.verdicts]
        #: Whether the pixels had to decide anything on this page.
        self.rendered = bool(undecided) and render
        if self.rendered:
            on_backdrops = [run for run in undecided if ON_UNKNOWN_BACKDROP in run.verdicts]
            if on_backdrops:
                judge_backdrops(page, on_backdrops)
            covered = [run for run in undecided if UNDECIDED in run.verdicts]
            if covered:
                judge_by_removal(page, covered)
        for run in undecided:  # what the pixels did not hide (or were not asked about) is seen
            run.verdicts = [None if verdict in (UNDECIDED, ON_UNKNOWN_BACKDROP) else verdict
                            for verdict in run.verdicts]
        self.hidden = {
            glyph_key(char(glyph), glyph[2]): verdict
            for run in self.runs
            for glyph, verdict in zip(run.glyphs, run.verdicts)
            if verdict
        }

    @property
    def glyph_count(self) -> int:
        return sum(len(run.glyphs) for run in self.runs)

    def _run(self, span: dict) -> Run | None:
        glyphs = [c for c in span["chars"] if c[0] not in SPACE]
        if not glyphs:
            return None
        return Run(
            seqno=span["seqno"], size=span["size"], color=to_rgb(span["color"]),
            opacity=span["opacity"] if span["opacity"] is not None else 1.0,
            bbox=span["bbox"], glyphs=glyphs, render_mode=span["type"], horizontal=span["dir"] == (1.0, 0.0),
            verdicts=[None] * len(glyphs),
        )

    # ---- what a run says about itself ----------------------------------------------------

    def _judge_own(self) -> None:
        for run in self.runs:
            reason = _own_reason(run) or ("tiny" if self._flattened(run) else None)
            if reason:
                run.verdicts = [reason] * len(run.glyphs)
                continue
            x0, y0, x1, y1 = run.bbox
            if x0 < self.area.x0 or y0 < self.area.y0 or x1 > self.area.x1 or y1 > self.area.y1:
                run.verdicts = [
                    "off_page" if share_inside(glyph[3], self.area) < MIN_SHARE_ON_PAGE else None
                    for glyph in run.glyphs
                ]

    def _flattened(self, run: Run) -> bool:
        """Letters squeezed flat by the text matrix: their ink (the paint log's box of the text
        operation, which pads it by about a point each side) is far lower than their size."""
        if run.seqno >= len(self._log) or not run.horizontal:
            return False
        x0, y0, x1, y1 = self._log[run.seqno][1]
        if y1 - y0 - 2 >= min(TINY_POINTS, FLAT_SHARE * run.size):
            return False
        # Low ink from punctuation alone ("...", "-") is no sign: it takes letters.
        return sum(chr(glyph[0]).isalpha() for glyph in run.glyphs[:8]) >= 2

    # ---- what is painted beneath and above ---------------------------------------------

    def _judge_paint(self) -> None:
        pending = [run for run in self.runs if not all(run.verdicts)]
        if not pending:
            return
        paints = [(index, kind, rect) for index, (kind, rect) in enumerate(self._log) if kind in PAINTS]
        if not paints:
            for run in pending:
                self._judge_colour(run, WHITE)
            return
        # The log's boxes ignore clipping: a superset, narrowed below with the drawings' clips.
        boxes = np.array([rect for _, _, rect in paints], dtype=float)
        cores = np.array([run.middle for run in pending], dtype=float)
        touches = (
            (boxes[None, :, 0] < cores[:, None, 2]) & (boxes[None, :, 2] > cores[:, None, 0])
            & (boxes[None, :, 1] < cores[:, None, 3]) & (boxes[None, :, 3] > cores[:, None, 1])
        )
        touched = touches.any(axis=1)
        for row, run in enumerate(pending):
            if not touched[row]:
                self._judge_colour(run, WHITE)
                continue
            hits = [self._paints.paint(*paints[i]) for i in np.flatnonzero(touches[row])]
            # Lines thinner than half a glyph neither hide it nor are its backdrop (rules, grids).
            hits = [paint for paint in hits if intersects(paint.area, cores[row])
                    and not (paint.width and paint.width < THIN_LINE * run.size)]
            above = [paint for paint in hits if paint.index > run.seqno]
            below = sorted((paint for paint in hits if paint.index < run.seqno), key=lambda p: -p.index)
            if not above and (not below or below[0].opaque_rectangle and contains(below[0].area, cores[row])):
                self._judge_colour(run, below[0].fill if below else WHITE)  # one flat backdrop for all
                continue
            run.verdicts = [
                verdict or self._glyph_verdict(run, core(glyph[3]), above, below)
                for glyph, verdict in zip(run.glyphs, run.verdicts)
            ]

    def _glyph_verdict(self, run: Run, middle: tuple, above: list[Paint], below: list[Paint]) -> str | None:
        """A glyph under or over paint: covered by an opaque rectangle drawn later, judged by
        the flat colour beneath it, or left to the pixels (UNDECIDED)."""
        for paint in above:
            if not intersects(paint.area, middle):
                continue
            if paint.opaque_rectangle or paint.kind == "fill-image" and self._paints.image_is_opaque(paint, middle):
                # Opaque paint over most of the glyph hides it; over less, the glyph is read.
                if overlap(paint.area, middle) >= MOSTLY:
                    return "covered"
                continue
            return UNDECIDED  # a translucent or shaped paint, a thick line, an image, a shading
        backdrop = WHITE
        for paint in below:  # the topmost first
            if not intersects(paint.area, middle):
                continue
            if not (paint.opaque_rectangle and contains(paint.area, middle)):
                # Nothing drawn over it, an unknown backdrop: one rendering tells, unless the
                # text is translucent (its pixels then mix with what lies beneath).
                return ON_UNKNOWN_BACKDROP if run.opacity >= 1 else UNDECIDED
            backdrop = paint.fill
            break
        return "low_contrast" if contrast(run.color, run.opacity, backdrop) < MIN_CONTRAST else None

    def _judge_colour(self, run: Run, backdrop: tuple[float, float, float]) -> None:
        if contrast(run.color, run.opacity, backdrop) < MIN_CONTRAST:
            run.verdicts = [verdict or "low_contrast" for verdict in run.verdicts]


def _own_reason(run: Run) -> str | None:
    if run.render_mode == 3:
        return "invisible"
    if run.opacity < MIN_OPACITY:
        return "transparent"
    if run.size < TINY_POINTS or _squeezed(run):
        return "tiny"
    return None


def _squeezed(run: Run) -> bool:
    """Glyphs drawn (almost) on top of each other: a smear, not text."""
    if len(run.glyphs) < 4:
        return False
    least = MIN_ADVANCE_SHARE * run.size * (len(run.glyphs) - 1)
    x0, y0, x1, y1 = run.bbox
    if max(x1 - x0, y1 - y0) > least + 2 * run.size:  # spread out: the origins travel further
        return False
    origins = [glyph[2] for glyph in run.glyphs]
    travelled = sum(abs(b[0] - a[0]) + abs(b[1] - a[1]) for a, b in zip(origins, origins[1:]))
    return travelled < least
