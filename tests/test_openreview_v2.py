"""`review-bench data download` of an API v2 venue, against a local server playing OpenReview
API v2 for the real ``openreview.api.OpenReviewClient``; then the downloaded venue in `run`,
`data audit`, `data blind`, `data list` and `data export-hf`."""

from __future__ import annotations

import json
import socket

import pytest
from fakes.openreview import PASSWORD, TOKEN, iclr2025_venue
from typer.testing import CliRunner

from benchmarks.openreview import api_v2
from benchmarks.openreview.records import parse_submission
from benchmarks.openreview.venues import ICML_1_5, NEURIPS_1_6, TMLR_RECOMMENDATION, UnknownVenue, resolve
from corpus.dataset import load_folder, read_ratings
from review_bench.cli import build_app

PAPERS = 24
PAGE = 5


@pytest.fixture(scope="module")
def app():
    return build_app()


@pytest.fixture
def venue(monkeypatch):
    monkeypatch.delenv("OPENREVIEW_USERNAME", raising=False)
    monkeypatch.delenv("OPENREVIEW_PASSWORD", raising=False)
    monkeypatch.setattr(api_v2, "PAGE_SIZE", PAGE)
    server = iclr2025_venue(PAPERS).start()
    monkeypatch.setenv("OPENREVIEW_API_BASEURL_V2", server.url)
    yield server
    server.stop()


def invoke(app, *args):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def split_rows(out) -> dict:
    return {**read_ratings(out / "ratings_eval.tsv"), **read_ratings(out / "ratings_train.tsv")}


def papers(out) -> dict[str, dict]:
    return {p["paper_id"]: p for p in map(json.loads, (out / "papers.jsonl").read_text().splitlines())}


