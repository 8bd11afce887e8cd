"""Local servers that play OpenReview's APIs for the real openreview-py clients.

``LoopbackOpenReview`` is the HTTP part both APIs share: it records every request, answers a
path with 429 and a Retry-After header once when told to, logs users in, and refuses
anonymous users when the venue needs a login. ``FakeOpenReviewV2`` plays API v2 from the
shapes openreview-py reads (``openreview/api/client.py``: ``Note.from_json``,
``Edit.from_json``, ``get_notes`` with ``count``, ``get_note_edits``; the venue group's
settings as ``openreview/venue/group.py`` writes them): notes whose content fields are
``{"value": ...}``, ``details.replies`` holding reviews, decisions, withdrawals and comments
whose ``invitations`` name them, note edits holding each PDF revision, and the revision's file
at ``/notes/edits/attachment``, where openreview.net links it. ``iclr2025_venue`` builds a
test venue in ICLR 2025's shapes: tiers, rejections, withdrawals, desk rejections, a paper
still without a decision, and PDFs revised before the reviews, after them (rebuttal) and for
the camera-ready version.

Run one by hand: ``PYTHONPATH=.:tests python -m fakes.openreview --papers 40 --port 8765``.
"""

from __future__ import annotations

import argparse
import json
import random
import threading
import time
from dataclasses import dataclass, field
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pymupdf

JSON = "application/json"
TOKEN = "token-123"
PASSWORD = "secret"


def pdf_bytes(text: str, pages: int = 1) -> bytes:
    """A small PDF whose pages carry ``text`` (lines may be long: they are wrapped)."""
    doc = pymupdf.open()
    for _ in range(pages):
        page = doc.new_page()
        page.insert_textbox(pymupdf.Rect(72, 72, 540, 770), text, fontsize=10)
    return doc.tobytes()


@dataclass
class Seen:
    method: str
    path: str
    query: dict
    headers: dict
    at: float
    #: Bytes of the response body.
    sent: int = 0


def error(status: int, name: str, message: str) -> tuple[int, bytes, str]:
    return status, json.dumps({"name": name, "message": message, "status": status}).encode(), JSON


def ok(payload: dict) -> tuple[int, bytes, str]:
    return 200, json.dumps(payload).encode(), JSON


@dataclass
class LoopbackOpenReview:
    seen: list[Seen] = field(default_factory=list)
    #: path -> retry-after seconds of a 429 to answer once, before serving normally.
    throttle: dict[str, int] = field(default_factory=dict)
    #: Anonymous users get 403 ForbiddenError on everything but /login.
    login_required: bool = False
    #: 0: any free port.
    port: int = 0

    def start(self) -> LoopbackOpenReview:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self._serve()

            def do_POST(self):
                self._serve()

            def _serve(self):
                url = urlparse(self.path)
                query = {key: values[0] for key, values in parse_qs(url.query).items()}
                seen = Seen(self.command, url.path, query, dict(self.headers), time.monotonic())
                fake.seen.append(seen)
                if url.path in fake.throttle:
                    body = json.dumps({"name": "RateLimitError", "message": "Too many requests", "status": 429})
                    self._send(seen, 429, body.encode(), JSON, retry_after=fake.throttle.pop(url.path))
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else {}
                if url.path == "/login" and self.command == "POST":
                    self._send(seen, *fake.login(body))
                elif fake.login_required and "Authorization" not in self.headers:
                    self._send(seen, *error(403, "ForbiddenError", "Forbidden"))
                else:
                    self._send(seen, *fake.answer(self.command, url.path, query))

            def _send(self, seen, status, body, kind, retry_after=None):
                seen.sent = len(body)
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                if retry_after is not None:
                    self.send_header("Retry-After", str(retry_after))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def login(self, body: dict) -> tuple[int, bytes, str]:
        if body.get("password") != PASSWORD:
            return error(400, "InvalidCredentials", "Invalid username or password")
        return ok({"token": TOKEN, "user": {"id": body["id"], "profile": {"id": "~Test_User1"}}})

    def answer(self, method: str, path: str, query: dict) -> tuple[int, bytes, str]:
        raise NotImplementedError

    def requests_to(self, path: str) -> list[Seen]:
        return [seen for seen in self.seen if seen.path == path]


