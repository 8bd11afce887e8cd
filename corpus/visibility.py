"""Which glyphs of a PDF page a reader of the rendered page can see.

A glyph is hidden when a person looking at the page cannot read it: its render mode is invisible
or its opacity (near) zero; its colour is close to whatever lies beneath it (the page, a box, a
shading, an image); an opaque shape drawn later covers it; it lies outside the visible page; or
it is too small to read, through its font size or the scaling in its text matrix.

Cheap checks decide almost every glyph: pymupdf's text trace gives each run's render mode,
colour, opacity, size and position in the page's paint order, and the page's paint log (``get_bboxlog``)
gives the order and place of every path, image and shading, so the paint directly beneath and
above each run is known; a filled rectangle's colour and opacity come from ``get_cdrawings``.
Where those cannot decide (text over an image or a shading, under a translucent or
non-rectangular shape), the region is rendered with and without the glyphs (a copy of the page
with them redacted) and the pixels decide: a glyph is visible when enough of its pixels change.
Clipped text is found by the reader (``corpus.pdf_reader``): MuPDF leaves out glyphs a clip
path removes entirely, so a glyph of the trace missing from the extraction is clipped.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pymupdf

#: Glyphs smaller than this (points, after the text matrix and the page transform) cannot be read.
TINY_POINTS = 4.0
#: Letters whose ink is lower than this share of their size are squashed flat (a lowercase
#: run's ink is half its size at least).
FLAT_SHARE = 0.25
#: Below this opacity a glyph is transparent, whatever its colour.
MIN_OPACITY = 0.05
#: CIE76 colour difference below which text does not stand out from what lies beneath it:
#: a 0.93 grey on white differs by 6.2 and is not read; the AI Scientist's 0.9 grey watermark
#: differs by 8.9 and is.
MIN_CONTRAST = 7.5
#: A glyph whose origins step forward less than this share of its size is squeezed together
#: (character spacing or horizontal scaling) into an unreadable smear.
MIN_ADVANCE_SHARE = 0.15
MIN_SHARE_ON_PAGE = 0.5
#: Rendered glyphs are this many pixels high at least, at most this zoom and this many pixels.
RENDER_PIXELS = 16
MAX_ZOOM = 4.0
MAX_PIXELS = 4_000_000
#: A rendered glyph is visible when this share of its box (and at least MIN_INK_PIXELS) changes.
MIN_INK_SHARE = 0.02
MIN_INK_PIXELS = 3
#: A rendered pixel within this colour difference of a glyph's colour is its ink.
INK_MATCH = 10.0
#: Opaque paint over this share of a glyph's middle hides it; over less, the glyph is read.
MOSTLY = 0.5
#: A stroke thinner than this share of a glyph's size neither hides it nor is its backdrop.
THIN_LINE = 0.5
#: Paint thinner than this (points) is a line: a rule or a grid line hides no text.
THIN_PAINT = 1.5
#: Paint log entries that put colour on the page (text aside).
PAINTS = {"fill-path", "stroke-path", "fill-image", "fill-imgmask", "fill-shade"}
SPACE = {0x20, 0xA0, 0x09, 0x0A, 0x0D, 0x3000}
UNDECIDED = "?"
ON_UNKNOWN_BACKDROP = "?backdrop"
#: An image's soft mask at least this opaque hides what lies beneath.
OPAQUE_ALPHA = 250
WHITE = (1.0, 1.0, 1.0)


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
    #: Per glyph: None (visible), why it is hidden, or UNDECIDED (the pixels will tell).
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


def _intersects(a, b) -> bool:
    return a[0] < b[2] and a[2] > b[0] and a[1] < b[3] and a[3] > b[1]


def _intersection(a, b) -> tuple[float, float, float, float]:
    return (max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3]))


def _overlap(paint, middle) -> float:
    """The share of a glyph's middle that a paint's box covers."""
    x0, y0, x1, y1 = _intersection(paint, middle)
    area = (middle[2] - middle[0]) * (middle[3] - middle[1])
    return max(0.0, x1 - x0) * max(0.0, y1 - y0) / area if area > 0 else 1.0


def _contains(outer, inner) -> bool:
    return outer[0] <= inner[0] and outer[1] <= inner[1] and outer[2] >= inner[2] and outer[3] >= inner[3]


def glyph_key(char: str, origin: tuple[float, float]) -> tuple[str, int, int]:
    """How a trace glyph and an extracted character are matched: same character, same origin."""
    return char, round(origin[0] * 10), round(origin[1] * 10)


@lru_cache(maxsize=1024)
def to_rgb(color) -> tuple[float, float, float]:
    if color is None:
        return (0.0, 0.0, 0.0)
    if isinstance(color, int):  # sRGB integer, as pymupdf's text dicts give it
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
    if len(paints) and len(texts) and _overlaps(texts, paints).any():
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
    if not len(boxes) or not _overlaps(texts, boxes).any(axis=1).all():
        return False
    clips = np.array([item["scissor"] for item in page.get_cdrawings(extended=True) if item["type"] == "clip"],
                     dtype=float).reshape(-1, 4)
    inside = ((texts[:, None, :2] >= clips[None, :, :2]) & (texts[:, None, 2:] <= clips[None, :, 2:])).all(axis=2)
    return bool((inside | ~_overlaps(texts, clips)).all())


def _overlaps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a[:, None, 0] < b[None, :, 2]) & (a[:, None, 2] > b[None, :, 0]) & (a[:, None, 1] < b[None, :, 3]) & (
        a[:, None, 3] > b[None, :, 1])


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
        self._masks = {} if masks is None else masks
        self.area = page.rect
        self.rendered_runs = 0
        self._by_seqno: dict[int, dict] | None = None
        #: The drawings in order: (seqno or None, level, the clip in force, a clip's own box or None).
        self._items: list[tuple[int | None, int, pymupdf.Rect, pymupdf.Rect | None]] = []
        self._images: list[dict] | None = None
        self._paints: dict[int, Paint] = {}
        self._path_seqnos: list[int] = []
        self._path_positions: list[int] = []
        self.runs = [run for span in page.get_texttrace() if (run := self._run(span))]
        self._log = page.get_bboxlog() if log is None else log
        self._judge_own()
        self._judge_paint()
        undecided = [run for run in self.runs if UNDECIDED in run.verdicts or ON_UNKNOWN_BACKDROP in run.verdicts]
        if undecided and render:
            self._judge_backdrops([run for run in undecided if ON_UNKNOWN_BACKDROP in run.verdicts])
            self._judge_pixels([run for run in undecided if UNDECIDED in run.verdicts])
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
        if run.seqno >= len(self._log) or not run.horizontal or sum(chr(g[0]).isalpha() for g in run.glyphs) < 2:
            return False
        x0, y0, x1, y1 = self._log[run.seqno][1]
        ink = y1 - y0 - 2
        return ink < min(TINY_POINTS, FLAT_SHARE * run.size)

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
            hits = [self._paint(*paints[i]) for i in np.flatnonzero(touches[row])]
            # Lines thinner than half a glyph neither hide it nor are its backdrop (rules, grids).
            hits = [paint for paint in hits if _intersects(paint.area, cores[row])
                    and not (paint.width and paint.width < THIN_LINE * run.size)]
            above = [paint for paint in hits if paint.index > run.seqno]
            below = sorted((paint for paint in hits if paint.index < run.seqno), key=lambda p: -p.index)
            if not above and (not below or below[0].opaque_rectangle and _contains(below[0].area, cores[row])):
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
            if not _intersects(paint.area, middle):
                continue
            if paint.opaque_rectangle or paint.kind == "fill-image" and self._image_is_opaque(paint, middle):
                # Opaque paint over most of the glyph hides it; over less, the glyph is read.
                if _overlap(paint.area, middle) >= MOSTLY:
                    return "covered"
                continue
            return UNDECIDED  # a translucent or shaped paint, a thick line, an image, a shading
        backdrop = WHITE
        for paint in below:  # the topmost first
            if not _intersects(paint.area, middle):
                continue
            if not (paint.opaque_rectangle and _contains(paint.area, middle)):
                # Nothing drawn over it, an unknown backdrop: one rendering tells, unless the
                # text is translucent (its pixels then mix with what lies beneath).
                return ON_UNKNOWN_BACKDROP if run.opacity >= 1 else UNDECIDED
            backdrop = paint.fill
            break
        return "low_contrast" if contrast(run.color, run.opacity, backdrop) < MIN_CONTRAST else None

    def _judge_colour(self, run: Run, backdrop: tuple[float, float, float]) -> None:
        if contrast(run.color, run.opacity, backdrop) < MIN_CONTRAST:
            run.verdicts = [verdict or "low_contrast" for verdict in run.verdicts]

    def _paint(self, index: int, kind: str, rect) -> Paint:
        if index not in self._paints:
            self._paints[index] = self._make_paint(index, kind, rect)
        return self._paints[index]

    def _make_paint(self, index: int, kind: str, rect) -> Paint:
        """A paint of the log, where it can show: a path's box is cut to its clip, a shading
        (whose box the log leaves unbounded) is bounded by the clips around it."""
        if kind == "fill-shade" and not _bounded(rect):
            return Paint(index, kind, self._shade_area(index))
        drawing = self._drawings().get(index) if kind in ("fill-path", "stroke-path") else None
        if drawing is None:
            return Paint(index, kind, tuple(rect))
        clip, exact = drawing["clip"]
        area = tuple(pymupdf.Rect(drawing["rect"]) & clip)
        if kind == "stroke-path":  # the log's box holds the line's width; the drawing's does not
            half = (drawing.get("width") or 0) / 2
            return Paint(index, kind, (area[0] - half, area[1] - half, area[2] + half, area[3] + half),
                         width=drawing.get("width") or 0)
        opaque = (drawing.get("fill") and (drawing.get("fill_opacity") or 0) >= 1 and _rectangle(drawing["items"])
                  and (exact or _contains(clip, drawing["rect"])))
        return Paint(index, kind, area, to_rgb(drawing["fill"]) if opaque else None)

    def _drawings(self) -> dict[int, dict]:
        """The page's paths by sequence number, each with the clip it is drawn in: (its box,
        whether the clip is exactly that box)."""
        if self._by_seqno is None:
            self._by_seqno, self._items = {}, []
            clips: list[tuple[int, pymupdf.Rect, bool]] = []
            for item in self.page.get_cdrawings(extended=True):
                level = item.get("level", 0)
                while clips and clips[-1][0] >= level:
                    clips.pop()
                clip, exact = (clips[-1][1], clips[-1][2]) if clips else (pymupdf.Rect(pymupdf.INFINITE_RECT()), True)
                scissor = pymupdf.Rect(item["scissor"]) if item["type"] == "clip" else None
                self._items.append((item.get("seqno"), level, clip, scissor))
                if scissor is not None:
                    clips.append((level, clip & scissor, exact and _rectangle(item.get("items") or [])))
                elif item["type"] == "group":
                    clips.append((level, clip, exact))
                elif "seqno" in item:
                    self._by_seqno[item["seqno"]] = {**item, "clip": (clip, exact)}
            paths = sorted((seqno, position) for position, (seqno, *_) in enumerate(self._items) if seqno is not None)
            self._path_seqnos = [seqno for seqno, _ in paths]
            self._path_positions = [position for _, position in paths]
        return self._by_seqno

    def _image_is_opaque(self, paint: Paint, middle: tuple) -> bool:
        """Whether an image is opaque where it overlaps a glyph's middle: upright, not clipped
        away there, and without a soft mask or with one that is opaque there."""
        image = self._image(paint)
        part = _intersection(paint.area, middle)
        if image is None or not self._unclipped(paint.index, part):
            return False
        a, b, c, d, e, f = image["transform"]
        if abs(b) > 1e-6 or abs(c) > 1e-6:
            return False
        if not image.get("has-mask"):
            return True
        if not image["smasks"] or 0 in image["smasks"]:  # a colour-key mask, or one without a mask
            return False
        # Several images of this size: opaque there whichever of their masks it is.
        return all(self._opaque_at(self._alpha(xref), (a, d, e, f), part) for xref in image["smasks"])

    @staticmethod
    def _opaque_at(alpha, placement, part) -> bool:
        a, d, e, f = placement
        height, width = alpha.shape
        cols = sorted(int((x - e) / a * width) for x in (part[0], part[2]))
        rows = sorted(int((y - f) / d * height) for y in (part[1], part[3]))
        region = alpha[max(rows[0], 0):rows[1] + 1, max(cols[0], 0):cols[1] + 1]
        return region.size > 0 and int(region.min()) >= OPAQUE_ALPHA

    def _image(self, paint: Paint) -> dict | None:
        """The image a paint log entry draws (pymupdf's image info, matched by its box), with
        the soft masks it may have (those of the page's images of its size)."""
        if self._images is None:
            self._images = self.page.get_image_info()
            masks: dict[tuple[int, int], set[int]] = {}
            for xref, smask, width, height, *_ in self.page.get_images(full=True):
                masks.setdefault((width, height), set()).add(smask)
            for image in self._images:
                image["smasks"] = masks.get((image["width"], image["height"]), set())
        for image in self._images:
            if all(abs(u - v) < 0.5 for u, v in zip(image["bbox"], paint.area)):
                return image
        return None

    def _alpha(self, xref: int):
        """An image's soft mask as an array, decoded once a document."""
        if xref not in self._masks:
            mask = pymupdf.Pixmap(self.page.parent, xref)
            self._masks[xref] = np.frombuffer(mask.samples, dtype=np.uint8).reshape(mask.height, mask.width, mask.n)[..., 0]
        return self._masks[xref]

    def _unclipped(self, index: int, middle: tuple) -> bool:
        """Whether no clip can cut a paint drawn at ``index`` away from ``middle``: every clip
        in force at the path drawn before it, or set between that path and the next, holds it."""
        before, after = self._neighbours(index)
        items = self._items
        if before >= 0 and not _contains(items[before][2], middle):
            return False
        return all(_contains(scissor, middle) for _, _, _, scissor in items[before + 1:after] if scissor is not None)

    def _neighbours(self, index: int) -> tuple[int, int]:
        """Positions in the drawings of the paths drawn just before and just after ``index``
        (-1 and the end when there are none)."""
        self._drawings()
        position = bisect.bisect_left(self._path_seqnos, index)
        before = self._path_positions[position - 1] if position > 0 else -1
        after = self._path_positions[position] if position < len(self._path_positions) else len(self._items)
        return before, after

    def _shade_area(self, index: int) -> tuple[float, float, float, float]:
        """Where a shading drawn at ``index`` can show: inside every clip that stays in force
        from the path drawn before it to the path drawn after it (the page when none does)."""
        before, after = self._neighbours(index)
        if before < 0 or after >= len(self._items):
            return tuple(pymupdf.INFINITE_RECT())
        between = self._items[before:after + 1]
        lowest = min(range(len(between)), key=lambda k: between[k][1])
        return tuple(between[lowest][2])

    # ---- the pixels --------------------------------------------------------------------

    def _judge_backdrops(self, runs: list[Run]) -> None:
        """Glyphs over an image, a shading or a shaped paint, with nothing over them: one
        rendering of the region; a glyph is seen when the pixels beside its ink (those of its
        box that do not have its colour) differ from its colour."""
        if not runs:
            return
        clip, zoom = self._region(runs, ON_UNKNOWN_BACKDROP)
        if clip is None:
            return
        pixels = _pixels(self.page, pymupdf.Matrix(zoom, zoom), clip)
        for run in runs:
            colour = lab(np.array(run.color))
            for position, glyph in enumerate(run.glyphs):
                if run.verdicts[position] != ON_UNKNOWN_BACKDROP:
                    continue
                box = lab(_box_pixels(pixels, glyph[3], clip, zoom) / 255.0)
                distance = np.linalg.norm(box - colour, axis=-1).ravel()
                beside = distance[distance >= INK_MATCH]
                seen = len(beside) and np.median(beside) >= MIN_CONTRAST
                run.verdicts[position] = None if seen else "unseen_when_rendered"
        self.rendered_runs += len(runs)

    def _region(self, runs: list[Run], verdict: str) -> tuple[pymupdf.Rect | None, float]:
        """The box around the glyphs with this verdict, and the zoom that renders them legibly."""
        boxes = np.array([glyph[3] for run in runs for glyph, v in zip(run.glyphs, run.verdicts) if v == verdict])
        clip = pymupdf.Rect(*boxes[:, :2].min(axis=0), *boxes[:, 2:].max(axis=0))
        clip = (clip + (-1, -1, 1, 1)) & self.area
        if clip.is_empty:
            return None, 1.0
        zoom = min(MAX_ZOOM, max(1.0, RENDER_PIXELS / max(min(run.size for run in runs), 0.1)))
        return clip, max(1.0, min(zoom, (MAX_PIXELS / abs(clip)) ** 0.5))

    def _judge_pixels(self, runs: list[Run]) -> None:
        """Render the region of the undecided glyphs with and without them (on a copy of the
        page where they are redacted); a glyph whose pixels do not change is not seen."""
        if not runs:
            return
        clip, zoom = self._region(runs, UNDECIDED)
        if clip is None:
            return
        matrix = pymupdf.Matrix(zoom, zoom)
        with pymupdf.open() as scratch:
            scratch.insert_pdf(self.page.parent, from_page=self.page.number, to_page=self.page.number)
            copy = scratch[0]
            seen = _pixels(copy, matrix, clip)  # first, so that its images are decoded once for both
            _redact(copy, _bands(runs))
            without = _pixels(copy, matrix, clip)
        changed = _changed(seen, without)
        # Changed pixels in any box in constant time: a summed-area table.
        table = np.pad(changed.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
        height, width = changed.shape
        for run in runs:
            for position, glyph in enumerate(run.glyphs):
                if run.verdicts[position] != UNDECIDED:
                    continue
                x0, y0, x1, y1 = (int(round((v - o) * zoom)) for v, o in zip(glyph[3], (clip.x0, clip.y0) * 2))
                x0, x1 = sorted((min(max(x0, 0), width), min(max(x1, 0), width)))
                y0, y1 = sorted((min(max(y0, 0), height), min(max(y1, 0), height)))
                ink = table[y1, x1] - table[y0, x1] - table[y1, x0] + table[y0, x0]
                if ink < max(MIN_INK_PIXELS, MIN_INK_SHARE * (x1 - x0) * (y1 - y0)):
                    run.verdicts[position] = "unseen_when_rendered"
        self.rendered_runs += len(runs)


def _box_pixels(pixels: np.ndarray, bbox, clip: pymupdf.Rect, zoom: float) -> np.ndarray:
    height, width = pixels.shape[:2]
    x0, y0, x1, y1 = (int(round((v - o) * zoom)) for v, o in zip(bbox, (clip.x0, clip.y0) * 2))
    x0, x1 = sorted((min(max(x0, 0), width), min(max(x1, 0), width)))
    y0, y1 = sorted((min(max(y0, 0), height), min(max(y1, 0), height)))
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


@dataclass
class Paint:
    """A path, image or shading of the page's paint log, where it can show."""

    index: int
    kind: str
    area: tuple[float, float, float, float]
    #: The colour of an opaque filled rectangle (not cut by a clip of another shape), else None.
    fill: tuple[float, float, float] | None = None
    #: A stroke's line width.
    width: float = 0.0

    @property
    def opaque_rectangle(self) -> bool:
        return self.fill is not None


def _bands(runs: list[Run]) -> list[pymupdf.Rect]:
    """Thin rectangles through the middles of the runs' glyphs, one per stretch of glyphs on one
    line: redacting them removes exactly those glyphs (each redaction annotation is costly)."""
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


def _rectangle(items: list) -> bool:
    """Whether a path is one axis-aligned rectangle (``re``, or four straight sides)."""
    if len(items) == 1 and items[0][0] == "re":
        return True
    if len(items) == 1 and items[0][0] == "qu":
        quad = pymupdf.Quad(items[0][1])
        return quad.is_rectangular and abs(quad.ul.y - quad.ur.y) < 0.01
    if not 3 <= len(items) <= 5 or any(item[0] != "l" for item in items):
        return False
    return all(abs(a[0] - b[0]) < 0.01 or abs(a[1] - b[1]) < 0.01 for _, a, b in items)


def _bounded(rect) -> bool:
    return all(abs(v) < 1e6 for v in rect)
