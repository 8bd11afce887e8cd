"""A paper as the reviewer sees it: text ready for the prompt, plus what was kept out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, Field

TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".tex"}


class HiddenSpan(BaseModel):
    """One stretch of hidden text: where, why, and what it says."""

    page: int
    #: invisible, transparent, low_contrast, covered, clipped, off_page, tiny,
    #: unseen_when_rendered (the pixels decided) or glyph_mismatch (the font's characters lie).
    reason: str
    excerpt: str


class HiddenText(BaseModel):
    """Text in a PDF that a human reader cannot see, kept out of the prompt."""

    count: int = 0
    #: The reported spans' text, joined and cut to a few hundred characters.
    excerpt: str = ""
    reasons: dict[str, int] = Field(default_factory=dict)
    #: The reported spans (the first fifty).
    spans: list[HiddenSpan] = Field(default_factory=list)
    #: Hidden spans kept out of the prompt but not reported: digits and symbols without a word
    #: (clipped axis ticks, white padding zeros), or pieces of text the pages show elsewhere
    #: (a watermark half covered by a figure).
    unreported: int = 0
    #: What the reader could not check (e.g. OCR not installed).
    notes: list[str] = Field(default_factory=list)


class PaperInputError(Exception):
    """A paper that cannot be read. The message is one line, fit for stderr."""


@dataclass
class Paper:
    paper_id: str
    text: str
    source: str | None = None
    pages: int | None = None
    hidden: HiddenText | None = None


def load_paper(
    path: str | Path,
    *,
    paper_id: str | None = None,
    max_pages: int | None = None,
    cache_dir: str | Path | None = None,
) -> Paper:
    """Read a PDF (through pymupdf) or a text/markdown file."""
    path = Path(path)
    pid = paper_id or path.stem
    if not path.exists():
        raise PaperInputError(f"{path}: no such file")
    if path.is_dir():
        raise PaperInputError(f"{path}: is a folder, not a paper")
    if path.suffix.lower() in TEXT_SUFFIXES:
        text = path.read_text(encoding="utf-8", errors="replace")
        if not text.strip():
            raise PaperInputError(f"{path}: the file is empty")
        return Paper(paper_id=pid, text=text, source=str(path))
    with path.open("rb") as handle:
        magic = handle.read(1024)
    if path.suffix.lower() != ".pdf" and b"%PDF" not in magic:
        raise PaperInputError(f"{path}: not a PDF or a text file (.txt, .md)")
    from corpus.pdf_reader import read_pdf

    pdf = read_pdf(path, max_pages=max_pages, cache_dir=cache_dir)
    return Paper(paper_id=pid, text=pdf.text, source=str(path), pages=pdf.pages, hidden=pdf.hidden)
