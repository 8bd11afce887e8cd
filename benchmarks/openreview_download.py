"""Rebuild an ICLR benchmark folder from OpenReview (API v1, ICLR 2018–2023).

For each submission it writes the human ratings and the decision, the title and keywords,
the PDF the reviewers saw and that PDF's text, in the layout of ``shared/datasets/iclr2022``::

    ratings_<split>.tsv   paper_id, 0..6 (one column per review), decision
    metadata.tsv          paper_id, title, keywords
    pdfs/<paper_id>.pdf   the submitted version, not the camera-ready
    texts/<paper_id>.txt  its text, read by ``corpus.paper.load_paper``

The submitted version is the newest PDF revision created before the first review was
posted (later revisions may answer the reviewers); a paper without reviews gets its
oldest PDF revision. A run resumes: a paper whose text exists is not downloaded again.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from corpus.files import atomic_write

API_V1_URL = "https://api.openreview.net"
V1_YEARS = range(2018, 2024)
PAGE_SIZE = 1000
REQUEST_TIMEOUT_S = 120
#: Retries of a request answered 429 or 5xx; a Retry-After header sets the wait.
MAX_RETRIES = 6
#: The benchmark files have seven rating columns; a paper with more reviews widens the file.
MIN_RATING_COLUMNS = 7
ALL_SPLIT = "all"


class DownloadError(Exception):
    """The download cannot go on. The message is one line, fit for stderr."""


class PaperUnavailable(DownloadError):
    """The server refused one request (not found, forbidden, rate limit still hit after retries)."""


@dataclass(frozen=True)
class Submission:
    paper_id: str
    title: str
    keywords: str
    #: One per review, in the order the reviews were posted.
    ratings: list[float]
    decision: str | None
    #: When the first review was posted (ms since the epoch), None without reviews.
    first_review_at: int | None


@dataclass(frozen=True)
class Revision:
    id: str
    created_at: int


@dataclass
class DownloadReport:
    listed: int = 0
    no_decision: int = 0
    downloaded: int = 0
    extracted: int = 0
    #: Rows written per split.
    written: dict[str, int] = field(default_factory=dict)
    #: paper_id -> why its PDF or text is missing.
    failures: dict[str, str] = field(default_factory=dict)


def venue_for(name: str) -> str:
    """``iclr2022`` -> ``ICLR.cc/2022/Conference``."""
    match = re.fullmatch(r"iclr(\d{4})", name.lower())
    if not match:
        raise DownloadError(f"unknown benchmark {name!r}: name it iclrYYYY or give --venue")
    return f"ICLR.cc/{match.group(1)}/Conference"


def check_v1_venue(venue: str) -> None:
    match = re.search(r"/(\d{4})/", venue)
    if match and int(match.group(1)) > V1_YEARS[-1]:
        raise DownloadError(
            f"{venue} is served by OpenReview API v2; this downloader reads API v1 venues "
            f"(ICLR {V1_YEARS[0]}–{V1_YEARS[-1]})"
        )


def parse_submission(note_id: str, content: dict, replies: list[dict]) -> Submission:
    """A blind submission and its direct replies (reviews, decision) as one record."""
    reviews = sorted(
        (reply for reply in replies if reply.get("invitation", "").endswith("Official_Review")),
        key=_posted_at,
    )
    ratings = [rating for rating in map(_rating, reviews) if rating is not None]
    keywords = content.get("keywords") or []
    return Submission(
        paper_id=note_id,
        title=" ".join(str(content.get("title", "")).split()),
        keywords=", ".join(keywords) if isinstance(keywords, list) else str(keywords),
        ratings=ratings,
        decision=_decision(replies),
        first_review_at=_posted_at(reviews[0]) if reviews else None,
    )


def _posted_at(reply: dict) -> int:
    return int(reply.get("tcdate") or reply.get("cdate") or 0)


def _rating(review: dict) -> float | None:
    """'6: marginally above the acceptance threshold' -> 6.0 (``rating`` before 2022)."""
    content = review.get("content", {})
    value = content.get("recommendation", content.get("rating"))
    match = re.match(r"\s*(\d+(?:\.\d+)?)", str(value)) if value is not None else None
    return float(match.group(1)) if match else None


def _decision(replies: list[dict]) -> str | None:
    for reply in replies:
        if reply.get("invitation", "").endswith("Decision") and reply.get("content", {}).get("decision"):
            return str(reply["content"]["decision"]).strip()
    # ICLR 2019 posted the decision as the meta-review's recommendation.
    for reply in replies:
        recommendation = str(reply.get("content", {}).get("recommendation", ""))
        if reply.get("invitation", "").endswith("Meta_Review") and recommendation.startswith(("Accept", "Reject")):
            return recommendation.strip()
    return None


def reviewed_pdf_candidates(revisions: list[Revision], first_review_at: int | None) -> list[Revision]:
    """PDF revisions to try, best first: the newest one made before the first review, then
    older ones. Without reviews, the oldest revision first."""
    ordered = sorted(revisions, key=lambda revision: revision.created_at)
    if first_review_at is None:
        return ordered
    return [revision for revision in reversed(ordered) if revision.created_at <= first_review_at]


class OpenReviewSource:
    """The few API v1 calls the download needs, through ``openreview-py``."""

    def __init__(self, api_url: str = API_V1_URL, username: str | None = None, password: str | None = None):
        import openreview

        self.api_url = api_url.rstrip("/")
        self._errors = (openreview.OpenReviewException,)
        # The client logs in while it is built when it has credentials (else anonymous).
        self.client = self._call(
            "log in",
            lambda: openreview.Client(baseurl=self.api_url, username=username, password=password),
        )
        _mount_retrying_adapter(self.client.session)

    def submissions(self, invitation: str) -> Iterator[Submission]:
        offset = 0
        while True:
            notes = self._call(
                f"list {invitation}",
                lambda: self.client.get_notes(
                    invitation=invitation, details="directReplies", limit=PAGE_SIZE, offset=offset
                ),
            )
            for note in notes:
                replies = (note.details or {}).get("directReplies", [])
                yield parse_submission(note.id, note.content or {}, replies)
            if len(notes) < PAGE_SIZE:
                return
            offset += len(notes)

    def pdf_revisions(self, paper_id: str) -> list[Revision]:
        """Revisions of the note and of its original (author) note that carry a PDF."""
        references = self._call(
            f"list revisions of {paper_id}",
            lambda: self.client.get_references(referent=paper_id, original=True),
        )
        return [
            Revision(id=reference.id, created_at=int(reference.tcdate or reference.cdate or 0))
            for reference in references
            if (reference.content or {}).get("pdf")
        ]

    def pdf(self, revision_id: str) -> bytes:
        return self._call(
            f"download revision {revision_id}",
            lambda: self.client.get_pdf(revision_id, is_reference=True),
        )

    def _call(self, what: str, request: Callable):
        import requests

        try:
            return request()
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise DownloadError(f"cannot reach OpenReview at {self.api_url} ({what}): {_reason(exc)}") from None
        except self._errors as exc:
            raise PaperUnavailable(f"OpenReview refused to {what}: {_openreview_message(exc)}") from None


def _mount_retrying_adapter(session) -> None:
    """Bounded retries on 429/5xx honouring Retry-After, a timeout on every request, and no
    per-retry print (openreview-py's default adapter prints each retry, breaking the bar)."""
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    class TimeoutAdapter(HTTPAdapter):
        def send(self, request, **kwargs):
            kwargs["timeout"] = kwargs.get("timeout") or REQUEST_TIMEOUT_S
            return super().send(request, **kwargs)

    retry = Retry(
        total=MAX_RETRIES,
        connect=1,
        backoff_factor=1,
        backoff_max=60,
        status_forcelist=[429, 500, 502, 503, 504],
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    adapter = TimeoutAdapter(max_retries=retry)
    session.mount("https://", adapter)
    session.mount("http://", adapter)


def _reason(exc: Exception) -> str:
    text = str(exc.args[0] if exc.args else exc)
    reason = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)|(timed out)", text)
    return (reason.group(1) or reason.group(2)) if reason else text.splitlines()[0][:200]


def _openreview_message(exc: Exception) -> str:
    detail = exc.args[0] if exc.args else exc
    if isinstance(detail, dict):
        detail = detail.get("message") or detail.get("name") or detail
    return " ".join(str(detail).split())[:300]


def download(
    source: OpenReviewSource,
    out: Path,
    *,
    venue: str,
    limit: int | None = None,
    splits: dict[str, list[str]] | None = None,
    console: Console | None = None,
) -> DownloadReport:
    """Download ``venue`` into ``out``. ``splits`` (name -> paper ids, in order) keeps only
    those papers and writes one ratings file per split; without it every paper goes to
    ``ratings_all.tsv``. ``limit`` caps the number of papers (counted after the split filter)."""
    check_v1_venue(venue)
    invitation = f"{venue}/-/Blind_Submission"
    wanted = {paper_id for ids in splits.values() for paper_id in ids} if splits else None
    report = DownloadReport()
    chosen: list[Submission] = []
    for submission in source.submissions(invitation):
        report.listed += 1
        if wanted is not None and submission.paper_id not in wanted:
            continue
        if submission.decision is None:
            report.no_decision += 1
            continue
        chosen.append(submission)
        if limit is not None and len(chosen) >= limit:
            break
    if not report.listed:
        raise DownloadError(f"no submissions under {invitation}: check --venue (or credentials)")
    (out / "pdfs").mkdir(parents=True, exist_ok=True)
    (out / "texts").mkdir(parents=True, exist_ok=True)
    try:
        _fetch_papers(source, out, chosen, report, console or Console(stderr=True))
    finally:
        _write_tables(out, chosen, splits or {ALL_SPLIT: [s.paper_id for s in chosen]}, report)
    return report


def _fetch_papers(
    source: OpenReviewSource, out: Path, chosen: list[Submission], report: DownloadReport, console: Console
) -> None:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("papers", total=len(chosen))
        for submission in chosen:
            progress.update(task, description=submission.paper_id)
            try:
                _fetch_paper(source, out, submission, report)
            except PaperUnavailable as exc:
                report.failures[submission.paper_id] = str(exc)
            progress.advance(task)


def _fetch_paper(source: OpenReviewSource, out: Path, submission: Submission, report: DownloadReport) -> None:
    from corpus.paper import PaperInputError, load_paper

    pdf_path = out / "pdfs" / f"{submission.paper_id}.pdf"
    text_path = out / "texts" / f"{submission.paper_id}.txt"
    if text_path.exists():
        return
    if not pdf_path.exists():
        atomic_write(pdf_path, _reviewed_pdf(source, submission))
        report.downloaded += 1
    try:
        text = load_paper(pdf_path, paper_id=submission.paper_id).text
    except PaperInputError as exc:
        report.failures[submission.paper_id] = str(exc)
        return
    atomic_write(text_path, text.encode("utf-8"))
    report.extracted += 1


def _reviewed_pdf(source: OpenReviewSource, submission: Submission) -> bytes:
    candidates = reviewed_pdf_candidates(source.pdf_revisions(submission.paper_id), submission.first_review_at)
    if not candidates:
        raise PaperUnavailable(f"{submission.paper_id}: no PDF revision before the first review")
    last_error: PaperUnavailable | None = None
    for revision in candidates:
        try:
            return source.pdf(revision.id)
        except PaperUnavailable as exc:  # e.g. a revision whose file was removed
            last_error = exc
    raise last_error


def _write_tables(
    out: Path, chosen: list[Submission], splits: dict[str, list[str]], report: DownloadReport
) -> None:
    """Rows only for papers whose text exists, so every row can be reviewed."""
    ready = {s.paper_id: s for s in chosen if (out / "texts" / f"{s.paper_id}.txt").exists()}
    width = max([MIN_RATING_COLUMNS, *(len(s.ratings) for s in ready.values())])
    for split, ids in splits.items():
        rows = [
            [s.paper_id, *(f"{r:.1f}" for r in s.ratings), *[""] * (width - len(s.ratings)), s.decision]
            for s in (ready[i] for i in ids if i in ready)
        ]
        header = ["paper_id", *map(str, range(width)), "decision"]
        atomic_write(out / f"ratings_{split}.tsv", _tsv([header, *rows]))
        report.written[split] = len(rows)
    metadata = [[s.paper_id, s.title, s.keywords] for s in ready.values()]
    atomic_write(out / "metadata.tsv", _tsv([["paper_id", "title", "keywords"], *metadata]))


def _tsv(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t", lineterminator="\n")
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def read_split_file(path: Path) -> tuple[str, list[str]]:
    """A split from a ratings file or a list of ids: ``ratings_eval.tsv`` -> ("eval", ids).
    The first column holds the ids; a ``paper_id`` header is skipped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DownloadError(f"{path}: cannot read the split file ({exc.strerror})") from None
    ids = [line.split("\t")[0].strip() for line in lines]
    ids = [paper_id for paper_id in ids if paper_id and paper_id != "paper_id"]
    if not ids:
        raise DownloadError(f"{path}: no paper ids in the split file")
    return path.stem.removeprefix("ratings_"), ids