# --- API v2 --------------------------------------------------------------------------------


@dataclass
class FakeOpenReviewV2(LoopbackOpenReview):
    venue_id: str = "ICLR.cc/2025/Conference"
    #: The venue group's settings (``content``), submission notes (with ``details.replies``),
    #: note edits by note id, and the files of edits by edit id.
    settings: dict = field(default_factory=dict)
    notes: list[dict] = field(default_factory=list)
    edits: dict[str, list[dict]] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)

    def answer(self, method: str, path: str, query: dict) -> tuple[int, bytes, str]:
        if path == "/groups":
            if query.get("id") != self.venue_id:
                return error(404, "NotFoundError", f"Group Not Found: {query.get('id')}")
            return ok({"groups": [{"id": self.venue_id, "content": self.settings, "readers": ["everyone"],
                                   "members": [], "signatures": ["~Super_User1"]}], "count": 1})
        if path == "/notes" and "invitation" in query:
            wanted = [n for n in self.notes if query["invitation"] in n["invitations"]]
            offset, limit = int(query.get("offset", 0)), min(int(query.get("limit", 1000)), 1000)
            page = [self._with_details(n, query.get("details", "")) for n in wanted[offset:offset + limit]]
            return ok({"notes": page, **({"count": len(wanted)} if query.get("count") == "true" else {})})
        if path == "/notes/edits" and "note.id" in query:
            edits = sorted(self.edits.get(query["note.id"], []), key=lambda e: e["tcdate"])
            return ok({"edits": edits, "count": len(edits)})
        if path == "/notes/edits/attachment" and query.get("name") == "pdf" and query.get("id") in self.files:
            return 200, self.files[query["id"]], "application/pdf"
        return error(404, "NotFoundError", "Not Found")

    @staticmethod
    def _with_details(note: dict, details: str) -> dict:
        shown = {key: value for key, value in note.items() if key != "details"}
        if "replies" in details.split(","):
            shown["details"] = {"replies": note["details"]["replies"]}
        elif "directReplies" in details.split(","):
            shown["details"] = {"directReplies": [r for r in note["details"]["replies"] if r["replyto"] == note["id"]]}
        return shown


def venue_settings(venue_id: str) -> dict:
    """The venue group's content, as openreview-py's venue builder writes it."""
    values = {
        "title": "International Conference on Learning Representations", "subtitle": "ICLR 2025",
        "submission_id": f"{venue_id}/-/Submission", "submission_name": "Submission",
        "submission_venue_id": f"{venue_id}/Submission", "rejected_venue_id": f"{venue_id}/Rejected_Submission",
        "withdrawn_venue_id": f"{venue_id}/Withdrawn_Submission",
        "desk_rejected_venue_id": f"{venue_id}/Desk_Rejected_Submission",
        "review_name": "Official_Review", "review_rating": "rating", "review_confidence": "confidence",
        "decision_name": "Decision", "decision_field_name": "decision",
        "meta_review_name": "Meta_Review", "meta_review_recommendation": "recommendation",
    }
    return {key: {"value": value} for key, value in values.items()}


DAY = 86_400_000
#: ICLR 2025: submissions until 2024-10-01, reviews released 2024-11-12, decisions 2025-01-22.
SUBMITTED, REVIEWED, DECIDED = 1_727_740_800_000, 1_731_369_600_000, 1_737_504_000_000
OUTCOMES = [
    ("Accept (Oral)", "ICLR 2025 Oral"), ("Accept (Spotlight)", "ICLR 2025 Spotlight"),
    ("Accept (Poster)", "ICLR 2025 Poster"), ("Accept (Poster)", "ICLR 2025 Poster"),
    ("Reject", "Submitted to ICLR 2025"), ("Reject", "Submitted to ICLR 2025"), ("Reject", "Submitted to ICLR 2025"),
]
TOPICS = ["sparse attention for long documents", "graph neural networks for molecules", "diffusion models for audio",
          "offline reinforcement learning with priors", "calibration of large language models",
          "federated learning under label noise", "neural operators for fluid dynamics", "contrastive pretraining"]


