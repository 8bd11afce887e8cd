"""``review-bench data ...``: the benchmark data itself (venues, leakage audit, blinded copies).

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

data_app = typer.Typer(no_args_is_help=True, help="Benchmark data: list venues, audit leakage, blind texts, download, "
                                                  "export.")

DATA_DIR = typer.Option(None, "--data-dir", help="Data root holding the benchmarks (default $REVIEW_BENCH_DATA).")
BENCHMARK = typer.Argument(None, help="Benchmark under the data root (default iclr2022).")
DATASET = typer.Option(None, "--dataset", help="A dataset folder instead (ratings_*.tsv plus texts/ or pdfs/).")


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


def benchmark_folder(name_or_path: str, data_dir: Path | None) -> Path:
    """A folder given as a path, or a benchmark's name under the data root."""
    from corpus.dataset import data_root

    path = Path(name_or_path).expanduser()
    if path.is_dir() or "/" in name_or_path:
        return path
    return data_root(data_dir) / name_or_path


@data_app.command("list")
def list_command(data_dir: Optional[Path] = DATA_DIR) -> None:
    """The benchmarks under the data root, with what their cards say."""
    from corpus.dataset import data_root, list_benchmarks

    with _user_errors():
        root = data_root(data_dir)
        found = list_benchmarks(root)
    if not found:
        raise fail(f"{root}: no benchmark folders (a folder with ratings_*.tsv)")
    typer.echo(f"benchmarks under {root}:")
    for entry in found:
        card = entry.card or {}
        venue = card.get("venue", "no card")
        api = f" (API v{card['api_version']})" if card.get("api_version") else ""
        splits = ", ".join(f"{split} {c['papers']} papers ({c['accepted']} accepted)" for split, c in entry.splits.items())
        typer.echo(f"  {entry.name}: {venue}{api}; {splits}")
        dates = card.get("dates") or {}
        spans = [f"{label} {span}" for label, what in (("submitted", "submission"), ("reviewed", "review"),
                                                       ("decided", "decision")) if (span := _date_range(dates, what))]
        if card.get("submission_deadline"):
            spans.insert(0, f"submission deadline {card['submission_deadline']}")
        if spans:
            typer.echo(f"    {'; '.join(spans)}")
        if entry.card_path:
            typer.echo(f"    card: {entry.card_path}")


def _date_range(dates: dict, what: str) -> str:
    first, last = dates.get(f"first_{what}"), dates.get(f"last_{what}")
    return f"{first[:10]} to {last[:10]}" if first and last else ""


def _open(benchmark: str | None, dataset: Path | None, split: str | None, data_dir: Path | None):
    from corpus.dataset import open_dataset

    if benchmark and dataset:
        raise fail("give a benchmark name or --dataset, not both")
    return open_dataset(benchmark, dataset, split, data_dir)


DEFAULT_BENCHMARK = "iclr2022"


@data_app.command("audit")
def audit_command(
    benchmark: Optional[str] = BENCHMARK,
    dataset: Optional[Path] = DATASET,
    data_dir: Optional[Path] = DATA_DIR,
    split: str = typer.Option("eval", "--split", help="Which ratings_<split>.tsv to audit."),
    text: TextChoice = typer.Option(TextChoice.raw, "--text", help="Audit the raw texts or the blinded ones."),
    body_only: bool = typer.Option(
        False, "--body-only", help="With --text blind: audit the text cut at References (as run --body-only shows it)."
    ),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Also write the audit here as JSON."),
    seed: int = typer.Option(0, "--seed", help="Seed of the folds and the bootstrap."),
) -> None:
    """How well the leakage cues alone (no science) predict Accept/Reject. The cues come from
    detectors of the audit's own, not from the blinder's rules."""
    from benchmarks.leakage.audit import audit_cues, collect_cues, print_report

    if body_only and text is not TextChoice.blind:
        raise fail("--body-only needs --text blind")
    with _user_errors():
        data = _open(benchmark, dataset, split, data_dir)
        with _progress(f"reading {text.value} texts", len(data.papers)) as advance:
            records, labels = collect_cues(data, text.value, body_only=body_only, progress=advance)
        report = audit_cues(data, text.value, records, labels, body_only=body_only, seed=seed)
        print_report(report)
        if json_path is not None:
            json_path.write_text(json.dumps(report.model_dump(mode="json"), indent=2) + "\n")
            typer.echo(f"wrote {json_path}")


@data_app.command("blind")
def blind_command(
    benchmark: Optional[str] = BENCHMARK,
    out: Path = typer.Option(..., "--out", help="With a benchmark name: a data root (the copy goes to OUT/<name>/); "
                                                "with --dataset: the folder itself (OUT/texts/<paper_id>.txt)."),
    dataset: Optional[Path] = DATASET,
    data_dir: Optional[Path] = DATA_DIR,
    split: Optional[list[str]] = typer.Option(None, "--split", help="Splits to copy (default: every ratings file)."),
    body_only: bool = typer.Option(False, "--body-only", help="Also cut everything from References on."),
) -> None:
    """Write a blinded copy of a benchmark: same layout, texts without leakage."""
    from corpus.blind import blind_dataset

    with _user_errors():
        if benchmark and dataset:
            raise fail("give a benchmark name or --dataset, not both")
        folder = dataset or benchmark_folder(benchmark or DEFAULT_BENCHMARK, data_dir)
        names = split or sorted(p.stem.removeprefix("ratings_") for p in folder.glob("ratings_*.tsv"))
        if not names:
            raise fail(f"{folder}: no ratings_*.tsv file")
        started = time.perf_counter()
        for name in names:
            data = _open(benchmark, dataset, name, data_dir)
            target = out if dataset else out / data.name
            with _progress(f"blinding {name}", len(data.papers)) as advance:
                blind_dataset(data, target, body_only=body_only, progress=advance)
            typer.echo(f"{target}: {len(data.papers)} {name} papers blinded")
        typer.echo(f"done in {time.perf_counter() - started:.1f} s")


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data", help="Benchmark data: list venues, audit leakage, blind texts, download, "
                                              "export.")
