"""`review-bench data download` against a local server playing the OpenReview API v1."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass

import pytest
import typer
from fakes.openreview import LoopbackOpenReview, error, ok, pdf_bytes
from typer.testing import CliRunner

from benchmarks.download_cli import download_command
from benchmarks.openreview import api_v1
from benchmarks.openreview.records import parse_submission
from benchmarks.openreview.venues import resolve
from corpus.dataset import read_ratings

VENUE = "ICLR.cc/2022/Conference"
INVITATION = f"{VENUE}/-/Blind_Submission"


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
class FakeOpenReviewV1(LoopbackOpenReview):
    def answer(self, method: str, path: str, query: dict) -> tuple[int, bytes, str]:
        if path == "/notes" and query.get("invitation") == INVITATION and query.get("details") == "directReplies":
            offset, limit = int(query.get("offset", 0)), int(query.get("limit", 1000))
            return ok({"notes": NOTES[offset:offset + limit], "count": len(NOTES)})
        if path == "/references" and query.get("original") == "true" and query.get("referent") in REVISIONS:
            return ok({"references": REVISIONS[query["referent"]]})
        if path == "/references/pdf" and query.get("id") in PDFS:
            return 200, PDFS[query["id"]], "application/pdf"
        return error(404, "NotFoundError", "Not Found")


@pytest.fixture
def openreview_server(monkeypatch):
    monkeypatch.delenv("OPENREVIEW_USERNAME", raising=False)
    monkeypatch.delenv("OPENREVIEW_PASSWORD", raising=False)
    monkeypatch.setattr(api_v1, "PAGE_SIZE", 2)  # two pages of notes
    server = FakeOpenReviewV1().start()
    yield server
    server.stop()


def all_ratings(out) -> dict:
    return {**read_ratings(out / "ratings_eval.tsv"), **read_ratings(out / "ratings_train.tsv")}


def run_download(server: FakeOpenReviewV1, *args: str):
    app = typer.Typer()
    app.command()(download_command)
    return CliRunner().invoke(app, ["iclr2022", "--api-url", server.url, *args])


def test_download_writes_the_benchmark_layout_with_the_submitted_pdfs(openreview_server, tmp_path):
    out = tmp_path / "iclr2022"
    openreview_server.throttle["/references/pdf"] = 1

    result = run_download(openreview_server, "--out", str(out))

    assert result.exit_code == 0, result.output
    # One paper per decision: the stratified draw puts the two with the largest share in eval.
    assert list(read_ratings(out / "ratings_eval.tsv")) == ["paperA", "paperC"]
    assert list(read_ratings(out / "ratings_train.tsv")) == ["paperB"]
    assert {paper_id: (label.ratings, label.decision) for paper_id, (_, label) in all_ratings(out).items()} == {
        "paperA": ([8.0, 6.0], "Accept (Poster)"),
        "paperB": ([3.0, 5.0, 1.0], "Reject"),
        "paperC": ([10.0], "Accept (Oral)"),
    }
    header = (out / "ratings_eval.tsv").read_text().splitlines()[0]
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
    assert sorted(p.name for p in out.iterdir()) == [
        "dataset.json", "metadata.tsv", "papers.jsonl", "pdfs", "ratings_eval.tsv", "ratings_train.tsv",
        "reviews.jsonl", "revisions.jsonl", "texts"]
    assert "3 PDFs downloaded" in result.output and "1 of 4 listed papers skipped" in result.output
    card = json.loads((out / "dataset.json").read_text())
    assert (card["venue"], card["api_version"], card["counts"]["by_status"]) == (VENUE, 1, {"accepted": 2, "rejected": 1})
    assert card["dates"]["first_review"] == "1970-01-01T00:00:02+00:00"
    revisions = [json.loads(line) for line in (out / "revisions.jsonl").read_text().splitlines()]
    assert {r["paper_id"]: r["id"] for r in revisions} == {
        "paperA": "A-submitted", "paperB": "B-submitted", "paperC": "C-submitted"}

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
    assert not (out / "ratings_train.tsv").exists()
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
    assert list(all_ratings(out)) == ["paperA", "paperC"]

    monkeypatch.setitem(REVISIONS, "paperB", [revision("B-submitted", 900)])
    result = run_download(openreview_server, "--out", str(out))

    assert result.exit_code == 0, result.output
    assert list(all_ratings(out)) == ["paperA", "paperC", "paperB"]
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


def test_an_unknown_venue_is_a_one_line_error(tmp_path):
    app = typer.Typer()
    app.command()(download_command)

    result = CliRunner().invoke(app, ["neurips1999", "--out", str(tmp_path), "--api-url", "http://127.0.0.1:9"])

    assert result.exit_code == 2
    assert result.output.startswith("review-bench: unknown venue 'neurips1999': give one of iclr2018")
    assert len(result.output.strip().splitlines()) == 1


def test_iclr2019_decisions_come_from_the_meta_review():
    paper = "ICLR.cc/2019/Conference/-/Paper7"
    meta = {"invitation": f"{paper}/Meta_Review", "content": {"recommendation": "Accept (Poster)"}}
    old_review = {"invitation": f"{paper}/Official_Review", "tcdate": 5, "content": {"rating": "7: Good paper, accept"}}

    submission = parse_submission(
        {"id": "x", "content": {"title": "T", "keywords": []}, "details": {"directReplies": [old_review, meta]}},
        resolve("iclr2019"),
    )

    assert (submission.ratings, submission.decision, submission.first_review_at) == ([7.0], "Accept (Poster)", 5)
