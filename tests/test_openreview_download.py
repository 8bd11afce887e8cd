"""`review-bench data download` against a local server playing the OpenReview API v1."""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pymupdf
import pytest
import typer
from typer.testing import CliRunner

from benchmarks import openreview_download as od
from benchmarks.download_cli import download_command
from corpus.dataset import read_ratings

VENUE = "ICLR.cc/2022/Conference"
INVITATION = f"{VENUE}/-/Blind_Submission"


def pdf_bytes(text: str) -> bytes:
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), text, fontsize=12)
    return doc.tobytes()


def review(at: int, recommendation: str) -> dict:
    content = {"recommendation": recommendation}
    return {"invitation": f"{VENUE}/Paper1/-/Official_Review", "tcdate": at, "content": content}


def decision(value: str) -> dict:
    return {"invitation": f"{VENUE}/Paper1/-/Decision", "tcdate": 9000, "content": {"decision": value}}


def note(paper_id: str, title: str, replies: list[dict]) -> dict:
    return {
        "id": paper_id,
        "forum": paper_id,
        "invitation": INVITATION,
        "content": {"title": title, "keywords": ["graphs", "theory"], "pdf": f"/pdf/{paper_id}.pdf"},
        "details": {"directReplies": replies},
    }


def revision(revision_id: str, at: int, with_pdf: bool = True) -> dict:
    content = {"pdf": f"/pdf/{revision_id}.pdf"} if with_pdf else {"title": "retitled"}
    return {"id": revision_id, "tcdate": at, "invitation": INVITATION, "content": content}


# Reviews come at t=2000..; revisions before that are what the reviewers saw.
NOTES = [
    note("paperA", "A  paper\non graphs", [
        review(2100, "6: marginally above the acceptance threshold"),
        review(2000, "8: accept, good paper"),
        {"invitation": f"{VENUE}/Paper1/-/Official_Comment", "tcdate": 2500, "content": {"comment": "thanks"}},
        decision("Accept (Poster)"),
    ]),
    note("paperB", "B paper", [
        review(2000, "3: reject, not good enough"),
        review(2200, "5: marginally below the acceptance threshold"),
        review(2300, "1: strong reject"),
        decision("Reject"),
    ]),
    note("paperC", "C paper", [review(2000, "10: strong accept"), decision("Accept (Oral)")]),
    note("paperD", "Withdrawn paper", [review(2000, "3: reject, not good enough")]),
]
REVISIONS = {
    "paperA": [
        revision("A-camera", 5000),
        revision("A-draft", 500),
        revision("A-submitted", 1000),
        revision("A-retitled", 1500, with_pdf=False),
    ],
    "paperB": [revision("B-submitted", 900), revision("B-rebuttal", 3000)],
    "paperC": [revision("C-submitted", 100)],
    "paperD": [revision("D-submitted", 100)],
}
PDFS = {
    revision_id: pdf_bytes(f"Version {revision_id} of the paper")
    for revisions in REVISIONS.values()
    for revision_id in (r["id"] for r in revisions if "pdf" in r["content"])
}


@dataclass
class Seen:
    method: str
    path: str
    query: dict
    headers: dict
    at: float


@dataclass
class FakeOpenReview:
    seen: list[Seen] = field(default_factory=list)
    #: path -> retry-after seconds of a 429 to answer once, before serving normally.
    throttle: dict[str, int] = field(default_factory=dict)

    def start(self) -> FakeOpenReview:
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
                fake.seen.append(Seen(self.command, url.path, query, dict(self.headers), time.monotonic()))
                if url.path in fake.throttle:
                    self._send(429, b'{"name": "RateLimitError"}', retry_after=fake.throttle.pop(url.path))
                    return
                status, body, kind = fake.answer(self.command, url.path, query, self._body())
                self._send(status, body, kind)

            def _body(self) -> dict:
                length = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(length)) if length else {}

            def _send(self, status, body, kind="application/json", retry_after=None):
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                if retry_after is not None:
                    self.send_header("Retry-After", str(retry_after))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, method: str, path: str, query: dict, body: dict) -> tuple[int, bytes, str]:
        if method == "POST" and path == "/login":
            if body["password"] != "secret":
                refusal = {"name": "InvalidCredentials", "message": "Invalid username or password"}
                return 400, json.dumps(refusal).encode(), "application/json"
            user = {"id": body["id"], "profile": {"id": "~Test_User1"}}
            return 200, json.dumps({"token": "token-123", "user": user}).encode(), "application/json"
        if path == "/notes" and query.get("invitation") == INVITATION and query.get("details") == "directReplies":
            offset, limit = int(query.get("offset", 0)), int(query.get("limit", 1000))
            page = {"notes": NOTES[offset:offset + limit], "count": len(NOTES)}
            return 200, json.dumps(page).encode(), "application/json"
        if path == "/references" and query.get("original") == "true" and query.get("referent") in REVISIONS:
            return 200, json.dumps({"references": REVISIONS[query["referent"]]}).encode(), "application/json"
        if path == "/references/pdf" and query.get("id") in PDFS:
            return 200, PDFS[query["id"]], "application/pdf"
        return 404, b'{"name": "NotFoundError", "message": "Not Found"}', "application/json"

    def requests_to(self, path: str) -> list[Seen]:
        return [seen for seen in self.seen if seen.path == path]


