"""What the downloader needs from either API: submissions as JSON notes, and the PDF revisions
of a paper with their dates."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from benchmarks.openreview.transport import Transport
from benchmarks.openreview.venues import Venue


@dataclass(frozen=True)
class Revision:
    """A version of a paper's PDF: a v1 reference or a v2 note edit, and when it was posted."""

    id: str
    created_at: int


class Source(Protocol):
    api: int
    transport: Transport

    def open_venue(self, venue: Venue) -> Venue: ...

    def submissions(self, venue: Venue) -> Iterator[dict]: ...

    def pdf_revisions(self, paper_id: str) -> list[Revision]: ...

    def pdf(self, revision: Revision) -> bytes: ...


def note_json(note) -> dict:
    """The fields of an openreview-py ``Note`` (either API) that ``records.parse_submission`` reads."""
    return {
        "id": note.id,
        "number": getattr(note, "number", None),
        "content": note.content or {},
        "details": note.details or {},
        "tcdate": note.tcdate,
        "cdate": note.cdate,
    }
