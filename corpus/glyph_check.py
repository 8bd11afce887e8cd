"""Visible text that reads like an instruction to an LLM reviewer, checked against the glyphs drawn.

A font's character map (ToUnicode) can lie: the page shows one text and hands another to
anything that extracts it, so an instruction can reach the model while the reader sees a
harmless sentence. OCR of the rendered line (tesseract, built into pymupdf; it needs tesseract's
English language data, found through ``pymupdf.get_tessdata``: ``$TESSDATA_PREFIX`` or the
``tesseract`` program's own folder) reads what is drawn; a line whose extracted text OCR does
not confirm is kept out of the prompt and reported as ``glyph_mismatch``.

OCR costs tens of milliseconds a line (see ``benchmarks/perf/pdf_reading.py``), so it runs only
on lines where ``corpus.injection`` finds an instruction: a lying font that hides an
instruction shows up there, and ordinary papers pay nothing.
"""

from __future__ import annotations

import bisect
import difflib
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import pymupdf

from corpus.injection import find, fold_text

if TYPE_CHECKING:
    from corpus.pdf_reader import Line, PageReader

OCR_DPI = 300
#: Below this similarity of the extracted and the OCR'd text, the glyphs say something else.
MIN_AGREEMENT = 0.6
#: tesseract's English data reads Latin script; other scripts are not checked.
OCR_LANGUAGES = {"en", "fr", "de", "es"}
NOTICE = (
    "fonts were not checked against the drawn glyphs: OCR needs tesseract's English data "
    "(apt install tesseract-ocr tesseract-ocr-eng, or set TESSDATA_PREFIX)"
)


@lru_cache(maxsize=1)
def tessdata() -> str | None:
    """The folder with tesseract's language data, or None when OCR is not available."""
    try:
        folder = pymupdf.get_tessdata()
    except RuntimeError:
        return None
    return folder if folder and (Path(folder) / "eng.traineddata").is_file() else None


def ocr_available() -> bool:
    return tessdata() is not None


def ocr_text(page: pymupdf.Page, rect, dpi: int = OCR_DPI) -> str:
    """What tesseract reads in this region of the rendered page."""
    zoom = dpi / 72
    pix = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), clip=pymupdf.Rect(rect) + (-2, -2, 2, 2), alpha=False)
    with pymupdf.open("pdf", pix.pdfocr_tobytes(language="eng", tessdata=tessdata())) as ocr:
        return ocr[0].get_text()


def agreement(extracted: str, ocr: str) -> float:
    """How alike two texts read, letters and digits only (OCR gets spacing and punctuation wrong)."""
    a, b = ("".join(c for c in fold_text(text) if c.isalnum()) for text in (extracted, ocr))
    if not a:
        return 1.0
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def check_glyphs(pages: list[PageReader]) -> list[str]:
    """OCR every line where an instruction to the reviewer is found; drop the lines whose
    glyphs say something else. Returns notes on what could not be checked."""
    suspects = _suspect_lines(pages)
    if not suspects:
        return []
    if not ocr_available():
        return [NOTICE]
    for page, lines in suspects.items():
        page.with_boxes()
        lying = [line for line in lines if agreement(line.text, ocr_text(page.page, line.bbox)) < MIN_AGREEMENT]
        page.drop_lines(lying, "glyph_mismatch")
    return []


def _suspect_lines(pages: list[PageReader]) -> dict[PageReader, list[Line]]:
    """The lines that hold (part of) an instruction in a script OCR can read, by page. The
    document is scanned once, its lines joined as the text will be."""
    placed: list[tuple[int, PageReader, Line]] = []
    offset = 0
    for page in pages:
        for block in page.blocks:
            for line in block:
                if line.text:
                    placed.append((offset, page, line))
                    offset += len(line.text) + 1
    text = "\n".join(line.text for _, _, line in placed)
    starts = [start for start, _, _ in placed]
    suspects: dict[PageReader, list[Line]] = {}
    for found in find(text):
        if found.language not in OCR_LANGUAGES:
            continue
        first = bisect.bisect_right(starts, found.start) - 1
        for start, page, line in placed[max(first, 0):]:
            if start >= found.end:
                break
            if line not in suspects.setdefault(page, []):
                suspects[page].append(line)
    return suspects