@pytest.fixture
def openreview_server(monkeypatch):
    monkeypatch.delenv("OPENREVIEW_USERNAME", raising=False)
    monkeypatch.delenv("OPENREVIEW_PASSWORD", raising=False)
    monkeypatch.setattr(od, "PAGE_SIZE", 2)  # two pages of notes
    server = FakeOpenReview().start()
    yield server
    server.stop()


def run_download(server: FakeOpenReview, *args: str):
    app = typer.Typer()
    app.command()(download_command)
    return CliRunner().invoke(app, ["iclr2022", "--api-url", server.url, *args])


def test_download_writes_the_benchmark_layout_with_the_submitted_pdfs(openreview_server, tmp_path):
    out = tmp_path / "iclr2022"
    openreview_server.throttle["/references/pdf"] = 1

    result = run_download(openreview_server, "--out", str(out))

    assert result.exit_code == 0, result.output
    ratings = read_ratings(out / "ratings_all.tsv")
    assert {paper_id: (label.ratings, label.decision) for paper_id, (_, label) in ratings.items()} == {
        "paperA": ([8.0, 6.0], "Accept (Poster)"),
        "paperB": ([3.0, 5.0, 1.0], "Reject"),
        "paperC": ([10.0], "Accept (Oral)"),
    }
    header = (out / "ratings_all.tsv").read_text().splitlines()[0]
    assert header == "paper_id\t0\t1\t2\t3\t4\t5\t6\tdecision"
    assert (out / "metadata.tsv").read_text().splitlines() == [
        "paper_id\ttitle\tkeywords",
        "paperA\tA paper on graphs\tgraphs, theory",
        "paperB\tB paper\tgraphs, theory",
        "paperC\tC paper\tgraphs, theory",
    ]
    # The version reviewers saw: newest PDF before the first review, never the camera-ready.
    for paper_id, version in [("paperA", "A-submitted"), ("paperB", "B-submitted"), ("paperC", "C-submitted")]:
        assert (out / "pdfs" / f"{paper_id}.pdf").read_bytes() == PDFS[version]
        assert f"Version {version} of the paper" in (out / "texts" / f"{paper_id}.txt").read_text()
    assert not (out / "pdfs" / "paperD.pdf").exists()
    assert sorted(p.name for p in out.iterdir()) == ["metadata.tsv", "pdfs", "ratings_all.tsv", "texts"]
    assert "3 PDFs downloaded" in result.output and "1 of 4 listed papers skipped" in result.output

    # The 429 was answered by waiting Retry-After, then asking again.
    pdf_requests = openreview_server.requests_to("/references/pdf")
    assert pdf_requests[0].query == pdf_requests[1].query
    assert pdf_requests[1].at - pdf_requests[0].at >= 0.9
    assert len(pdf_requests) == 4
    assert [seen.query["offset"] for seen in openreview_server.requests_to("/notes")] == ["0", "2", "4"]
    assert not openreview_server.requests_to("/login")
    assert all("Authorization" not in seen.headers for seen in openreview_server.seen)

    # A second run resumes: the listing is read again, nothing is downloaded.
    openreview_server.seen.clear()
    again = run_download(openreview_server, "--out", str(out))
    assert again.exit_code == 0, again.output
    assert {seen.path for seen in openreview_server.seen} == {"/notes"}
    assert "0 PDFs downloaded, 0 texts extracted" in again.output
    assert (out / "pdfs" / "paperA.pdf").read_bytes() == PDFS["A-submitted"]


