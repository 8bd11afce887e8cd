"""A paper as the reviewer sees it: text ready for the prompt, plus what was kept out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, Field

TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".tex"}


class HiddenText(BaseModel):
    """Text in a PDF that a human reader cannot see, kept out of the prompt."""

    count: int = 0
    excerpt: str = ""
    reasons: dict[str, int] = Field(default_factory=dict)


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
