"""API v1 (ICLR 2018-2023, NeurIPS up to 2022) through ``openreview.Client``."""

from __future__ import annotations

from collections.abc import Iterator

from benchmarks.openreview.sources import Revision, note_json
from benchmarks.openreview.transport import Transport
from benchmarks.openreview.venues import Venue

API_URL = "https://api.openreview.net"
PAGE_SIZE = 1000


class V1Source:
    api = 1

    def __init__(self, api_url: str = API_URL, username: str | None = None, password: str | None = None):
        import openreview

        self.transport = Transport(api_url, logged_in=bool(username and password))
        # The client logs in while it is built when it has credentials (else anonymous).
        self.client = self.transport.call(
            "log in", lambda: openreview.Client(baseurl=self.transport.api_url, username=username, password=password)
        )
        self.transport.attach(self.client.session)

    def open_venue(self, venue: Venue) -> Venue:
        return venue

    def submissions(self, venue: Venue) -> Iterator[dict]:
        offset = 0
        while True:
            notes = self.transport.call(
                f"list {venue.submission_invitation}",
                lambda offset=offset: self.client.get_notes(
                    invitation=venue.submission_invitation, details="directReplies", limit=PAGE_SIZE, offset=offset
                ),
            )
            yield from map(note_json, notes)
            if len(notes) < PAGE_SIZE:
                return
            offset += len(notes)

    def pdf_revisions(self, paper_id: str) -> list[Revision]:
        """Revisions of the note and of its original (author) note that carry a PDF."""
        references = self.transport.call(
            f"list revisions of {paper_id}",
            lambda: self.client.get_references(referent=paper_id, original=True),
        )
        return [
            Revision(id=reference.id, created_at=int(reference.tcdate or reference.cdate or 0))
            for reference in references
            if (reference.content or {}).get("pdf")
        ]

    def pdf(self, revision: Revision) -> bytes:
        return self.transport.call(
            f"download revision {revision.id}",
            lambda: self.client.get_pdf(revision.id, is_reference=True),
        )
