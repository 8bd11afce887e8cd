"""``review-bench stack``: an LLM run's scores combined with the offline model's P(accept)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from reviewer.cli_errors import fail

out = Console()


def register(app: typer.Typer) -> None:
    app.command("stack")(stack)


def stack(
    run_dir: Path = typer.Argument(..., help="A run folder (manifest.json + records.jsonl)."),
    with_: str = typer.Option("embedded", "--with", help="The second scorer; only 'embedded' exists."),
    data_dir: Optional[Path] = typer.Option(None, help="Data root (default: $REVIEW_BENCH_DATA)."),
) -> None:
    """Combine a run's scores with the offline model's P(accept); writes stack.json."""
    from benchmarks.stack import StackError, stack_notes, write_stack
    from benchmarks.stack import stack as combine
    from benchmarks.store import read_manifest, read_records
    from corpus.dataset import DatasetError, default_train_split, load_benchmark, paper_loader
    from reviewer.embedded.cache import get_model
    from reviewer.embedded.model import ModelError

    if with_ != "embedded":
        raise fail(f"--with {with_}: only 'embedded' can be stacked")
    try:
        manifest, records = read_manifest(run_dir), read_records(run_dir)
        model = get_model(default_train_split(data_dir))
        dataset = load_benchmark(manifest.dataset.name, manifest.dataset.split, data_dir)
    except (ModelError, DatasetError, FileNotFoundError, ValueError) as exc:
        raise fail(str(exc)) from None
    wanted = {r.paper_id for r in records}
    overlap = wanted & {p.paper_id for p in model.papers}
    if overlap:
        raise fail(f"{len(overlap)} papers of the run are in the offline model's train split; stack on other papers")
    papers = [p for p in dataset.papers if p.paper_id in wanted]
    load = paper_loader("raw")
    predictions = model.predict([load(p).text for p in papers])
    p_embedded = {p.paper_id: pred.p_accept for p, pred in zip(papers, predictions)}
    try:
        result = combine(records, p_embedded, stack_notes(manifest))
    except StackError as exc:
        raise fail(str(exc)) from None
    path = write_stack(run_dir, result)
    for note in result.notes:
        out.print(f"note: {note}", highlight=False)
    for part in ("llm", "embedded", "combined"):
        s = result.scores[part]
        ba, auc = result.ci[f"{part}.balanced_accuracy"], result.ci[f"{part}.auc"]
        out.print(f"{part:9s} balanced accuracy {s['balanced_accuracy']:.3f} [{ba[0]:.3f}, {ba[1]:.3f}]  "
                  f"AUC {s['auc']:.3f} [{auc[0]:.3f}, {auc[1]:.3f}]", highlight=False)
    for part, verdict in result.beats.items():
        out.print(f"combined beats {part}: balanced accuracy {'yes' if verdict['balanced_accuracy'] else 'no'}, "
                  f"AUC {'yes' if verdict['auc'] else 'no'} (paired bootstrap 95%)", highlight=False)
    out.print(f"wrote {path} (n={result.n})")
