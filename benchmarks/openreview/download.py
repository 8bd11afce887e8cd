"""Build a benchmark folder from an OpenReview venue, API v1 or v2.

For each submission the venue decided: the PDF the reviewers saw and its text (read by
``corpus.paper.load_paper``), title, abstract and keywords, every official review (rating,
confidence and sub-scores on the venue's scale and on the NeurIPS form, and its text), the
decision (accepted with its tier, rejected, withdrawn, desk-rejected) and the dates. The
layout is the one ``review-bench run`` reads (``dataset_writer`` describes it).

The PDF the reviewers saw is the newest revision posted before the first official review;
later ones answer the reviewers or are camera-ready. A paper without reviews gets the newest
revision before its decision (or withdrawal), else its oldest. A run resumes: a paper whose
text exists is not fetched again, and a failed one is tried again.
"""

from __future__ import annotations

import csv
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from benchmarks.openreview.dataset_writer import add_leakage_audit, write_dataset
from benchmarks.openreview.records import Submission, parse_submission
from benchmarks.openreview.sources import Revision, Source
from benchmarks.openreview.splits import assign_splits, stratified_pick
from benchmarks.openreview.transport import DownloadError, PaperUnavailable, Unreachable
from benchmarks.openreview.venues import Venue
from corpus.files import atomic_write

#: Consecutive papers that could not reach OpenReview before the download stops.
MAX_CONSECUTIVE_UNREACHABLE = 3
REVISIONS_FILE = "revisions.jsonl"


@dataclass(frozen=True)
class DownloadOptions:
    #: At most this many papers: a sample stratified by decision (seeded), or with ``splits``
    #: the first listed of them.
    limit: int | None = None
    #: split name -> paper ids: keep only these papers, one ratings file per split (rebuilds a
    #: published benchmark). Without it, eval/train are drawn stratified by decision.
    splits: dict[str, list[str]] | None = None
    include_withdrawn: bool = False
    seed: int = 0
    eval_fraction: float = 0.5


@dataclass
class DownloadReport:
    listed: int = 0
    no_decision: int = 0
    downloaded: int = 0
    extracted: int = 0
    pdf_bytes: int = 0
    #: Rows written per split.
    written: dict[str, int] = field(default_factory=dict)
    #: paper_id -> why its PDF or text is missing.
    failures: dict[str, str] = field(default_factory=dict)
    requests: int = 0
    bytes: int = 0
    seconds: float = 0.0


def reviewed_pdf_candidates(revisions: list[Revision], cutoff: int | None) -> list[Revision]:
    """PDF revisions to try, best first: the newest one posted before ``cutoff`` (the first
    review, or the decision), then older ones. Without a cutoff, the oldest first."""
    ordered = sorted(revisions, key=lambda revision: revision.created_at)
    if cutoff is None:
        return ordered
    return [revision for revision in reversed(ordered) if revision.created_at <= cutoff]


def download(source: Source, venue: Venue, out: Path, options: DownloadOptions = DownloadOptions(),
             console: Console | None = None) -> DownloadReport:
    """Download ``venue`` into ``out``; see the module's docstring."""
    started = time.perf_counter()
    venue = source.open_venue(venue)
    report = DownloadReport()
    listed = [parse_submission(note, venue) for note in source.submissions(venue)]
    report.listed = len(listed)
    if not listed:
        hint = "" if source.transport.logged_in else " (the venue may need a login: set OPENREVIEW_USERNAME and " \
                                                      "OPENREVIEW_PASSWORD)"
        raise DownloadError(f"no submissions under {venue.submission_invitation}{hint}")
    decided = [submission for submission in listed if submission.status]
    report.no_decision = len(listed) - len(decided)
    chosen = _choose(decided, options)
    splits = options.splits or assign_splits(chosen, options)
    (out / "pdfs").mkdir(parents=True, exist_ok=True)
    (out / "texts").mkdir(parents=True, exist_ok=True)
    revisions = _read_revisions(out / REVISIONS_FILE)
    try:
        _fetch_papers(source, out, chosen, report, revisions, console or Console(stderr=True))
    finally:
        report.requests, report.bytes = source.transport.traffic.requests, source.transport.traffic.bytes
        report.seconds = time.perf_counter() - started
        write_dataset(out, venue, source, chosen, splits, revisions, options, report)
    add_leakage_audit(out, splits)
    return report


