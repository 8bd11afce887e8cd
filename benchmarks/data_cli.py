"""``review-bench data ...``: the benchmark data itself (leakage audit, blinded copies).

Other modules add their own commands to ``data_app`` (download, export-hf)."""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from reviewer.cli_errors import exit_on, fail

data_app = typer.Typer(no_args_is_help=True, help="Benchmark data: audit leakage, blind texts, download, export.")

BENCHMARK = "iclr2022"
DATA_DIR = typer.Option(None, "--data-dir", help="Data root holding iclr2022/ (default $REVIEW_BENCH_DATA).")


class TextChoice(str, Enum):
    raw = "raw"
    blind = "blind"


def _user_errors():
    """Bad input ends with one line on stderr and exit code 2, not a traceback."""
    from corpus.dataset import DatasetError

    return exit_on(DatasetError, ValueError, OSError)


@contextmanager
def _progress(description: str, total: int):
    from rich.progress import Progress

    with Progress(transient=True) as progress:
        task = progress.add_task(description, total=total)
        yield lambda: progress.advance(task)


@data_app.command("audit")
def audit_command(
    data_dir: Optional[Path] = DATA_DIR,
    split: str = typer.Option("eval", "--split", help="Which ratings_<split>.tsv to audit."),
    text: TextChoice = typer.Option(TextChoice.raw, "--text", help="Audit the raw texts or the blinded ones."),
    body_only: bool = typer.Option(
        False, "--body-only", help="With --text blind: audit the text cut at References (as run --body-only shows it)."
    ),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Also write the audit here as JSON."),
    seed: int = typer.Option(0, "--seed", help="Seed of the folds and the bootstrap."),
) -> None:
    """How well the leakage cues alone (no science) predict Accept/Reject."""
    from benchmarks.leakage.audit import audit_cues, collect_cues, print_report
    from corpus.dataset import load_benchmark

    if body_only and text is not TextChoice.blind:
        raise fail("--body-only needs --text blind")
    with _user_errors():
        dataset = load_benchmark(BENCHMARK, split, data_dir)
        with _progress(f"reading {text.value} texts", len(dataset.papers)) as advance:
            records, labels = collect_cues(dataset, text.value, body_only=body_only, progress=advance)
        report = audit_cues(dataset, text.value, records, labels, body_only=body_only, seed=seed)
        print_report(report)
        if json_path is not None:
            json_path.write_text(json.dumps(report.model_dump(mode="json"), indent=2) + "\n")
            typer.echo(f"wrote {json_path}")


@data_app.command("blind")
def blind_command(
    out: Path = typer.Option(..., "--out", help="Data root to write (the copy goes to OUT/iclr2022/)."),
    data_dir: Optional[Path] = DATA_DIR,
    split: Optional[list[str]] = typer.Option(None, "--split", help="Splits to copy (default: every ratings file)."),
    body_only: bool = typer.Option(False, "--body-only", help="Also cut everything from References on."),
) -> None:
    """Write a blinded copy of the benchmark: same layout, texts without leakage."""
    from corpus.blind import blind_dataset
    from corpus.dataset import data_root, load_benchmark

    with _user_errors():
        folder = data_root(data_dir) / BENCHMARK
        splits = split or sorted(p.stem.removeprefix("ratings_") for p in folder.glob("ratings_*.tsv"))
        started = time.perf_counter()
        for name in splits:
            dataset = load_benchmark(BENCHMARK, name, data_dir)
            with _progress(f"blinding {name}", len(dataset.papers)) as advance:
                target = blind_dataset(dataset, out, body_only=body_only, progress=advance)
            typer.echo(f"{target}: {len(dataset.papers)} {name} papers blinded")
        typer.echo(f"done in {time.perf_counter() - started:.1f} s")


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data", help="Benchmark data: audit leakage, blind texts, download, export.")