def _value(**fields) -> dict:
    return {key: {"value": value} for key, value in fields.items()}


def _reply(paper_id: str, group: str, venue_id: str, suffix: str, name: str, signature: str, at: int,
           replyto: str | None = None, **content) -> dict:
    """A note replying in ``paper_id``'s forum through ``<group>/-/<name>``."""
    return {"id": f"{paper_id}{suffix}", "forum": paper_id, "replyto": replyto or paper_id,
            "invitations": [f"{group}/-/{name}", f"{venue_id}/-/Edit"], "signatures": [signature],
            "readers": ["everyone"], "cdate": at, "tcdate": at, "tmdate": at, "content": _value(**content)}


def paper_text(title: str, topic: str, version: str, accepted_view: bool, seed: int) -> str:
    """A paper's PDF text as the ICLR 2025 template prints it: the running header, the
    anonymous author block (or authors in the camera-ready version), abstract and sections."""
    rng = random.Random(seed)
    header = "Published as a conference paper at ICLR 2025" if accepted_view else \
        "Under review as a conference paper at ICLR 2025"
    authors = "Ada Lovelace, Alan Turing\nUniversity of Cambridge\n{ada,alan}@cam.ac.uk" if accepted_view else \
        "Anonymous authors\nPaper under double-blind review"
    sentences = [f"We study {topic} and show a {rng.choice(['simple', 'general', 'fast'])} method that improves "
                 f"accuracy by {rng.randint(2, 9)} points on {rng.randint(3, 7)} benchmarks." for _ in range(6)]
    return (f"{header}\n\n{title.upper()}\n\n{authors}\n\nABSTRACT\n\n{' '.join(sentences[:3])}\n\n"
            f"1 INTRODUCTION\n\n{' '.join(sentences[3:])} This is the {version} version.\n\n"
            f"2 METHOD\n\nWe minimise a loss over parameters with gradient descent and report means over seeds.\n\n"
            f"REFERENCES\n\nA. Author. A prior paper on {topic}. In ICLR, 2023.\n")