def test_split_files_keep_their_papers_in_their_order(openreview_server, tmp_path):
    out = tmp_path / "subset"
    split = tmp_path / "ratings_eval.tsv"
    split.write_text("paper_id\t0\tdecision\npaperC\t8.0\tAccept (Oral)\npaperA\t6.0\tAccept (Poster)\n")

    result = run_download(openreview_server, "--out", str(out), "--split-file", str(split), "--limit", "1")

    assert result.exit_code == 0, result.output
    assert list(read_ratings(out / "ratings_eval.tsv")) == ["paperA"]  # the first listed of the split
    assert not (out / "ratings_all.tsv").exists()
    assert sorted(p.name for p in (out / "pdfs").iterdir()) == ["paperA.pdf"]

    result = run_download(openreview_server, "--out", str(out), "--split-file", str(split))

    assert list(read_ratings(out / "ratings_eval.tsv")) == ["paperC", "paperA"]
    assert [seen.query["id"] for seen in openreview_server.requests_to("/references/pdf")] == [
        "A-submitted", "C-submitted",
    ]


def test_credentials_from_the_environment_log_in(openreview_server, tmp_path, monkeypatch):
    import openreview.tools

    # openreview-py logs in at the API v2 address it derives from the v1 one.
    monkeypatch.setattr(openreview.tools, "LOCAL_API_V2", openreview_server.url)
    monkeypatch.setenv("OPENREVIEW_USERNAME", "me@example.org")
    monkeypatch.setenv("OPENREVIEW_PASSWORD", "secret")

    result = run_download(openreview_server, "--out", str(tmp_path / "d"), "--limit", "1")

    assert result.exit_code == 0, result.output
    (login,) = openreview_server.requests_to("/login")
    assert login.method == "POST"
    after_login = [seen for seen in openreview_server.seen if seen.path != "/login"]
    assert after_login and all(seen.headers["Authorization"] == "Bearer token-123" for seen in after_login)

    monkeypatch.setenv("OPENREVIEW_PASSWORD", "wrong")
    refused = run_download(openreview_server, "--out", str(tmp_path / "d"))

    assert refused.exit_code == 2
    assert refused.output.strip() == "review-bench: OpenReview refused to log in: Invalid username or password"


def test_a_missing_pdf_is_reported_and_retried_on_the_next_run(openreview_server, tmp_path, monkeypatch):
    out = tmp_path / "d"
    monkeypatch.setitem(REVISIONS, "paperB", [revision("B-gone", 900)])

    result = run_download(openreview_server, "--out", str(out))

    assert result.exit_code == 1
    assert "failed paperB: OpenReview refused to download revision B-gone: Not Found" in result.output
    assert list(read_ratings(out / "ratings_all.tsv")) == ["paperA", "paperC"]

    monkeypatch.setitem(REVISIONS, "paperB", [revision("B-submitted", 900)])
    result = run_download(openreview_server, "--out", str(out))

    assert result.exit_code == 0, result.output
    assert list(read_ratings(out / "ratings_all.tsv")) == ["paperA", "paperB", "paperC"]
    assert "1 PDFs downloaded" in result.output


def test_unreachable_openreview_is_a_one_line_error(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENREVIEW_USERNAME", raising=False)
    monkeypatch.delenv("OPENREVIEW_PASSWORD", raising=False)
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = typer.Typer()
    app.command()(download_command)

    result = CliRunner().invoke(app, ["iclr2022", "--api-url", f"http://127.0.0.1:{port}", "--out", str(tmp_path)])

    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"review-bench: cannot reach OpenReview at http://127.0.0.1:{port} (list {INVITATION}): Connection refused"
    ]


@pytest.mark.parametrize(
    "name, message",
    [("iclr2024", "served by OpenReview API v2"), ("neurips2022", "unknown benchmark 'neurips2022'")],
)
def test_venues_it_cannot_read_are_refused(name, message, tmp_path):
    app = typer.Typer()
    app.command()(download_command)

    result = CliRunner().invoke(app, [name, "--out", str(tmp_path), "--api-url", "http://127.0.0.1:9"])

    assert result.exit_code == 2
    assert message in result.output


def test_iclr2019_decisions_come_from_the_meta_review():
    paper = "ICLR.cc/2019/Conference/-/Paper7"
    meta = {"invitation": f"{paper}/Meta_Review", "content": {"recommendation": "Accept (Poster)"}}
    old_review = {"invitation": f"{paper}/Official_Review", "tcdate": 5, "content": {"rating": "7: Good paper, accept"}}

    submission = od.parse_submission("x", {"title": "T", "keywords": []}, [old_review, meta])

    assert (submission.ratings, submission.decision, submission.first_review_at) == ([7.0], "Accept (Poster)", 5)