def _choose(decided: list[Submission], options: DownloadOptions) -> list[Submission]:
    if options.splits is not None:
        wanted = {paper_id for ids in options.splits.values() for paper_id in ids}
        kept = [submission for submission in decided if submission.paper_id in wanted]
        return kept[: options.limit] if options.limit is not None else kept
    if options.limit is None or options.limit >= len(decided):
        return decided
    picked = set(stratified_pick(decided, options.limit, options.seed))
    return [submission for submission in decided if submission.paper_id in picked]


def _fetch_papers(source: Source, out: Path, chosen: list[Submission], report: DownloadReport,
                  revisions: dict[str, dict], console: Console) -> None:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    unreachable = 0
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("papers", total=len(chosen))
        for submission in chosen:
            progress.update(task, description=submission.paper_id)
            try:
                _fetch_paper(source, out, submission, report, revisions)
                unreachable = 0
            except Unreachable as exc:
                report.failures[submission.paper_id] = str(exc)
                unreachable += 1
                if unreachable >= MAX_CONSECUTIVE_UNREACHABLE:
                    raise
            except PaperUnavailable as exc:
                report.failures[submission.paper_id] = str(exc)
            progress.advance(task)


def _fetch_paper(source: Source, out: Path, submission: Submission, report: DownloadReport,
                 revisions: dict[str, dict]) -> None:
    from corpus.paper import PaperInputError, load_paper

    pdf_path = out / "pdfs" / f"{submission.paper_id}.pdf"
    text_path = out / "texts" / f"{submission.paper_id}.txt"
    if text_path.exists():
        return
    if not pdf_path.exists():
        revision, data = _reviewed_pdf(source, submission)
        atomic_write(pdf_path, data)
        revisions[submission.paper_id] = {"id": revision.id, "posted_at": revision.created_at}
        with (out / REVISIONS_FILE).open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({"paper_id": submission.paper_id, **revisions[submission.paper_id]}) + "\n")
        report.downloaded += 1
        report.pdf_bytes += len(data)
    try:
        text = load_paper(pdf_path, paper_id=submission.paper_id).text
    except PaperInputError as exc:
        report.failures[submission.paper_id] = str(exc)
        return
    atomic_write(text_path, text.encode("utf-8"))
    report.extracted += 1


def _reviewed_pdf(source: Source, submission: Submission) -> tuple[Revision, bytes]:
    cutoff = submission.first_review_at or submission.decided_at
    candidates = reviewed_pdf_candidates(source.pdf_revisions(submission.paper_id), cutoff)
    if not candidates:
        raise PaperUnavailable(f"{submission.paper_id}: no PDF revision before the first review")
    last_error: PaperUnavailable | None = None
    for revision in candidates:
        try:
            return revision, source.pdf(revision)
        except PaperUnavailable as exc:  # e.g. a revision whose file was removed
            last_error = exc
    raise last_error


def _read_revisions(path: Path) -> dict[str, dict]:
    """paper_id -> the revision its saved PDF is (from earlier runs)."""
    if not path.is_file():
        return {}
    revisions = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:  # a line cut short by a crash
            continue
        revisions[entry.pop("paper_id")] = entry
    return revisions


def read_split_file(path: Path) -> tuple[str, list[str]]:
    """A split from a ratings file or a list of ids: ``ratings_eval.tsv`` -> ("eval", ids).
    The first column holds the ids; a ``paper_id`` header is skipped."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            ids = [row[0].strip() for row in csv.reader(handle, delimiter="\t") if row]
    except OSError as exc:
        raise DownloadError(f"{path}: cannot read the split file ({exc.strerror})") from None
    ids = [paper_id for paper_id in ids if paper_id and paper_id != "paper_id"]
    if not ids:
        raise DownloadError(f"{path}: no paper ids in the split file")
    return path.stem.removeprefix("ratings_"), ids
