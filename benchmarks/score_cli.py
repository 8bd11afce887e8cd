"""Commands that score runs from their records alone: score, compare, report, import-run."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from reviewer.cli_errors import exit_on

RUNS = typer.Argument(..., help="Run folders (manifest.json + records.jsonl).")
DATA_DIR = typer.Option(
    None, "--data-dir", help="Datasets folder, for runs that did not record their papers' lengths "
    "(default: the folder in the run's manifest, else $REVIEW_BENCH_DATA)."
)


def _user_errors():
    """Bad input ends with one line on stderr and exit code 2, not a traceback."""
    from benchmarks.metrics import MetricsError
    from benchmarks.replay import ReplayError
    from benchmarks.store import RunStoreError
    from benchmarks.transcript_file import TranscriptFileError
    from corpus.dataset import DatasetError

    return exit_on(MetricsError, ReplayError, DatasetError, RunStoreError, TranscriptFileError, OSError)


def _write_report(run_dirs: list[Path], out: Path, data_dir: Path | None, summaries=None) -> None:
    from benchmarks.report import summarise
    from benchmarks.site.build import write_site

    summaries = summaries or [summarise(run_dir, data_dir) for run_dir in run_dirs]
    index = write_site(summaries, out)
    typer.echo(f"wrote the report site: {index} (opens from the file, no server needed); "
               f"report.md and report.html beside it")


def _print(run_dirs: list[Path], data_dir: Path | None):
    from benchmarks.report import print_comparison, summarise

    summaries = [summarise(run_dir, data_dir) for run_dir in run_dirs]
    print_comparison(summaries)
    return summaries


def _paired(summaries, force: bool, out: Path | None) -> None:
    """Each later run against the first, on the papers both scored."""
    import json

    from benchmarks.compare import incomparable, paired_comparison, print_paired
    from benchmarks.metrics import MetricsError

    first, results = summaries[0], []
    for other in summaries[1:]:
        reasons = incomparable(first, other)
        if reasons and not force:
            raise MetricsError(
                f"{first.run_dir} and {other.run_dir} differ in {'; '.join(reasons)}: their scores measure "
                "different things; pass --force to compare them anyway"
            )
        for reason in reasons:
            typer.echo(f"warning: the runs differ in {reason} (--force)", err=True)
        result = paired_comparison(first, other)
        print_paired(first, other, result)
        results.append({"a": str(first.run_dir), "b": str(other.run_dir), "differ_in": reasons, **result})
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "compare.json").write_text(json.dumps(results, indent=2, default=float), encoding="utf-8")


def register(app: typer.Typer) -> None:
    @app.command()
    def score(
        run_dir: Path = typer.Argument(..., help="Run folder to score."),
        calibrate_on: Optional[Path] = typer.Option(
            None, "--calibrate-on", help="Pick the threshold with the best balanced accuracy "
            "on this other run (its papers must not overlap the scored run's)."
        ),
        threshold: Optional[float] = typer.Option(
            None, "--threshold", help="Accept when Overall >= this (default: the run's own)."
        ),
        data_dir: Optional[Path] = DATA_DIR,
    ) -> None:
        """Recompute <RUN_DIR>/metrics.json from the records (no model call) and print it."""
        from benchmarks.metrics import write_metrics

        with _user_errors():
            write_metrics(run_dir, calibrate_on=calibrate_on, threshold=threshold, data_dir=data_dir)
            _print([run_dir], data_dir)

    @app.command()
    def compare(
        run_dirs: list[Path] = typer.Argument(
            ..., help="Run folders: RUN_A RUN_B [RUN_C ...]; each later run is compared with the first."
        ),
        force: bool = typer.Option(
            False, "--force", help="Compare runs on different splits, text modes or subsets anyway."
        ),
        side_by_side: bool = typer.Option(
            False, "--side-by-side", help="Only print the runs' metrics side by side, no paired comparison."
        ),
        out: Optional[Path] = typer.Option(
            None, "--out", help="Also write the report and compare.json here."
        ),
        data_dir: Optional[Path] = DATA_DIR,
    ) -> None:
        """Paired comparison on the papers both runs scored: bootstrap differences of AUC, AUC within
        length quintiles, balanced accuracy and Pearson r, with 95% intervals and p-values."""
        from benchmarks.metrics import MetricsError

        with _user_errors():
            if len(run_dirs) < 2 and not side_by_side:
                raise MetricsError("compare needs two runs (or --side-by-side)")
            summaries = _print(run_dirs, data_dir)
            if not side_by_side:
                _paired(summaries, force, out)
            if out is not None:
                _write_report(run_dirs, out, data_dir, summaries)

    @app.command()
    def report(
        run_dirs: list[Path] = RUNS,
        out: Optional[Path] = typer.Option(
            None, "--out", help="Folder for the site (default: RUN/report for one run, else ./report)."
        ),
        data_dir: Optional[Path] = DATA_DIR,
    ) -> None:
        """Write the report as a static site (index.html: summary and plots; papers.html: every
        paper, sortable and filterable; a page per paper with each run's review and transcript),
        plus report.md and a self-contained report.html."""
        with _user_errors():
            _write_report(run_dirs, out or (run_dirs[0] / "report" if len(run_dirs) == 1 else Path("report")),
                          data_dir)

    @app.command()
    def view(
        run_dirs: list[Path] = RUNS,
        port: int = typer.Option(8765, "--port", min=0, max=65535, help="Port on 127.0.0.1 (0: any free one)."),
        interval: float = typer.Option(2.0, "--interval", min=0.2, help="Seconds between checks for new records."),
        data_dir: Optional[Path] = DATA_DIR,
    ) -> None:
        """Serve the report site on 127.0.0.1, rebuilt while the runs grow (pages reload by themselves)."""
        import time

        from benchmarks.site.serve import SiteServer
        from benchmarks.store import read_manifest

        with _user_errors():
            for run_dir in run_dirs:
                read_manifest(run_dir)
            server = SiteServer(run_dirs, port=port, interval=interval, data_dir=data_dir).start()
        typer.echo(f"serving the report of {len(run_dirs)} run(s) on {server.url} (Ctrl-C stops)")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()

    @app.command("import-run")
    def import_run(
        csv_path: Path = typer.Argument(..., metavar="CSV", help="Published review CSV."),
        name: str = typer.Option(..., "--name", help="Name of the run."),
        out: Optional[Path] = typer.Option(None, "--out", help="Run folder (default runs/NAME)."),
        data_dir: Optional[Path] = typer.Option(
            None, "--data-dir", help="Datasets folder (default: $REVIEW_BENCH_DATA)."
        ),
    ) -> None:
        """Turn a published review CSV into a run folder, score it, and print the scores."""
        from benchmarks.metrics import write_metrics
        from benchmarks.replay import import_run as import_csv

        with _user_errors():
            run_dir = import_csv(csv_path, name, out or Path("runs") / name, data_dir)
            write_metrics(run_dir, data_dir=data_dir)
            _print([run_dir], data_dir)
