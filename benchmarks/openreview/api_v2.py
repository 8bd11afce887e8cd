"""API v2 (ICLR 2024 on, NeurIPS 2023 on, ICML, COLM, TMLR) through ``openreview.api.OpenReviewClient``.

The venue's group says how its invitations are named; submissions come in pages with their
replies (reviews, decisions, withdrawals); a paper's earlier PDFs are in its note edits.
"""

from __future__ import annotations

from collections.abc import Iterator

from benchmarks.openreview.sources import Revision, note_json
from benchmarks.openreview.transport import DownloadError, PaperUnavailable, Transport
from benchmarks.openreview.venues import Venue

API_URL = "https://api2.openreview.net"
PAGE_SIZE = 1000
#: Where openreview.net links the file of a note edit (a past revision of a paper).
EDIT_ATTACHMENT = "/notes/edits/attachment"


class V2Source:
    api = 2

    def __init__(self, api_url: str = API_URL, username: str | None = None, password: str | None = None):
        import openreview

        self.transport = Transport(api_url, logged_in=bool(username and password))
        self.client = self.transport.call(
            "log in",
            lambda: openreview.api.OpenReviewClient(baseurl=self.transport.api_url, username=username, password=password),
        )
        self.transport.attach(self.client.session)

    def open_venue(self, venue: Venue) -> Venue:
        """The venue with the settings its group publishes; a venue OpenReview does not know is
        an error, one that needs a login says so."""
        try:
            group = self.transport.call(f"read the venue {venue.venue_id}", lambda: self.client.get_group(venue.venue_id))
        except PaperUnavailable as exc:
            if "not found" in str(exc).lower():
                raise DownloadError(f"OpenReview has no venue {venue.venue_id} (API v2 at {self.transport.api_url})") from None
            raise
        return venue.with_settings(group.content or {})

    def submissions(self, venue: Venue) -> Iterator[dict]:
        what = f"list {venue.submission_invitation}"
        notes, total = self.transport.call(what, lambda: self.client.get_notes(
            invitation=venue.submission_invitation, details="replies", limit=PAGE_SIZE, with_count=True))
        offset = 0
        while notes:
            yield from map(note_json, notes)
            offset += len(notes)
            if offset >= total or len(notes) < PAGE_SIZE:
                return
            notes = self.transport.call(what, lambda offset=offset: self.client.get_notes(
                invitation=venue.submission_invitation, details="replies", limit=PAGE_SIZE, offset=offset))

    def pdf_revisions(self, paper_id: str) -> list[Revision]:
        """The note edits of a paper that set its PDF, with their dates."""
        edits = self.transport.call(
            f"list revisions of {paper_id}", lambda: self.client.get_note_edits(note_id=paper_id, sort="tcdate:asc")
        )
        return [
            Revision(id=edit.id, created_at=int(edit.tcdate or edit.cdate or 0))
            for edit in edits
            if edit.note is not None and (edit.note.content or {}).get("pdf")
        ]

    def pdf(self, revision: Revision) -> bytes:
        return self.transport.call(f"download revision {revision.id}", lambda: self._edit_pdf(revision.id))

    def _edit_pdf(self, edit_id: str) -> bytes:
        import openreview

        response = self.client.session.get(
            self.client.baseurl + EDIT_ATTACHMENT, params={"id": edit_id, "name": "pdf"}, headers=self.client.headers
        )
        if response.status_code >= 400:
            is_json = "application/json" in response.headers.get("Content-Type", "")
            raise openreview.OpenReviewException(
                response.json() if is_json else {"name": "Error", "message": response.text or response.reason}
            )
        return response.content
