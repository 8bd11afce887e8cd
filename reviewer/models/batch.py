"""Batch APIs behind the wrapper, so the pipeline reads the same with or without them.

Every ``generate()`` of a batching model awaits a future. The batcher collects the requests
of all the papers in the pipeline, and once every paper waits on an answer (the pipeline's
step is complete for all of them) it sends them as one batch, polls it, and resolves the
futures with the answers (or with the error of each failed request, which the wrapper
retries in a later batch). The journal in the run dir records every batch submitted and
every answer received, so a killed run re-attaches to its batches and asks nothing twice.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import json
import logging
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

from reviewer.models.base import ChatMessage, Completion, GenerateConfig, ProviderError, TransientError, Usage

log = logging.getLogger(__name__)

#: Which paper the current task works for (set by ``Batcher.participant``).
_PARTICIPANT: contextvars.ContextVar[object | None] = contextvars.ContextVar("batch_participant", default=None)
#: Event-loop turns given to a step's sibling calls to arrive before a batch goes out.
_SIBLING_TURNS = 3


@dataclass
class BatchState:
    """A batch as the API reports it. ``status`` is the API's own word (validating, in_progress,
    completed, expired, ended...)."""

    status: str
    ended: bool
    total: int
    completed: int = 0
    failed: int = 0


class BatchAPI(Protocol):
    """One provider's batch endpoints (``openai_batch``, ``anthropic_batch``): translation only."""

    name: str
    max_requests: int
    max_bytes: int

    def line(self, custom_id: str, messages: list[ChatMessage], config: GenerateConfig) -> dict: ...

    async def submit(self, lines: list[dict]) -> str: ...

    async def poll(self, batch_id: str) -> BatchState: ...

    async def results(self, batch_id: str, ids: list[str]) -> dict[str, Completion | Exception]: ...


@dataclass
class BatchProgress:
    """What an observer (the run's progress display) is told on every change of a batch."""

    number: int
    batch_id: str
    requests: int
    state: BatchState | None = None  # None: just submitted


class BatchJournal:
    """``batches.jsonl``: one line per batch submitted, per answer or error received, and per
    batch ended. Appended and fsynced; a line cut by a kill is ignored."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.submitted: dict[str, list[str]] = {}
        self.ended: dict[str, str] = {}
        self.answers: dict[str, Completion | ProviderError] = {}
        if self.path.exists():
            data = self.path.read_bytes()
            for line in data[: data.rfind(b"\n") + 1].splitlines():
                if line.strip():
                    self._read(json.loads(line))

    def _read(self, entry: dict) -> None:
        if "submitted" in entry:
            self.submitted[entry["submitted"]] = entry["ids"]
        elif "ended" in entry:
            self.ended[entry["ended"]] = entry["status"]
        elif "answer" in entry:
            self.answers[entry["answer"]] = Completion(entry["texts"], Usage(**entry["usage"]), entry["model"])
        elif "error" in entry:
            kind = TransientError if entry["retryable"] else ProviderError
            self.answers[entry["error"]] = kind(entry["message"])

    def pending(self) -> dict[str, list[str]]:
        """Batches submitted whose answers have not been received."""
        return {batch_id: ids for batch_id, ids in self.submitted.items() if batch_id not in self.ended}

    def record_submitted(self, batch_id: str, api: str, ids: list[str]) -> None:
        self.submitted[batch_id] = ids
        self._append([{"submitted": batch_id, "api": api, "ids": ids}])

    def record_ended(self, batch_id: str, status: str, answers: dict[str, Completion | Exception]) -> None:
        entries = []
        for custom_id, answer in answers.items():
            if isinstance(answer, Completion):
                entries.append({"answer": custom_id, "batch": batch_id, "texts": answer.texts,
                                "usage": answer.usage.to_dict(), "model": answer.model})
            else:  # a quota error is kept as retryable: the resumed run asks again
                retryable = getattr(answer, "retryable", True)
                entries.append({"error": custom_id, "batch": batch_id, "message": str(answer),
                                "retryable": retryable})
            self.answers[custom_id] = answer if isinstance(answer, (Completion, ProviderError)) else \
                TransientError(str(answer))
        entries.append({"ended": batch_id, "status": status})
        self.ended[batch_id] = status
        self._append(entries)

    def _append(self, entries: list[dict]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("ab") as handle:
            handle.write(b"".join(json.dumps(entry).encode() + b"\n" for entry in entries))
            handle.flush()
            os.fsync(handle.fileno())


@dataclass
class _Queued:
    line: dict
    futures: list[asyncio.Future] = field(default_factory=list)


def custom_id(request_id: str) -> str:
    """A batch line's id: 64 characters of [0-9a-f], which both APIs accept."""
    return hashlib.sha256(request_id.encode()).hexdigest()


