"""``review-bench probe MODEL``: does the model know the benchmark's papers and their decisions?"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from reviewer.cli_errors import fail, user_errors
from reviewer.cli_options import DataDir, NoCache

err = Console(stderr=True, highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("probe")(probe)


def probe(
    model: Annotated[str, typer.Argument(help="provider/model, as for `review --model`.", show_default=False)],
    data_dir: DataDir = None,
    benchmark: Annotated[str, typer.Option("--benchmark", help="Benchmark under the data root.")] = "iclr2022",
    dataset: Annotated[Optional[Path], typer.Option("--dataset", help="Your own dataset folder instead.")] = None,
    split: Annotated[str, typer.Option(help="The split to probe.")] = "eval",
    limit: Annotated[Optional[int], typer.Option(min=1, help="Probe the first N papers of the split's fixed order.")] = None,
    venue: Annotated[Optional[str], typer.Option(help="Venue named in the prompts (default: from the dataset).")] = None,
    base_url: Annotated[Optional[str], typer.Option("--base-url", help="OpenAI/Anthropic-compatible server URL.")] = None,
    concurrency: Annotated[int, typer.Option(min=1, help="Papers in flight.")] = 8,
    timeout: Annotated[float, typer.Option(min=1.0, help="Seconds before one request is retried.")] = 600.0,
    no_cache: NoCache = False,
    out: Annotated[Optional[Path], typer.Option("--out", help="Probe folder (default runs/probe-<model>-<split>).")] = None,
    for_run: Annotated[Optional[Path], typer.Option(
        "--for-run", help="A run of the same model whose reports should show this probe.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the requests and tokens it would spend, and stop.")] = False,
) -> None:
    """Ask MODEL, per paper, from the title alone whether it knows the paper and the venue's decision,
    and to continue the first half of its abstract; score decision recall and ROUGE-L overlap."""
    from benchmarks.probe import probe_items, request_estimate, venue_name
    from corpus.dataset import open_dataset
    from reviewer.models.pricing import format_cost
    from reviewer.models.registry import canonical_name, create_model

    try:
        name = canonical_name(model)
        data = open_dataset(benchmark, dataset, split, data_dir)
        items, skipped = probe_items(data, limit)
        wrapped = create_model(name, base_url=base_url, use_cache=not no_cache, max_concurrency=concurrency,
                               timeout=timeout)
    except user_errors() as exc:
        raise fail(str(exc)) from None
    venue = venue or venue_name(data)
    for line in skipped:
        err.print(f"skipped {line}")
    estimate = request_estimate(wrapped, items, venue)
    err.print(f"probe of {name} on {data.name} {split}: {len(items)} papers, {estimate['requests']} requests, "
              f"about {estimate['input_tokens']:,} input tokens and at most {estimate['max_output_tokens']:,} output "
              f"tokens: at most {format_cost(estimate['max_cost_usd'])} (cached answers cost nothing)")
    if dry_run:
        asyncio.run(wrapped.aclose())
        return
    probe_dir = out or Path("runs") / f"probe-{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}-{data.name}-{split}"
    from benchmarks.store import RunStoreError

    try:
        run_manifest = _run_of(for_run, name) if for_run is not None else None
        store = _open(probe_dir, name, data, split, limit, venue)
        if run_manifest is not None:
            _point(for_run, run_manifest, probe_dir)
    except RunStoreError as exc:
        asyncio.run(wrapped.aclose())
        raise fail(str(exc)) from None
    _run(store, items, wrapped, venue, concurrency)


def _open(probe_dir: Path, model: str, data, split: str, limit: int | None, venue: str):
    from benchmarks.probe import probe_code
    from benchmarks.records import CodeIdentity, DatasetInfo, RunManifest
    from benchmarks.store import RunStore
    from review_bench import __version__

    config = {"model": model, "probe": "title decision + abstract continuation", "temperature": 0.0, "venue": venue}
    manifest = RunManifest(
        kind="probe",
        name=probe_dir.name,
        config=config,
        config_hash=hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12],
        dataset=DatasetInfo(name=data.name, split=split, path=str(data.folder.resolve()),
                            fingerprint=data.fingerprint(), n_papers=len(data.subset(limit)), text_mode="raw"),
        package_version=__version__,
        code=CodeIdentity(package_version=__version__, prompts=probe_code()),
        limit=limit,
    )
    return RunStore.open(probe_dir, manifest)


def _run_of(run_dir: Path, model: str):
    """The manifest of the run the probe is for, which must be a run of the same model."""
    from benchmarks.store import RunStoreError, read_manifest

    manifest = read_manifest(run_dir)
    if manifest.config.get("model") != model:
        raise RunStoreError(f"{run_dir} is a run of {manifest.config.get('model')}, not of {model}")
    return manifest


def _point(run_dir: Path, manifest, probe_dir: Path) -> None:
    """Record the probe in the run's manifest, so its reports show it."""
    from benchmarks.store import MANIFEST
    from corpus.files import atomic_write

    updated = manifest.model_copy(update={"probe": str(probe_dir.resolve())})
    atomic_write(run_dir / MANIFEST, updated.model_dump_json(indent=2) + "\n", durable=True)


def _run(store, items, model, venue: str, concurrency: int) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from benchmarks.probe import probe_metrics, read_probe, run_probe

    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=err)

    async def go():
        try:
            await run_probe(items, model, store, venue, concurrency=concurrency, progress=progress)
        finally:
            await model.aclose()

    try:
        asyncio.run(go())
    except KeyboardInterrupt:
        store.add_notes(model.notes)
        store.finish("interrupted")
        err.print(f"interrupted: probed papers are kept in {store.run_dir}; the same command resumes")
        raise typer.Exit(130) from None
    store.add_notes(model.notes)
    store.finish("complete")
    _, records = read_probe(store.run_dir)
    metrics = probe_metrics(records)
    (store.run_dir / "probe.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    print_probe(metrics, store.run_dir)


def print_probe(metrics: dict, probe_dir: Path) -> None:
    from rich.table import Table

    from reviewer.models.pricing import format_cost

    def cell(key: str) -> str:
        value, interval = metrics.get(key), metrics["ci"].get(key)
        if value is None:
            return "–"
        return f"{value:.3f}" + (f" [{interval[0]:.3f}, {interval[1]:.3f}]" if interval else "")

    table = Table("measure", "value (95% bootstrap interval)", title=f"contamination probe: {probe_dir}")
    rows = [
        ("claims to know the paper (title only)", cell("claims_known")),
        ("names a decision", cell("answered")),
        ("decision recall (right decision named)", cell("decision_recall")),
        ("  chance: the same answers, unrelated to the truth", cell("decision_recall_chance")),
        ("  majority-class base rate", cell("majority_base_rate")),
        ("decision accuracy where it named one", cell("decision_accuracy_answered")),
        ("abstract continuation ROUGE-L F1", cell("rouge_l")),
        ("  against another paper's abstract", cell("rouge_l_other_paper")),
        ("  excess over another paper's", cell("rouge_l_excess")),
    ]
    for row in rows:
        table.add_row(*row)
    Console().print(table)
    Console().print(f"{metrics['n_scored']} papers scored, {metrics['n_failed']} failed, cost "
                    f"{format_cost(metrics['cost_usd'])}", highlight=False)