def test_download_writes_reviewed_pdfs_reviews_decisions_splits_and_card(app, venue, tmp_path):
    out = tmp_path / "data" / "iclr2025"
    venue.throttle["/notes/edits/attachment"] = 1

    result = invoke(app, "data", "download", "iclr2025", "--out", str(out))

    assert result.exit_code == 0, result.output
    notes = {note["id"]: note for note in venue.notes}
    listed = papers(out)
    # Every decided paper is kept (withdrawn and desk-rejected too); the undecided one is not.
    undecided = [pid for pid, note in notes.items() if note["content"]["venueid"]["value"].endswith("/Submission")]
    assert sorted(listed) == sorted(set(notes) - set(undecided))
    statuses = {pid: p["status"] for pid, p in listed.items()}
    assert sorted(set(statuses.values())) == ["accepted", "desk_rejected", "rejected", "withdrawn"]
    assert {p["decision"] for p in listed.values()} == {
        "Accept (Oral)", "Accept (Spotlight)", "Accept (Poster)", "Reject", "Withdrawn", "Desk Rejected"}
    # Splits: accepted and rejected only, half each, every decision in both halves.
    rows = split_rows(out)
    assert sorted(rows) == sorted(pid for pid, status in statuses.items() if status in ("accepted", "rejected"))
    eval_decisions = {label.decision for _, label in read_ratings(out / "ratings_eval.tsv").values()}
    train_decisions = {label.decision for _, label in read_ratings(out / "ratings_train.tsv").values()}
    assert eval_decisions == train_decisions == {"Accept (Oral)", "Accept (Spotlight)", "Accept (Poster)", "Reject"}
    assert abs(len(read_ratings(out / "ratings_eval.tsv")) - len(read_ratings(out / "ratings_train.tsv"))) <= 1
    # Ratings: ICLR's own numbers, one column per official review, in the order they were posted.
    for pid, (_, label) in rows.items():
        reviews = sorted((r for r in notes[pid]["details"]["replies"] if "Official_Review" in r["invitations"][0]),
                         key=lambda r: r["tcdate"])
        assert label.ratings == [float(r["content"]["rating"]["value"]) for r in reviews]
    # The PDF the reviewers saw: the last one before the first review (not the draft, the rebuttal
    # revision or the camera-ready version), and its text.
    for pid in listed:
        assert listed[pid]["pdf_revision"]["id"] == f"{pid}e-submitted"
        assert (out / "pdfs" / f"{pid}.pdf").read_bytes() == venue.files[f"{pid}e-submitted"]
        text = " ".join((out / "texts" / f"{pid}.txt").read_text().split())
        assert "This is the submitted version." in text and "Under review as a conference paper at ICLR 2025" in text
    requested = {seen.query["id"] for seen in venue.requests_to("/notes/edits/attachment")}
    assert requested == {f"{pid}e-submitted" for pid in listed}
    # Reviews: raw and mapped scores and the texts, for few-shot examples and fine-tuning data.
    reviews = [json.loads(line) for line in (out / "reviews.jsonl").read_text().splitlines()]
    first = reviews[0]
    assert first["rating_raw"] == first["rating"] and first["confidence"] == first["confidence_raw"]
    assert set(first["scores"]) == {"Soundness", "Presentation", "Contribution"}
    assert first["text"]["weaknesses"] == "Limited ablations." and "rating" not in first["text"]
    # Metadata: title, abstract, keywords, dates.
    some = listed[next(iter(rows))]
    assert some["abstract"].startswith("We study") and some["keywords"].endswith("deep learning")
    assert some["submitted"].startswith("2024-09") and some["decided"] == "2025-01-22T00:00:00+00:00"
    # Pagination: the count on the first page, then offsets; a 429 waited out per Retry-After.
    listing = venue.requests_to("/notes")
    assert [seen.query.get("offset") for seen in listing] == [None, "5", "10", "15", "20"]
    assert listing[0].query["count"] == "true" and listing[0].query["details"] == "replies"
    attachments = venue.requests_to("/notes/edits/attachment")
    assert attachments[0].query == attachments[1].query and attachments[1].at - attachments[0].at >= 0.9
    assert all("Authorization" not in seen.headers for seen in venue.seen)

    card = json.loads((out / "dataset.json").read_text())
    assert (card["venue"], card["api_version"], card["family"], card["year"]) == (
        "ICLR.cc/2025/Conference", 2, "iclr", 2025)
    assert card["dates"]["first_review"].startswith("2024-11") and card["dates"]["last_decision"].startswith("2025-01-22")
    assert card["dates"]["first_submission"] <= card["dates"]["last_submission"] < "2024-10-01"
    assert card["counts"]["listed"] == PAPERS and card["counts"]["without_decision"] == 1
    assert card["splits"]["eval"]["papers"] + card["splits"]["train"]["papers"] == len(rows)
    assert card["scales"]["rating"]["to_neurips_form"]["6"] == 6.0 and "6 = marginally above" in \
        card["scales"]["rating"]["description"]
    assert card["counts"]["ratings_not_mapped"] == 0
    assert "before the first official review" in card["submission_version"]
    assert card["blinding"] == {"family": "iclr", "mask_citations_after": None}
    audit = card["leakage_audit"]
    assert audit["text"] == "blind" and audit["papers"] == len(rows)
    assert audit["cue_rates"]["submission_notice"] == {"accepted": 0.0, "rejected": 0.0}
    answered = [seen for seen in venue.seen if seen is not attachments[0]]  # the 429 was retried inside
    assert card["download"]["requests"] == len(answered) and card["download"]["bytes"] == sum(
        seen.sent for seen in answered)

    # A second run resumes: the listing again, no edits, no files.
    venue.seen.clear()
    again = invoke(app, "data", "download", "iclr2025", "--out", str(out))
    assert again.exit_code == 0, again.output
    assert {seen.path for seen in venue.seen} == {"/groups", "/notes"}
    assert "0 PDFs downloaded" in again.output


def test_withdrawn_papers_enter_the_splits_when_asked(app, venue, tmp_path):
    out = tmp_path / "v"
    result = invoke(app, "data", "download", "iclr2025", "--out", str(out), "--include-withdrawn")

    assert result.exit_code == 0, result.output
    decisions = [label.decision for _, label in split_rows(out).values()]
    assert (decisions.count("Reject (Withdrawn)"), decisions.count("Reject (Desk Rejected)")) == (2, 1)
    assert len(decisions) == len(papers(out)) == PAPERS - 1


def test_a_limit_takes_a_sample_stratified_by_decision(app, venue, tmp_path):
    out = tmp_path / "v"
    result = invoke(app, "data", "download", "iclr2025", "--out", str(out), "--limit", "12")

    assert result.exit_code == 0, result.output
    listed = papers(out)
    assert len(listed) == 12 and len(venue.requests_to("/notes/edits/attachment")) == 12
    decisions = [p["decision"] for p in listed.values()]
    # 23 decided papers, 7 of them posters and 7 rejected: each decision keeps its share of the 12.
    assert decisions.count("Reject") in (3, 4) and decisions.count("Accept (Poster)") in (3, 4)


def test_failures_are_one_line_each_and_the_download_goes_on(app, venue, tmp_path):
    out = tmp_path / "v"
    broken, missing = [note["id"] for note in venue.notes[1:3]]
    venue.files[f"{broken}e-submitted"] = b"%PDF-1.4\nnot really a pdf"
    saved = venue.files.pop(f"{missing}e-submitted")

    result = CliRunner().invoke(app, ["data", "download", "iclr2025", "--out", str(out)])

    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert f"failed {broken}: {out}/pdfs/{broken}.pdf: not a readable PDF (corrupted or truncated)" in lines
    # The missing revision falls back to the older draft, the last one before the reviews.
    assert papers(out)[missing]["pdf_revision"]["id"] == f"{missing}e-draft"
    assert "1 papers failed; run the command again to retry them" in lines
    assert broken not in split_rows(out) and len(split_rows(out)) >= 15

    venue.files[f"{missing}e-submitted"] = saved
    (out / "pdfs" / f"{broken}.pdf").unlink()
    venue.files[f"{broken}e-submitted"] = venue.files[f"{missing}e-submitted"]
    again = invoke(app, "data", "download", "iclr2025", "--out", str(out))
    assert again.exit_code == 0, again.output
    assert broken in split_rows(out) and "1 PDFs downloaded" in again.output


def test_a_venue_that_needs_a_login_says_so_and_credentials_open_it(app, venue, tmp_path, monkeypatch):
    venue.login_required = True

    refused = CliRunner().invoke(app, ["data", "download", "iclr2025", "--out", str(tmp_path / "a")])

    assert refused.exit_code == 2
    assert refused.output.strip() == (
        "review-bench: OpenReview refused to read the venue ICLR.cc/2025/Conference without a login: "
        "set OPENREVIEW_USERNAME and OPENREVIEW_PASSWORD")

    monkeypatch.setenv("OPENREVIEW_USERNAME", "me@example.org")
    monkeypatch.setenv("OPENREVIEW_PASSWORD", PASSWORD)
    result = invoke(app, "data", "download", "iclr2025", "--out", str(tmp_path / "b"), "--limit", "6")

    assert result.exit_code == 0, result.output
    (login,) = venue.requests_to("/login")
    assert all(seen.headers["Authorization"] == f"Bearer {TOKEN}" for seen in venue.seen if seen is not login
               and seen.path != "/login" and seen.at > login.at)


def test_unknown_venues_and_no_network_are_one_line_errors(app, venue, tmp_path, monkeypatch):
    missing = CliRunner().invoke(app, ["data", "download", "NeurIPS.cc/2031/Conference", "--out", str(tmp_path)])
    assert missing.exit_code == 2
    assert missing.output.strip() == (
        f"review-bench: OpenReview has no venue NeurIPS.cc/2031/Conference (API v2 at {venue.url})")

    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("OPENREVIEW_API_BASEURL_V2", f"http://127.0.0.1:{port}")
    offline = CliRunner().invoke(app, ["data", "download", "icml2025", "--out", str(tmp_path)])
    assert offline.exit_code == 2
    assert offline.output.strip() == (f"review-bench: cannot reach OpenReview at http://127.0.0.1:{port} "
                                      "(read the venue ICML.cc/2025/Conference): Connection refused")


def test_a_downloaded_venue_is_run_audited_blinded_listed_and_exported(app, venue, tmp_path, shared_datasets,
                                                                       monkeypatch):
    root = tmp_path / "data"
    _small_iclr2022_train(shared_datasets, root)  # what the offline reviewer trains on
    larger = iclr2025_venue(44).start()  # enough rejections for the audit's five folds in one split
    monkeypatch.setenv("OPENREVIEW_API_BASEURL_V2", larger.url)
    try:
        assert invoke(app, "data", "download", "iclr2025", "--out", str(root / "iclr2025")).exit_code == 0
    finally:
        larger.stop()

    run_dir = tmp_path / "run"
    result = invoke(app, "run", "iclr2025", "--data-dir", str(root), "--model", "embedded", "--run-dir", str(run_dir))
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    eval_ids = list(read_ratings(root / "iclr2025" / "ratings_eval.tsv"))
    assert sorted(r["paper_id"] for r in records) == sorted(eval_ids) and all(r["ok"] for r in records)
    assert manifest["dataset"]["name"] == "iclr2025" and manifest["dataset"]["text_mode"] == "blind"
    assert json.loads((run_dir / "metrics.json").read_text())["n"] == len(eval_ids)

    report = tmp_path / "audit.json"
    audited = invoke(app, "data", "audit", "--dataset", str(root / "iclr2025"), "--split", "train", "--text", "blind",
                     "--json", str(report))
    assert audited.exit_code == 0, audited.output
    assert json.loads(report.read_text())["dataset"] == "iclr2025"

    blinded = invoke(app, "data", "blind", "--dataset", str(root / "iclr2025"), "--out", str(tmp_path / "blind"))
    assert blinded.exit_code == 0, blinded.output
    one = eval_ids[0]
    text = " ".join((tmp_path / "blind" / "texts" / f"{one}.txt").read_text().split())
    assert "Under review as a conference paper" not in text and "Anonymous authors" not in text
    assert "This is the submitted version." in text
    assert json.loads((tmp_path / "blind" / "dataset.json").read_text())["venue"] == "ICLR.cc/2025/Conference"

    listed = invoke(app, "data", "list", "--data-dir", str(root))
    assert listed.exit_code == 0, listed.output
    assert "iclr2025" in listed.output and "ICLR.cc/2025/Conference" in listed.output and "iclr2022" in listed.output

    exported = invoke(app, "data", "export-hf", "iclr2025", str(tmp_path / "hf"), "--data-dir", str(root))
    assert exported.exit_code == 0, exported.output
    assert load_folder(tmp_path / "hf", "eval").papers[0].paper_id == eval_ids[0]


def _small_iclr2022_train(shared, root, n=30):
    source, target = shared / "iclr2022", root / "iclr2022"
    (target / "texts").mkdir(parents=True)
    lines = (source / "ratings_train.tsv").read_text().splitlines()[: n + 1]
    (target / "ratings_train.tsv").write_text("\n".join(lines) + "\n")
    for line in lines[1:]:
        pid = line.split("\t")[0]
        (target / "texts" / f"{pid}.txt").symlink_to(source / "texts" / f"{pid}.txt")
    (target / "metadata.tsv").symlink_to(source / "metadata.tsv")


def test_rating_scales_map_onto_the_neurips_form():
    assert [NEURIPS_1_6.to_form(f"{n}: option") for n in range(1, 7)] == [2, 3, 4, 5, 7, 8]
    assert [ICML_1_5.to_form(n) for n in range(1, 6)] == [3, 4, 6, 7, 8]
    assert TMLR_RECOMMENDATION.to_form("Leaning Accept") == 6 and TMLR_RECOMMENDATION.to_form("Reject") == 3
    assert resolve("iclr2025").rating.to_form("6: marginally above the acceptance threshold") == 6
    assert resolve("iclr2026").rating.to_form(0) == 1 and resolve("neurips2024").rating.to_form(11) is None
    assert (resolve("iclr2023").api, resolve("iclr2024").api, resolve("NeurIPS.cc/2022/Conference").api) == (1, 2, 1)
    with pytest.raises(UnknownVenue, match="unknown venue 'cvpr2025'"):
        resolve("cvpr2025")


def test_tmlr_ratings_come_from_the_official_recommendations():
    tmlr = resolve("tmlr")
    review = {"id": "r1", "invitations": ["TMLR/Paper7/-/Review"], "signatures": ["TMLR/Paper7/Reviewer_a"],
              "tcdate": 10, "content": {"summary_of_contributions": {"value": "A study."},
                                        "claims_and_evidence": {"value": "Yes"}}}
    recommendation = {"id": "o1", "invitations": ["TMLR/Paper7/-/Official_Recommendation"],
                      "signatures": ["TMLR/Paper7/Reviewer_a"], "tcdate": 20,
                      "content": {"decision_recommendation": {"value": "Leaning Accept"}}}
    decision = {"id": "d1", "invitations": ["TMLR/Paper7/-/Decision"], "tcdate": 30,
                "content": {"recommendation": {"value": "Accept with minor revision"}}}
    note = {"id": "p7", "content": {"title": {"value": "T"}, "venueid": {"value": "TMLR"}},
            "details": {"replies": [review, recommendation, decision]}}

    submission = parse_submission(note, tmlr)

    assert submission.ratings == [6.0] and submission.reviews[0].rating_raw == "Leaning Accept"
    assert (submission.status, submission.benchmark_decision) == ("accepted", "Accept with minor revision")
    assert submission.reviews[0].text == {"summary_of_contributions": "A study.", "claims_and_evidence": "Yes"}