class Batcher:
    def __init__(self, api: BatchAPI, journal: BatchJournal, *, poll_interval: float = 30.0,
                 settle: float = 2.0, observer: Callable[[BatchProgress], None] | None = None):
        self.api = api
        self.journal = journal
        self.poll_interval = poll_interval
        #: Seconds without a new request after which a batch goes out even if some paper is busy.
        self.settle = settle
        self.observer = observer
        #: Every batch this session submitted or re-attached to, in order.
        self.batches: list[BatchProgress] = []
        self._intake: dict[str, _Queued] = {}
        self._submitted: dict[str, list[asyncio.Future]] = {}
        self._waiting: dict[object, int] = {}
        self._changed: asyncio.Event | None = None
        self._flusher: asyncio.Task | None = None
        self._pollers: set[asyncio.Task] = set()

    @contextmanager
    def participant(self, name: object):
        """Count the calls made inside as one paper's: a batch goes out once every paper waits."""
        token = _PARTICIPANT.set(name)
        self._waiting[name] = 0
        try:
            yield
        finally:
            _PARTICIPANT.reset(token)
            del self._waiting[name]
            self._nudge()

    async def generate(self, request_id: str, messages: list[ChatMessage], config: GenerateConfig) -> Completion:
        self._start()
        key = custom_id(request_id)
        answer = self.journal.answers.get(key)
        if answer is not None:  # answered in an earlier session of the run
            if isinstance(answer, Exception):
                raise answer
            return Completion(answer.texts, answer.usage, answer.model, cached=True, calls=0)
        future = asyncio.get_running_loop().create_future()
        if key in self._submitted:
            self._submitted[key].append(future)
        elif key in self._intake:
            self._intake[key].futures.append(future)
        else:
            self._intake[key] = _Queued(self.api.line(key, messages, config), [future])
            if self._flusher is None:
                self._flusher = asyncio.create_task(self._flush_when_quiet())
        participant = _PARTICIPANT.get()
        counted = participant in self._waiting
        if counted:
            self._waiting[participant] += 1
        self._nudge()
        try:
            return await future
        finally:
            if counted and participant in self._waiting:
                self._waiting[participant] -= 1

    def _start(self) -> None:
        """On first use: re-attach to the batches an earlier session submitted."""
        if self._changed is not None:
            return
        self._changed = asyncio.Event()
        for batch_id, ids in self.journal.pending().items():
            log.info("re-attaching to batch %s (%d requests)", batch_id, len(ids))
            for key in ids:
                self._submitted.setdefault(key, [])
            self._watch(batch_id, ids)

    def _nudge(self) -> None:
        if self._changed is not None:
            self._changed.set()

    def _all_waiting(self) -> bool:
        return all(count > 0 for count in self._waiting.values())

    async def _quiet(self) -> None:
        """Until every paper in the pipeline waits on an answer, or ``settle`` seconds pass
        without a new request (a caller outside any paper, or a paper stuck elsewhere)."""
        while True:
            self._changed.clear()
            if self._all_waiting():
                for _ in range(_SIBLING_TURNS):
                    await asyncio.sleep(0)
                if self._all_waiting() and not self._changed.is_set():
                    return
                continue
            try:
                await asyncio.wait_for(self._changed.wait(), self.settle)
            except asyncio.TimeoutError:
                return

    async def _flush_when_quiet(self) -> None:
        try:
            while self._intake:
                await self._quiet()
                queued, self._intake = self._intake, {}
                for chunk in self._chunks(queued):
                    await self._submit(chunk, queued)
        finally:
            self._flusher = None

    def _chunks(self, queued: dict[str, _Queued]) -> list[list[str]]:
        """The requests in batches within the API's limits on count and size."""
        chunks, current, size = [], [], 0
        for key, item in queued.items():
            line_size = len(json.dumps(item.line)) + 1
            if current and (len(current) >= self.api.max_requests or size + line_size > self.api.max_bytes):
                chunks.append(current)
                current, size = [], 0
            current.append(key)
            size += line_size
        return chunks + [current] if current else chunks

    async def _submit(self, ids: list[str], queued: dict[str, _Queued]) -> None:
        try:
            batch_id = await self.api.submit([queued[key].line for key in ids])
        except Exception as exc:  # the requests fail (the wrapper retries what may be retried)
            for key in ids:
                _settle(queued[key].futures, exc)
            return
        self.journal.record_submitted(batch_id, self.api.name, ids)
        for key in ids:
            self._submitted.setdefault(key, []).extend(queued[key].futures)
        self._watch(batch_id, ids)

    def _watch(self, batch_id: str, ids: list[str]) -> None:
        progress = BatchProgress(len(self.batches) + 1, batch_id, len(ids))
        self.batches.append(progress)
        self._report(progress)
        task = asyncio.create_task(self._poll(progress, ids))
        self._pollers.add(task)
        task.add_done_callback(self._pollers.discard)

    async def _poll(self, progress: BatchProgress, ids: list[str]) -> None:
        while True:
            try:
                state = await self.api.poll(progress.batch_id)
                if state.ended:
                    answers = await self.api.results(progress.batch_id, ids)
            except ProviderError as exc:
                if not exc.retryable:
                    return self._resolve(ids, {}, exc)
                # The batch runs on whatever happens here: keep asking (an interrupted run re-attaches).
                log.warning("batch %s: %s; asking again", progress.batch_id, exc)
                await asyncio.sleep(self.poll_interval)
                continue
            progress.state = state
            self._report(progress)
            if state.ended:
                break
            await asyncio.sleep(self.poll_interval)
        missing = TransientError(f"batch {progress.batch_id} ended {state.status} without an answer to a request")
        self.journal.record_ended(progress.batch_id, state.status, {key: answers.get(key, missing) for key in ids})
        self._resolve(ids, answers, missing)

    def _resolve(self, ids: list[str], answers: dict, otherwise: Exception) -> None:
        for key in ids:
            _settle(self._submitted.pop(key, []), answers.get(key, otherwise))

    def _report(self, progress: BatchProgress) -> None:
        if self.observer is not None:
            self.observer(progress)

    async def aclose(self) -> None:
        for task in [*self._pollers, *([self._flusher] if self._flusher else [])]:
            task.cancel()
        await asyncio.gather(*self._pollers, return_exceptions=True)


def _settle(futures: list[asyncio.Future], answer: Completion | Exception) -> None:
    for future in futures:
        if future.done():
            continue
        if isinstance(answer, Exception):
            future.set_exception(answer)
        else:
            future.set_result(Completion(list(answer.texts), answer.usage, answer.model))
