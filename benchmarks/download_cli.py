"""``review-bench data download`` and ``review-bench data export-hf``."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from benchmarks.openreview_download import API_V1_URL
from reviewer.cli_errors import fail

MAX_LISTED_FAILURES = 5


def download_command(
    name: str = typer.Argument(..., help="Benchmark name, e.g. iclr2022 (ICLR 2018-2023)."),
    out: Path = typer.Option(None, "--out", help="Folder to write (default ./datasets/<name>)."),
    venue: str = typer.Option(None, help="OpenReview venue id (default from the name, e.g. ICLR.cc/2022/Conference)."),
    limit: int = typer.Option(None, min=1, help="Download at most this many papers."),
    split_file: list[Path] = typer.Option(
        None,
        "--split-file",
        help="Keep only the papers of this split (a ratings_<split>.tsv or a list of ids; repeatable). "
        "Without it every paper goes to ratings_all.tsv.",
    ),
    api_url: str = typer.Option(API_V1_URL, envvar="OPENREVIEW_API_BASEURL", help="OpenReview API v1 address."),
) -> None:
    """Download ratings, decisions and the submitted PDFs (with their text) from OpenReview.

    Anonymous by default; set OPENREVIEW_USERNAME and OPENREVIEW_PASSWORD to log in.
    A second run resumes: papers whose text exists are not downloaded again."""
    from benchmarks import openreview_download as od

    target = out or Path("datasets") / name
    try:
        venue = venue or od.venue_for(name)
        splits = dict(od.read_split_file(path) for path in split_file) if split_file else None
        source = od.OpenReviewSource(
            api_url, os.environ.get("OPENREVIEW_USERNAME"), os.environ.get("OPENREVIEW_PASSWORD")
        )
        report = od.download(source, target, venue=venue, limit=limit, splits=splits)
    except od.DownloadError as exc:
        raise fail(str(exc)) from None
    tables = ", ".join(f"ratings_{split}.tsv ({rows} papers)" for split, rows in report.written.items())
    typer.echo(
        f"{target}: {tables}; {report.downloaded} PDFs downloaded, {report.extracted} texts extracted, "
        f"{report.no_decision} of {report.listed} listed papers skipped without a decision"
    )
    if report.failures:
        for paper_id, reason in list(report.failures.items())[:MAX_LISTED_FAILURES]:
            typer.echo(f"failed {paper_id}: {reason}", err=True)
        typer.echo(f"{len(report.failures)} papers failed; run the command again to retry them", err=True)
        raise typer.Exit(1)


def export_hf_command(
    folder: Path = typer.Argument(..., help="A benchmark folder (ratings_<split>.tsv, metadata.tsv, texts/)."),
    out: Path = typer.Argument(..., help="Where to save the DatasetDict (save_to_disk)."),
    split: list[str] = typer.Option(None, "--split", help="Splits to export (default: every ratings file)."),
    limit: int = typer.Option(None, min=1, help="Keep the first N papers of each split."),
) -> None:
    """Save a benchmark folder as a Hugging Face DatasetDict (load it with datasets.load_from_disk)."""
    from benchmarks.data_cli import _user_errors
    from corpus.hf_dataset import export_dataset

    with _user_errors():
        summary = export_dataset(folder, out, splits=split or None, limit=limit)
    rows = ", ".join(f"{name} ({count} papers)" for name, count in summary.rows.items())
    typer.echo(f"{summary.out}: {rows}")


def register(app: typer.Typer) -> None:
    from benchmarks.data_cli import data_app

    data_app.command("download")(download_command)
    data_app.command("export-hf")(export_hf_command)
