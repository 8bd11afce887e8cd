"""Review a dataset's papers with bounded concurrency, one durable record per paper.

Papers are read (and blinded) ahead of need in a background thread, and records are written
in another, so neither waits in the event loop that keeps the model calls going. A budget
stops the run before a paper that could take spending past it; an exhausted quota stops it
without recording the papers it interrupted; both leave a run the same command resumes.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Callable, Literal

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from benchmarks.records import PaperRecord, record_from_outcome
from benchmarks.store import RunStore
from corpus.dataset import DatasetPaper, PaperLoader
from corpus.paper import Paper, PaperInputError
from reviewer.models.base import QuotaExhausted
from reviewer.models.pricing import add_costs, format_cost
from reviewer.outcome import PaperReviewer, ReviewFailure

Stop = Literal["budget", "quota"]


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
    #: Why the session ended before every paper was reviewed, and the details in one line.
    stopped: Stop | None = None
    reason: str = ""


@dataclass
class Budget:
    """``--max-cost``: the run's spending (all its sessions) stays within ``max_cost``."""

    max_cost: float
    #: A paper's cost ceiling (``reviewer.plan``), known once it is read.
    ceiling: Callable[[Paper], float]
    reserved: float = 0.0

    def admit(self, spent: float, ceiling: float) -> bool:
        """Start a paper only if spending plus every started paper's ceiling stays within budget."""
        if spent + self.reserved + ceiling > self.max_cost:
            return False
        self.reserved += ceiling
        return True


async def run_papers(
    papers: list[DatasetPaper],
    reviewer: PaperReviewer,
    store: RunStore,
    load: PaperLoader,
    *,
    concurrency: int = 8,
    retry_failed: bool = False,
    console: Console | None = None,
    budget: Budget | None = None,
    batcher=None,
) -> SessionSummary:
    """Review every paper not yet in ``store``; ``concurrency`` papers in flight at most.

    With a ``batcher`` (``reviewer.models.batch``) every paper is read first and all start
    together, so each step of the pipeline goes out as one batch for all of them."""
    wanted = {p.paper_id for p in papers}
    earlier = [r for r in store.records() if r.paper_id in wanted]
    done = store.done_ids(retry_failed=retry_failed) & wanted
    todo = [p for p in papers if p.paper_id not in done]
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
        TextColumn("{task.fields[detail]}"),
        console=console or Console(stderr=True),
        refresh_per_second=4,
    )
    if batcher is not None:
        batcher.observer = _BatchRows(progress).show
        concurrency = len(todo)
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="records")
    loop = asyncio.get_running_loop()

    def detail() -> str:
        return f"{format_cost(summary.cost_usd)}  failed {summary.failed}"

    async def worker(prefetch: _Prefetch, task_id) -> None:
        while summary.stopped is None:
            loaded = await prefetch.next()
            if loaded is None:
                return
            item, paper = loaded
            if isinstance(paper, PaperRecord):  # it could not be read
                record = paper
            else:
                ceiling = budget.ceiling(paper) if budget else 0.0
                if budget and not budget.admit(summary.cost_usd or 0.0, ceiling):
                    _stop(summary, "budget", f"{format_cost(summary.cost_usd or 0.0)} spent; the next paper could "
                                             f"cost up to {format_cost(ceiling)}, over the --max-cost of "
                                             f"{format_cost(budget.max_cost)}")
                    return
                try:
                    with batcher.participant(item.paper_id) if batcher else nullcontext():
                        record = await _review(item, paper, reviewer)
                except QuotaExhausted as exc:
                    _stop(summary, "quota", str(exc))
                    return
                finally:
                    if budget:
                        budget.reserved -= ceiling
            await loop.run_in_executor(writer, store.append, record)
            summary.reviewed += 1
            summary.failed += not record.ok
            summary.cost_usd = add_costs((summary.cost_usd, record.cost_usd))
            progress.update(task_id, advance=1, detail=detail())

    try:
        with progress:
            task_id = progress.add_task("reviewing", total=len(papers), completed=len(done), detail=detail())
            prefetch = _Prefetch(todo, load, ahead=len(todo) if batcher else max(1, concurrency))
            if batcher is not None:
                progress.update(task_id, description="reading")
                await prefetch.finished()
                progress.update(task_id, description="reviewing")
            try:
                await asyncio.gather(*(worker(prefetch, task_id) for _ in range(max(1, concurrency))))
            finally:
                prefetch.cancel()
    finally:
        writer.shutdown(wait=True)
        summary.wall_s = time.perf_counter() - started
        await reviewer.aclose()
    return summary


def _stop(summary: SessionSummary, why: Stop, reason: str) -> None:
    if summary.stopped is None:
        summary.stopped, summary.reason = why, reason


class _Prefetch:
    """Papers read ahead of the workers, in order, one at a time in a worker thread."""

    def __init__(self, items: list[DatasetPaper], load: PaperLoader, *, ahead: int):
        self._queue: asyncio.Queue = asyncio.Queue(maxsize=ahead + 1)  # and the end marker
        self._task = asyncio.create_task(self._fill(items, load))

    async def _fill(self, items: list[DatasetPaper], load: PaperLoader) -> None:
        for item in items:
            try:
                paper = await asyncio.to_thread(load, item)
            except PaperInputError as exc:
                paper = _failure(item, "input", str(exc))
            await self._queue.put((item, paper))
        await self._queue.put(None)

    async def next(self) -> tuple[DatasetPaper, Paper | PaperRecord] | None:
        loaded = await self._queue.get()
        if loaded is None:
            self._queue.put_nowait(None)  # the end, for the other workers too
        return loaded

    async def finished(self) -> None:
        await asyncio.shield(self._task)

    def cancel(self) -> None:
        self._task.cancel()


class _BatchRows:
    """One progress row per batch, updated on every poll."""

    def __init__(self, progress: Progress):
        self.progress = progress
        self.rows: dict[str, object] = {}

    def show(self, batch) -> None:
        state = batch.state
        status = state.status if state else "submitted"
        description = f"batch {batch.number} ({status})"
        done = (state.completed + state.failed) if state else 0
        if batch.batch_id not in self.rows:
            self.rows[batch.batch_id] = self.progress.add_task(description, total=batch.requests, detail=batch.batch_id)
        self.progress.update(self.rows[batch.batch_id], description=description, completed=done)


async def _review(item: DatasetPaper, paper: Paper, reviewer: PaperReviewer) -> PaperRecord:
    try:
        outcome = await reviewer.review(paper)
    except QuotaExhausted:
        raise
    except Exception as exc:  # a reviewer bug must not lose the rest of the run
        return _failure(item, "internal", f"{type(exc).__name__}: {exc}")
    return record_from_outcome(outcome, item.human, text_chars=len(paper.text))


def _failure(item: DatasetPaper, kind: str, message: str) -> PaperRecord:
    failure = ReviewFailure(kind=kind, message=message)
    return PaperRecord(paper_id=item.paper_id, ok=False, human=item.human, failure=failure.model_dump())
