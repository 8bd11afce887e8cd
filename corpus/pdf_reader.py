"""Text of a PDF as a human reader sees it; text a human cannot see is kept out and counted.

Hidden text is how prompt injections reach an LLM reviewer ("ignore all previous
instructions..."), so a span is dropped when it is invisible (render mode 3 or fully
transparent), lies mostly outside the page, is white on a white page, or is too small to read.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pymupdf
from pydantic import BaseModel, ValidationError

from corpus.files import atomic_write
from corpus.files import cache_dir as default_cache_dir
from corpus.paper import HiddenText, PaperInputError

#: Bump when extraction changes, so cached results from older rules are not reused.
EXTRACTOR_VERSION = 1
WHITE_LUMINANCE = 0.95
TINY_POINTS = 4.0
MIN_SHARE_ON_PAGE = 0.5
EXCERPT_CHARS = 200
#: pymupdf4llm's page separator, which the benchmark's paper texts use too.
PAGE_BREAK = "\n\n-----\n\n"
BLOCK_BREAK = "\n\n"
# Without the media-box clip, text placed off the page is extracted, so it can be counted.
FLAGS = pymupdf.TEXTFLAGS_DICT & ~(pymupdf.TEXT_MEDIABOX_CLIP | pymupdf.TEXT_PRESERVE_IMAGES)


class PdfText(BaseModel):
    text: str
    pages: int
    hidden: HiddenText
    extractor: int = EXTRACTOR_VERSION


def read_pdf(
    path: str | Path, max_pages: int | None = None, cache_dir: str | Path | None = None
) -> PdfText:
    """The visible text of the first ``max_pages`` pages, cached by the file's content."""
    path = Path(path)
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    root = Path(cache_dir) if cache_dir else default_cache_dir()
    cache_file = root / "pdf_text" / f"{digest}-{'all' if max_pages is None else max_pages}.json"
    cached = _load_cached(cache_file)
    if cached:
        return cached
    result = _extract(path, data, max_pages)
    atomic_write(cache_file, result.model_dump_json())
    return result


def _load_cached(cache_file: Path) -> PdfText | None:
    try:
        cached = PdfText.model_validate_json(cache_file.read_text(encoding="utf-8"))
    except (OSError, ValidationError):
        return None
    return cached if cached.extractor == EXTRACTOR_VERSION else None


def _extract(path: Path, data: bytes, max_pages: int | None) -> PdfText:
    try:
        doc = pymupdf.open(stream=data, filetype="pdf")
    except pymupdf.FileDataError as exc:
        raise PaperInputError(f"{path}: not a readable PDF (corrupted or truncated)") from exc
    with doc:
        if doc.needs_pass:
            raise PaperInputError(f"{path}: the PDF is encrypted; give a copy without a password")
        if doc.page_count == 0:
            raise PaperInputError(f"{path}: the PDF has no pages")
        count = doc.page_count if max_pages is None else min(max_pages, doc.page_count)
        pages = [_PageReader(doc[number]) for number in range(count)]
    text = PAGE_BREAK.join(page.text for page in pages if page.text)
    if not text:
        raise PaperInputError(
            f"{path}: the PDF has no extractable text (scanned or empty?); run OCR on it first"
        )
    return PdfText(text=text, pages=count, hidden=_summarise(pages))


def _summarise(pages: list[_PageReader]) -> HiddenText:
    hidden = [span for page in pages for span in page.hidden]
    reasons: dict[str, int] = {}
    for reason, _ in hidden:
        reasons[reason] = reasons.get(reason, 0) + 1
    excerpt = re.sub(r"\s+", " ", " ".join(text for _, text in hidden)).strip()
    return HiddenText(count=len(hidden), excerpt=excerpt[:EXCERPT_CHARS], reasons=reasons)


class _PageReader:
    """One page's visible text (blocks in content order) and its hidden (reason, text) spans."""

    def __init__(self, page: pymupdf.Page) -> None:
        self.page = page
        self.hidden: list[tuple[str, str]] = []
        self._backdrops: list[pymupdf.Rect] | None = None
        content = page.get_text("dict", flags=FLAGS, clip=pymupdf.INFINITE_RECT())
        blocks = (self._block_text(block) for block in content["blocks"])
        self.text = BLOCK_BREAK.join(block for block in blocks if block)

    def _block_text(self, block: dict) -> str:
        lines = (
            "".join(self._visible(span) for span in line["spans"]).strip()
            for line in block["lines"]
        )
        return "\n".join(line for line in lines if line)

    def _visible(self, span: dict) -> str:
        if not span["text"].strip():
            return span["text"]
        reason = self._hidden_reason(span)
        if reason is None:
            return span["text"]
        self.hidden.append((reason, span["text"]))
        return ""

    def _hidden_reason(self, span: dict) -> str | None:
        bbox = pymupdf.Rect(span["bbox"])
        if span.get("alpha", 255) == 0:
            return "invisible"
        if _share_inside(bbox, self.page.rect) < MIN_SHARE_ON_PAGE:
            return "off_page"
        if _luminance(span["color"]) >= WHITE_LUMINANCE and not self._on_backdrop(bbox):
            return "white"
        if span["size"] < TINY_POINTS:
            return "tiny"
        return None

    def _on_backdrop(self, bbox: pymupdf.Rect) -> bool:
        """Light text is readable over an image or a dark filled shape (e.g. a figure's label)."""
        if self._backdrops is None:
            images = [pymupdf.Rect(info["bbox"]) for info in self.page.get_image_info()]
            shapes = [
                drawing["rect"]
                for drawing in self.page.get_drawings()
                if drawing.get("fill") and _rgb_luminance(drawing["fill"]) < WHITE_LUMINANCE
            ]
            self._backdrops = images + shapes
        centre = (bbox.tl + bbox.br) / 2
        return any(centre in backdrop for backdrop in self._backdrops)


def _share_inside(bbox: pymupdf.Rect, page: pymupdf.Rect) -> float:
    if bbox.is_empty:
        return 1.0 if (bbox.tl + bbox.br) / 2 in page else 0.0
    return abs(bbox & page) / abs(bbox)


def _luminance(srgb: int) -> float:
    return _rgb_luminance(((srgb >> 16) & 255, (srgb >> 8) & 255, srgb & 255), scale=255)


def _rgb_luminance(rgb: tuple[float, ...], scale: float = 1.0) -> float:
    red, green, blue = (channel / scale for channel in rgb[:3])
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue
