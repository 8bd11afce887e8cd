"""The files of a downloaded venue, in the layout ``review-bench run`` reads::

    ratings_<split>.tsv   paper_id, ratings on the NeurIPS form (one column per review), decision
    metadata.tsv          paper_id, title, keywords
    papers.jsonl          one line per paper: abstract, status, decision, dates, the PDF revision
    reviews.jsonl         one line per official review: raw and mapped scores, its text
    pdfs/<paper_id>.pdf   the version the reviewers saw; texts/<paper_id>.txt its text
    dataset.json          the card: venue, API, dates, counts, rating scale and mapping, the
                          submission version policy, the leakage audit of the blinded texts

Rows are written only for papers whose text exists, so every row can be reviewed. Withdrawn
and desk-rejected papers are in papers.jsonl and texts/, and in the splits only with
``--include-withdrawn`` (as "Reject (Withdrawn)", "Reject (Desk Rejected)").
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.openreview.records import Submission
from corpus.dataset import CARD_FILE
from corpus.files import atomic_write

#: The ICLR 2022 benchmark's files have seven rating columns; more reviews widen the file.
MIN_RATING_COLUMNS = 7
SUBMISSION_VERSION_POLICY = (
    "the PDF the reviewers saw: the newest revision posted before the first official review (never a rebuttal "
    "revision or the camera-ready); without reviews, the newest before the decision or withdrawal, else the oldest"
)


def write_dataset(out: Path, venue, source, chosen: list[Submission], splits: dict[str, list[str]],
                  revisions: dict[str, dict], options, report) -> None:
    ready = {s.paper_id: s for s in chosen if (out / "texts" / f"{s.paper_id}.txt").exists()}
    width = max([MIN_RATING_COLUMNS, *(len(s.ratings) for s in ready.values())])
    split_counts = {}
    for split, ids in splits.items():
        papers = [ready[paper_id] for paper_id in ids if paper_id in ready]
        rows = [[s.paper_id, *(f"{r:.1f}" for r in s.ratings), *[""] * (width - len(s.ratings)),
                 s.benchmark_decision] for s in papers]
        atomic_write(out / f"ratings_{split}.tsv", _tsv([["paper_id", *map(str, range(width)), "decision"], *rows]))
        report.written[split] = len(rows)
        split_counts[split] = {"papers": len(rows), "accepted": sum(s.status == "accepted" for s in papers)}
    atomic_write(out / "metadata.tsv", _tsv([["paper_id", "title", "keywords"],
                                             *([s.paper_id, s.title, s.keywords] for s in ready.values())]))
    split_of = {paper_id: split for split, ids in splits.items() for paper_id in ids}
    atomic_write(out / "papers.jsonl", "".join(
        json.dumps(_paper_line(s, split_of.get(s.paper_id), revisions.get(s.paper_id), s.paper_id in ready)) + "\n"
        for s in chosen))
    atomic_write(out / "reviews.jsonl", "".join(
        json.dumps({"paper_id": s.paper_id, **_review_line(review)}) + "\n" for s in chosen for review in s.reviews))
    card = _card(out, venue, source, chosen, ready, split_counts, options, report)
    atomic_write(out / CARD_FILE, json.dumps(card, indent=2) + "\n")


def _paper_line(s: Submission, split: str | None, revision: dict | None, has_text: bool) -> dict:
    return {
        "paper_id": s.paper_id, "number": s.number, "title": s.title, "abstract": s.abstract,
        "keywords": s.keywords, "status": s.status, "decision": s.decision,
        "benchmark_decision": s.benchmark_decision, "split": split, "has_text": has_text,
        "submitted": _iso(s.submitted_at), "first_review": _iso(s.first_review_at), "decided": _iso(s.decided_at),
        "ratings": s.ratings, "ratings_raw": [review.rating_raw for review in s.reviews],
        "pdf_revision": {"id": revision["id"], "posted": _iso(revision["posted_at"])} if revision else None,
    }


def _review_line(review) -> dict:
    line = asdict(review)
    line["posted"] = _iso(line.pop("posted_at"))
    return {"review_id": line.pop("id"), **line}


def _card(out: Path, venue, source, chosen, ready, split_counts, options, report) -> dict:
    reviews = [review for s in chosen for review in s.reviews]
    previous = _read_card(out)
    return {
        "name": out.name,
        "venue": venue.venue_id,
        "short_name": venue.name,
        "family": venue.family,
        "year": venue.year,
        "api_version": source.api,
        "api_url": source.transport.api_url,
        "downloaded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "dates": {
            **_span("submission", [s.submitted_at for s in chosen]),
            **_span("review", [r.posted_at for r in reviews]),
            **_span("decision", [s.decided_at for s in chosen]),
        },
        "counts": {
            "listed": report.listed,
            "without_decision": report.no_decision,
            "chosen": len(chosen),
            "with_text": len(ready),
            "failed": len(report.failures),
            "by_status": dict(Counter(s.status for s in chosen)),
            "by_decision": dict(Counter(s.benchmark_decision for s in chosen)),
            "reviews": len(reviews),
            "ratings_not_mapped": sum(r.rating_raw is not None and r.rating is None for r in reviews),
            "rating_values": {str(k): v for k, v in sorted(Counter(str(r.rating_raw) for r in reviews).items())},
        },
        "splits": split_counts,
        "split_policy": {
            "seed": options.seed, "eval_fraction": options.eval_fraction, "stratified_by": "decision",
            "include_withdrawn": options.include_withdrawn, "from_split_files": options.splits is not None,
            "limit": options.limit,
        },
        "scales": venue.card(),
        "ratings_files": "ratings on the NeurIPS form (scales.rating.to_neurips_form); the venue's own values are "
                         "in reviews.jsonl (rating_raw, confidence_raw, scores_raw)",
        "submission_version": SUBMISSION_VERSION_POLICY,
        # Texts of the versions the reviewers saw cite nothing after the deadline: no masking.
        "blinding": {"family": venue.family, "mask_citations_after": None},
        "download": {"requests": report.requests, "bytes": report.bytes, "pdf_bytes": report.pdf_bytes,
                     "seconds": round(report.seconds, 1)},
        "leakage_audit": previous.get("leakage_audit"),
    }


def add_leakage_audit(out: Path, splits: dict[str, list[str]]) -> None:
    """Audit the blinded texts of the split papers with the independent detectors, into the card."""
    from dataclasses import replace

    from benchmarks.leakage.audit import FOLDS, audit_cues, collect_cues
    from corpus.dataset import DatasetError, load_folder

    try:
        parts = [load_folder(out, split) for split in splits]
    except DatasetError as exc:
        audit = {"skipped": str(exc)}
    else:
        dataset = replace(parts[0], split="+".join(splits), papers=[p for part in parts for p in part.papers])
        records, labels = collect_cues(dataset, "blind")
        if min(int(labels.sum()), int((labels == 0).sum())) < FOLDS:
            audit = {"skipped": f"needs at least {FOLDS} accepted and {FOLDS} rejected papers with text"}
        else:
            report = audit_cues(dataset, "blind", records, labels)
            audit = {
                "text": "blind", "papers": len(labels), "detectors": "benchmarks/leakage/detectors.py",
                "removable_cues_balanced_accuracy": report.cue_balanced_accuracy,
                "removable_cues_ci": report.cue_balanced_accuracy_ci,
                "length_only_balanced_accuracy": report.length_balanced_accuracy,
                "all_cues_balanced_accuracy": report.all_cues_balanced_accuracy,
                "top_removable_cues": report.top_cues,
                "cue_rates": {row.name: {"accepted": round(row.accepted, 4), "rejected": round(row.rejected, 4)}
                              for row in report.cues},
            }
    card = _read_card(out)
    card["leakage_audit"] = audit
    atomic_write(out / CARD_FILE, json.dumps(card, indent=2) + "\n")


def _read_card(out: Path) -> dict:
    path = out / CARD_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except ValueError:
        return {}


def _iso(ms: int | None) -> str | None:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).isoformat(timespec="seconds") if ms else None


def _span(what: str, times: list[int | None]) -> dict:
    known = [t for t in times if t]
    return {f"first_{what}": _iso(min(known)) if known else None, f"last_{what}": _iso(max(known)) if known else None}


def _tsv(rows) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter="\t", lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode("utf-8")