def iclr2025_venue(papers: int = 24, *, venue_id: str = "ICLR.cc/2025/Conference", seed: int = 0,
                   **server) -> FakeOpenReviewV2:
    """A venue of ``papers`` submissions in ICLR 2025's shapes (see the module's docstring).
    Every 11th paper is withdrawn after its reviews, every 13th desk-rejected, the last one has
    no decision yet; the others cycle through oral, spotlight, poster and reject."""
    fake = FakeOpenReviewV2(venue_id=venue_id, settings=venue_settings(venue_id), **server)
    rng = random.Random(seed)
    for number in range(1, papers + 1):
        paper_id = f"p{number:03d}{rng.choice('abcdefgh')}X"
        group = f"{venue_id}/Submission{number}"
        title = f"On {TOPICS[number % len(TOPICS)]} ({number})"
        topic = TOPICS[number % len(TOPICS)]
        decision, venue_name = OUTCOMES[number % len(OUTCOMES)]
        status = "withdrawn" if number % 11 == 0 else "desk_rejected" if number % 13 == 0 else \
            "undecided" if number == papers else ("accepted" if decision.startswith("Accept") else "rejected")
        submitted = SUBMITTED - rng.randint(1, 20) * DAY
        reply = partial(_reply, paper_id, group, venue_id)
        replies = []
        if status != "desk_rejected":
            for reviewer in range(3 + number % 2):
                rating = rng.choice([1, 3, 5, 6, 8, 10] if status != "accepted" else [5, 6, 8, 8, 10])
                replies.append(reply(
                    f"r{reviewer}", "Official_Review", f"{group}/Reviewer_{'abcd'[reviewer]}x",
                    REVIEWED - (5 - reviewer) * DAY, summary=f"The paper studies {topic}.",
                    soundness=rng.randint(1, 4), presentation=rng.randint(1, 4), contribution=rng.randint(1, 4),
                    strengths="Clear writing; strong baselines.", weaknesses="Limited ablations.",
                    questions="How sensitive is the method to the step size?",
                    flag_for_ethics_review=["No ethics review needed."], rating=rating, confidence=rng.randint(2, 5),
                    code_of_conduct="Yes"))
            replies.append(reply("c0", "Official_Comment", f"{group}/Authors", REVIEWED + 3 * DAY,
                                 replyto=f"{paper_id}r0", comment="We thank the reviewer and added an ablation."))
        if status in ("accepted", "rejected"):
            replies.append(reply("d", "Decision", f"{venue_id}/Program_Chairs", DECIDED, title="Paper Decision",
                                 decision=decision, comment="Thank you for submitting."))
        elif status == "withdrawn":
            replies.append(reply("w", "Withdrawal", f"{group}/Authors", REVIEWED + 10 * DAY,
                                 withdrawal_confirmation="I have read and agree with the venue's withdrawal policy."))
        elif status == "desk_rejected":
            replies.append(reply("x", "Desk_Rejection", f"{venue_id}/Program_Chairs", SUBMITTED + 5 * DAY,
                                 desk_reject_comments="Exceeds the page limit."))
        venueid, shown_venue = {
            "accepted": (venue_id, venue_name), "rejected": (f"{venue_id}/Rejected_Submission", "Submitted to ICLR 2025"),
            "withdrawn": (f"{venue_id}/Withdrawn_Submission", "ICLR 2025 Conference Withdrawn Submission"),
            "desk_rejected": (f"{venue_id}/Desk_Rejected_Submission", "ICLR 2025 Conference Desk Rejected Submission"),
            "undecided": (f"{venue_id}/Submission", "ICLR 2025 Conference Submission"),
        }[status]
        fake.notes.append({
            "id": paper_id, "forum": paper_id, "number": number, "domain": venue_id,
            "invitations": [f"{venue_id}/-/Submission", f"{venue_id}/-/Post_Submission", f"{venue_id}/-/Edit"],
            "readers": ["everyone"], "writers": [venue_id, f"{group}/Authors"], "signatures": [f"{group}/Authors"],
            "cdate": submitted, "tcdate": submitted, "mdate": DECIDED, "tmdate": DECIDED + DAY, "odate": SUBMITTED,
            "content": _value(
                title=title, abstract=f"We study {topic}. Our method is simple and fast.",
                keywords=[topic.split()[-1], "deep learning"], primary_area="other topics in machine learning",
                pdf=f"/pdf/{paper_id}camera.pdf", venue=shown_venue, venueid=venueid,
                _bibtex=f"@inproceedings{{anonymous2025on{number}}}"),
            "details": {"replies": replies},
        })
        versions = [("draft", submitted, f"{venue_id}/-/Submission", False),
                    ("submitted", SUBMITTED - DAY // 2, f"{venue_id}/-/Submission", False),
                    ("rebuttal", REVIEWED + 8 * DAY, f"{group}/-/Rebuttal_Revision", False)]
        if status == "accepted":
            versions.append(("camera-ready", DECIDED + 30 * DAY, f"{group}/-/Camera_Ready_Revision", True))
        edits = [{
            "id": f"{paper_id}e-post", "invitation": f"{venue_id}/-/Post_Submission", "domain": venue_id,
            "signatures": [venue_id], "cdate": SUBMITTED + DAY, "tcdate": SUBMITTED + DAY,
            "note": {"id": paper_id, "content": _value(authors=["Anonymous"])},
        }]
        for version, at, invitation, camera_ready in versions:
            edit_id = f"{paper_id}e-{version}"
            edits.append({"id": edit_id, "invitation": invitation, "domain": venue_id, "signatures": [f"{group}/Authors"],
                          "cdate": at, "tcdate": at, "tmdate": at,
                          "note": {"id": paper_id, "content": _value(pdf=f"/pdf/{edit_id}.pdf", title=title)}})
            fake.files[edit_id] = pdf_bytes(paper_text(title, topic, version, camera_ready, seed=number), pages=2)
        fake.edits[paper_id] = edits
    return fake


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve a fake ICLR 2025 on OpenReview API v2 (loopback).")
    parser.add_argument("--papers", type=int, default=40)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    fake = iclr2025_venue(args.papers, port=args.port).start()
    print(f"serving {args.papers} papers of {fake.venue_id} at {fake.url}; "
          f"export OPENREVIEW_API_BASEURL_V2={fake.url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
