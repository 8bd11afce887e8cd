"""``review-bench data download`` and ``review-bench data export-hf``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from reviewer.cli_errors import fail

MAX_LISTED_FAILURES = 5
API_V1_URL = "https://api.openreview.net"
API_V2_URL = "https://api2.openreview.net"


def download_command(
    venue: str = typer.Argument(..., help="A short name (iclr2025, iclr2026, neurips2024, neurips2025, icml2025, "
                                          "colm2025, tmlr, iclr2018-2023) or a full venue id (ICLR.cc/2025/Conference)."),
    out: Path = typer.Option(None, "--out", help="Folder to write (default ./datasets/<venue>)."),
    limit: int = typer.Option(None, min=1, help="At most N papers: a sample stratified by decision (seeded)."),
    split_file: list[Path] = typer.Option(
        None,
        "--split-file",
        help="Keep only the papers of this split (a ratings_<split>.tsv or a list of ids; repeatable), one ratings "
        "file per split. Without it, eval and train are drawn stratified by decision.",
    ),
    include_withdrawn: bool = typer.Option(
        False, "--include-withdrawn", help="Put withdrawn and desk-rejected papers in the splits (as rejections)."),
    eval_fraction: float = typer.Option(0.5, min=0.0, max=1.0, help="Share of the papers in ratings_eval.tsv."),
    seed: int = typer.Option(0, help="Seed of the sample and the eval/train draw."),
    api_url: str = typer.Option(API_V1_URL, envvar="OPENREVIEW_API_BASEURL", help="OpenReview API v1 address."),
    api_url_v2: str = typer.Option(API_V2_URL, envvar="OPENREVIEW_API_BASEURL_V2", help="OpenReview API v2 address."),
) -> None:
    """Download a venue's decided papers as a benchmark: the PDFs the reviewers saw and their text,
    the reviews (ratings raw and on the NeurIPS form, texts), decisions and dates, and a card.

    Anonymous by default; set OPENREVIEW_USERNAME and OPENREVIEW_PASSWORD to log in.
    A second run resumes: papers whose text exists are not downloaded again."""
    from benchmarks.openreview import download as od
    from benchmarks.openreview.api_v1 import V1Source
    from benchmarks.openreview.api_v2 import V2Source
    from benchmarks.openreview.transport import DownloadError
    from benchmarks.openreview.venues import UnknownVenue, resolve

    try:
        venue_spec = resolve(venue)
        target = out or Path("datasets") / venue_spec.name
        splits = dict(od.read_split_file(path) for path in split_file) if split_file else None
        credentials = os.environ.get("OPENREVIEW_USERNAME"), os.environ.get("OPENREVIEW_PASSWORD")
        source = V1Source(api_url, *credentials) if venue_spec.api == 1 else V2Source(api_url_v2, *credentials)
        options = od.DownloadOptions(limit=limit, splits=splits, include_withdrawn=include_withdrawn, seed=seed,
                                     eval_fraction=eval_fraction)
        report = od.download(source, venue_spec, target, options)
    except (DownloadError, UnknownVenue) as exc:
        raise fail(str(exc)) from None
    tables = ", ".join(f"ratings_{split}.tsv ({rows} papers)" for split, rows in report.written.items())
    typer.echo(
        f"{target}: {tables}; {report.downloaded} PDFs downloaded, {report.extracted} texts extracted, "
        f"{report.no_decision} of {report.listed} listed papers skipped without a decision; "
        f"{report.requests} requests, {report.bytes / 1e6:.1f} MB in {report.seconds:.1f} s"
    )
    if report.failures:
        for paper_id, reason in list(report.failures.items())[:MAX_LISTED_FAILURES]:
            typer.echo(f"failed {paper_id}: {reason}", err=True)
        typer.echo(f"{len(report.failures)} papers failed; run the command again to retry them", err=True)
        raise typer.Exit(1)


def export_hf_command(
    folder: str = typer.Argument(..., help="A benchmark folder, or a benchmark's name under the data root."),
    out: Path = typer.Argument(..., help="Where to save the DatasetDict (save_to_disk)."),
    split: list[str] = typer.Option(None, "--split", help="Splits to export (default: every ratings file)."),
    limit: int = typer.Option(None, min=1, help="Keep the first N papers of each split."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Data root, for a benchmark's name."),
) -> None:
    """Save a benchmark folder as a Hugging Face DatasetDict (load it with datasets.load_from_disk)."""
    from benchmarks.data_cli import _user_errors, benchmark_folder
    from corpus.hf_dataset import export_dataset

    with _user_errors():
        summary = export_dataset(benchmark_folder(folder, data_dir), out, splits=split or None, limit=limit)
    rows = ", ".join(f"{name} ({count} papers)" for name, count in summary.rows.items())
    typer.echo(f"{summary.out}: {rows}")


def register(app: typer.Typer) -> None:
    from benchmarks.data_cli import data_app

    data_app.command("download")(download_command)
    data_app.command("export-hf")(export_hf_command)
