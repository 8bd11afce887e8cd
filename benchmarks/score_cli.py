"""Commands that score runs from their records alone: score, compare, report, import-run."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from reviewer.cli_errors import exit_on

RUNS = typer.Argument(..., help="Run folders (manifest.json + records.jsonl).")


def _user_errors():
    """Bad input ends with one line on stderr and exit code 2, not a traceback."""
    from benchmarks.metrics import MetricsError
    from benchmarks.replay import ReplayError
    from benchmarks.store import RunStoreError
    from benchmarks.transcript_file import TranscriptFileError
    from corpus.dataset import DatasetError

    return exit_on(MetricsError, ReplayError, DatasetError, RunStoreError, TranscriptFileError, OSError)


def _write_report(run_dirs: list[Path], out: Path) -> None:
    from benchmarks.site.build import write_site

    index = write_site(run_dirs, out)
    typer.echo(f"wrote the report site: {index} (opens from the file, no server needed); "
               f"report.md and report.html beside it")


def _print(run_dirs: list[Path]) -> None:
    from benchmarks.report import print_comparison, summarise

    print_comparison([summarise(run_dir) for run_dir in run_dirs])


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
    ) -> None:
        """Recompute <RUN_DIR>/metrics.json from the records (no model call) and print it."""
        from benchmarks.metrics import write_metrics

        with _user_errors():
            write_metrics(run_dir, calibrate_on=calibrate_on, threshold=threshold)
            _print([run_dir])

    @app.command()
    def compare(
        run_dirs: list[Path] = RUNS,
        out: Optional[Path] = typer.Option(None, "--out", help="Also write the report here."),
    ) -> None:
        """Print the runs' metrics side by side."""
        with _user_errors():
            _print(run_dirs)
            if out is not None:
                _write_report(run_dirs, out)

    @app.command()
    def report(
        run_dirs: list[Path] = RUNS,
        out: Optional[Path] = typer.Option(
            None, "--out", help="Folder for the site (default: RUN/report for one run, else ./report)."
        ),
    ) -> None:
        """Write the report as a static site (index.html: summary and plots; papers.html: every
        paper, sortable and filterable; a page per paper with each run's review and transcript),
        plus report.md and a self-contained report.html."""
        with _user_errors():
            _write_report(run_dirs, out or (run_dirs[0] / "report" if len(run_dirs) == 1 else Path("report")))

    @app.command()
    def view(
        run_dirs: list[Path] = RUNS,
        port: int = typer.Option(8765, "--port", min=0, max=65535, help="Port on 127.0.0.1 (0: any free one)."),
        interval: float = typer.Option(2.0, "--interval", min=0.2, help="Seconds between checks for new records."),
    ) -> None:
        """Serve the report site on 127.0.0.1, rebuilt while the runs grow (pages reload by themselves)."""
        import time

        from benchmarks.site.serve import SiteServer
        from benchmarks.store import read_manifest

        with _user_errors():
            for run_dir in run_dirs:
                read_manifest(run_dir)
            server = SiteServer(run_dirs, port=port, interval=interval).start()
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
            write_metrics(run_dir)
            _print([run_dir])
