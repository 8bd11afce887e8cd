"""What a PDF page paints, where and in what order: paths (with the clips they are drawn in),
images (with their soft masks) and shadings, each as a ``Paint`` at its place in the page's paint
order (the index of ``get_bboxlog``, the sequence number of ``get_texttrace`` and
``get_cdrawings``)."""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np
import pymupdf

from corpus.colour import to_rgb

#: Paint log entries that put colour on the page (text aside).
PAINTS = {"fill-path", "stroke-path", "fill-image", "fill-imgmask", "fill-shade"}
#: An image's soft mask at least this opaque hides what lies beneath.
OPAQUE_ALPHA = 250


def intersects(a, b) -> bool:
    return a[0] < b[2] and a[2] > b[0] and a[1] < b[3] and a[3] > b[1]


def intersection(a, b) -> tuple[float, float, float, float]:
    return (max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3]))


def contains(outer, inner) -> bool:
    return outer[0] <= inner[0] and outer[1] <= inner[1] and outer[2] >= inner[2] and outer[3] >= inner[3]


def overlap(box, middle) -> float:
    """The share of ``middle`` that ``box`` covers."""
    x0, y0, x1, y1 = intersection(box, middle)
    area = (middle[2] - middle[0]) * (middle[3] - middle[1])
    return max(0.0, x1 - x0) * max(0.0, y1 - y0) / area if area > 0 else 1.0


def overlaps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """For every box of ``a`` and every box of ``b``: whether they overlap."""
    return (a[:, None, 0] < b[None, :, 2]) & (a[:, None, 2] > b[None, :, 0]) & (a[:, None, 1] < b[None, :, 3]) & (
        a[:, None, 3] > b[None, :, 1])


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


class PagePaint:
    """The paints of one page, looked up by their place in the paint order; the drawings and
    images are read only when a paint is asked about."""

    def __init__(self, page: pymupdf.Page, log: list, masks: dict):
        """``log`` is the page's paint log; ``masks`` caches decoded image masks across the
        pages of one document."""
        self.page = page
        self.log = log
        self._masks = masks
        self._by_seqno: dict[int, dict] | None = None
        #: The drawings in order: (seqno or None, level, the clip in force, a clip's own box or None).
        self._items: list[tuple[int | None, int, pymupdf.Rect, pymupdf.Rect | None]] = []
        self._images: list[dict] | None = None
        self._paints: dict[int, Paint] = {}
        self._path_seqnos: list[int] = []
        self._path_positions: list[int] = []

    def paint(self, index: int, kind: str, rect) -> Paint:
        if index not in self._paints:
            self._paints[index] = self._make_paint(index, kind, rect)
        return self._paints[index]

    def _make_paint(self, index: int, kind: str, rect) -> Paint:
        """A paint of the log, where it can show: a path's box is cut to its clip, a shading
        (whose box the log leaves unbounded) is bounded by the clips around it."""
        if kind == "fill-shade" and not _bounded(rect):
            return Paint(index, kind, self._shade_area(index))
        drawing = self.drawings().get(index) if kind in ("fill-path", "stroke-path") else None
        if drawing is None:
            return Paint(index, kind, tuple(rect))
        clip, exact = drawing["clip"]
        area = tuple(pymupdf.Rect(drawing["rect"]) & clip)
        if kind == "stroke-path":  # the log's box holds the line's width; the drawing's does not
            half = (drawing.get("width") or 0) / 2
            return Paint(index, kind, (area[0] - half, area[1] - half, area[2] + half, area[3] + half),
                         width=drawing.get("width") or 0)
        opaque = (drawing.get("fill") and (drawing.get("fill_opacity") or 0) >= 1 and _rectangle(drawing["items"])
                  and (exact or contains(clip, drawing["rect"])))
        return Paint(index, kind, area, to_rgb(drawing["fill"]) if opaque else None)

    def drawings(self) -> dict[int, dict]:
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

    def image_is_opaque(self, paint: Paint, middle: tuple) -> bool:
        """Whether an image is opaque where it overlaps a glyph's middle: upright, not clipped
        away there, and without a soft mask or with one that is opaque there."""
        image = self._image(paint)
        part = intersection(paint.area, middle)
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
            samples = np.frombuffer(mask.samples, dtype=np.uint8)
            self._masks[xref] = samples.reshape(mask.height, mask.width, mask.n)[..., 0]
        return self._masks[xref]

    def _unclipped(self, index: int, middle: tuple) -> bool:
        """Whether no clip can cut a paint drawn at ``index`` away from ``middle``: every clip
        in force at the path drawn before it, or set between that path and the next, holds it."""
        before, after = self._neighbours(index)
        items = self._items
        if before >= 0 and not contains(items[before][2], middle):
            return False
        return all(contains(scissor, middle) for _, _, _, scissor in items[before + 1:after] if scissor is not None)

    def _neighbours(self, index: int) -> tuple[int, int]:
        """Positions in the drawings of the paths drawn just before and just after ``index``
        (-1 and the end when there are none)."""
        self.drawings()
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
