"""Review a dataset's papers with bounded concurrency, one durable record per paper."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from benchmarks.records import PaperRecord, record_from_outcome
from benchmarks.store import RunStore
from corpus.dataset import DatasetPaper, PaperLoader
from corpus.paper import PaperInputError
from reviewer.models.pricing import add_costs, format_cost
from reviewer.outcome import PaperReviewer, ReviewFailure


@dataclass
class SessionSummary:
    total: int
    #: Papers already recorded before this run started (resumed).
    skipped: int = 0
    reviewed: int = 0
    failed: int = 0
    #: Cost of every record of these papers, including earlier sessions of the run (None: unknown).
    cost_usd: float | None = 0.0
    wall_s: float = 0.0


async def run_papers(
    papers: list[DatasetPaper],
    reviewer: PaperReviewer,
    store: RunStore,
    load: PaperLoader,
    *,
    concurrency: int = 8,
    retry_failed: bool = False,
    console: Console | None = None,
) -> SessionSummary:
    """Review every paper not yet in ``store``; ``concurrency`` papers in flight at most."""
    wanted = {p.paper_id for p in papers}
    earlier = [r for r in store.records() if r.paper_id in wanted]
    done = store.done_ids(retry_failed=retry_failed) & wanted
    todo = iter([p for p in papers if p.paper_id not in done])
    summary = SessionSummary(
        total=len(papers),
        skipped=len(done),
        failed=sum(not r.ok for r in earlier if r.paper_id in done),
        cost_usd=add_costs(r.cost_usd for r in earlier),
    )
    started = time.perf_counter()
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[cost]}  failed {task.fields[failed]}"),
        console=console or Console(stderr=True),
    )

    async def worker(task_id) -> None:
        for item in todo:  # one shared iterator: each paper goes to exactly one worker
            record = await _review(item, reviewer, load)
            store.append(record)
            summary.reviewed += 1
            summary.failed += not record.ok
            summary.cost_usd = add_costs((summary.cost_usd, record.cost_usd))
            progress.update(task_id, advance=1, cost=format_cost(summary.cost_usd), failed=summary.failed)

    try:
        with progress:
            task_id = progress.add_task(
                "reviewing", total=len(papers), completed=len(done), cost=format_cost(summary.cost_usd),
                failed=summary.failed
            )
            await asyncio.gather(*(worker(task_id) for _ in range(max(1, concurrency))))
    finally:
        summary.wall_s = time.perf_counter() - started
        await reviewer.aclose()
    return summary


async def _review(item: DatasetPaper, reviewer: PaperReviewer, load: PaperLoader) -> PaperRecord:
    try:
        paper = await asyncio.to_thread(load, item)
    except PaperInputError as exc:
        return _failure(item, "input", str(exc))
    try:
        outcome = await reviewer.review(paper)
    except Exception as exc:  # a reviewer bug must not lose the rest of the run
        return _failure(item, "internal", f"{type(exc).__name__}: {exc}")
    return record_from_outcome(outcome, item.human, text_chars=len(paper.text))


def _failure(item: DatasetPaper, kind: str, message: str) -> PaperRecord:
    failure = ReviewFailure(kind=kind, message=message)
    return PaperRecord(paper_id=item.paper_id, ok=False, human=item.human, failure=failure.model_dump())
