"""A run on disk: ``manifest.json`` plus ``records.jsonl``, one durable line per paper.

Lines are appended whole, flushed and fsynced, so a process killed at any moment leaves
at most a truncated last line, which loading ignores and opening cuts off. A later line
for the same paper supersedes an earlier one (``--retry-failed``). One writer at a time
holds a lock on the run dir.
"""

from __future__ import annotations

import fcntl
import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ValidationError

from benchmarks.records import PaperRecord, RunManifest
from benchmarks.transcript_file import TranscriptLocation, TranscriptWriter, cut_unreferenced
from benchmarks.transcript_file import read_transcript as read_transcript_at
from corpus.files import atomic_write
from reviewer.transcript import Transcript

RunStatus = Literal["complete", "interrupted", "budget", "quota"]
MANIFEST = "manifest.json"
RECORDS = "records.jsonl"
LOCK = ".lock"


class RunStoreError(Exception):
    """A run dir that cannot be used. The message is one line."""


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def read_manifest(run_dir: str | Path) -> RunManifest:
    path = Path(run_dir) / MANIFEST
    try:
        return RunManifest.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        raise RunStoreError(f"{path}: no such file (not a run dir)") from None
    except ValidationError as exc:
        raise RunStoreError(f"{path}: not a valid manifest ({exc.errors()[0]['msg']})") from None


def read_records(run_dir: str | Path, record_type: type[BaseModel] = PaperRecord) -> list:
    """The latest record of each paper, in the order papers first appear."""
    path = Path(run_dir) / RECORDS
    if not path.exists():
        return []
    latest: dict = {}
    for record in _parse_lines(path, _complete_bytes(path), record_type):
        latest[record.paper_id] = record
    return list(latest.values())


def read_transcript(run_dir: str | Path, record: PaperRecord) -> Transcript | None:
    """The record's transcript, from the run's transcripts file; None when it has none."""
    if record.transcript is not None or record.transcript_at is None:
        return record.transcript
    return read_transcript_at(run_dir, record.transcript_at)


def _complete_bytes(path: Path) -> bytes:
    """The file up to its last newline: a line without one was cut by a kill."""
    data = path.read_bytes()
    return data[: data.rfind(b"\n") + 1]


def _parse_lines(path: Path, data: bytes, record_type: type[BaseModel]):
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield record_type.model_validate_json(line)
        except ValidationError:
            raise RunStoreError(f"{path}:{number}: not a valid record") from None


class RunStore:
    def __init__(self, run_dir: Path, manifest: RunManifest, lock_fd: int):
        self.run_dir = run_dir
        self.manifest = manifest
        self._lock_fd = lock_fd
        self._records_fd = os.open(run_dir / RECORDS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._transcripts = TranscriptWriter(run_dir)

    @classmethod
    def open(cls, run_dir: str | Path, manifest: RunManifest, *, allow_code_change: bool = False) -> RunStore:
        """Create a run dir, or reopen one written with the same config, dataset and code.

        A reopened run keeps its first start time; ``limit``, the threshold and the status are
        updated. ``allow_code_change`` resumes under other code (package version, prompts,
        blinding rules) and records the change in the manifest's notes.
        """
        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        lock_fd = _lock(run_dir)
        try:
            if (run_dir / MANIFEST).exists():
                manifest = _resume(run_dir, read_manifest(run_dir), manifest, allow_code_change)
            else:
                manifest = manifest.model_copy(update={"started_at": manifest.started_at or utc_now()})
            _cut_truncated_tail(run_dir / RECORDS)
            cut_unreferenced(run_dir, _transcripts_end(run_dir / RECORDS))
            store = cls(run_dir, manifest.model_copy(update={"status": "running", "finished_at": None}), lock_fd)
            store._write_manifest()
        except BaseException:
            os.close(lock_fd)
            raise
        return store

    def records(self) -> list[PaperRecord]:
        return read_records(self.run_dir)

    def done_ids(self, *, retry_failed: bool = False) -> set[str]:
        """Papers that need no new review: all recorded ones, or only the ok ones."""
        return {r.paper_id for r in self.records() if r.ok or not retry_failed}

    def append(self, record: BaseModel) -> None:
        """Write the record durably; a ``PaperRecord``'s transcript first (the line points at it)."""
        if isinstance(record, PaperRecord) and record.transcript is not None:
            record = record.model_copy(
                update={"transcript_at": self._transcripts.append(record.paper_id, record.transcript)})
        line = memoryview(record.model_dump_json().encode() + b"\n")
        while line:  # O_APPEND, one writer: a short write just continues where it stopped
            line = line[os.write(self._records_fd, line):]
        os.fsync(self._records_fd)

    def add_notes(self, notes: list[str]) -> None:
        """Notes for the manifest (written by ``finish``); ones it already holds are not repeated."""
        new = [note for note in notes if note not in self.manifest.notes]
        self.manifest = self.manifest.model_copy(update={"notes": [*self.manifest.notes, *new]})

    def finish(self, status: RunStatus) -> None:
        """Record how the run ended and release the run dir."""
        self.manifest = self.manifest.model_copy(update={"status": status, "finished_at": utc_now()})
        self._write_manifest()
        self.close()

    def close(self) -> None:
        if self._records_fd >= 0:
            os.close(self._records_fd)
            self._transcripts.close()
            os.close(self._lock_fd)
            self._records_fd = self._lock_fd = -1

    def _write_manifest(self) -> None:
        atomic_write(self.run_dir / MANIFEST, self.manifest.model_dump_json(indent=2) + "\n", durable=True)


def _lock(run_dir: Path) -> int:
    fd = os.open(run_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise RunStoreError(f"{run_dir}: another process is writing to this run") from None
    return fd


def _difference(old: RunManifest, new: RunManifest) -> str | None:
    """What makes two runs different runs, if anything: they cannot share a run dir."""
    checks = [
        ("kind", old.kind, new.kind),
        ("config", old.config_hash, new.config_hash),
        ("dataset", old.dataset.fingerprint, new.dataset.fingerprint),
        ("text mode", old.dataset.text_mode, new.dataset.text_mode),
        ("attack", old.attack, new.attack),
        ("subset", old.subset and old.subset.rule, new.subset and new.subset.rule),
    ]
    for what, before, now in checks:
        if before != now:
            return f"a different {what} ({before} != {now})"
    return None


def _code_change(old: RunManifest, new: RunManifest) -> str | None:
    if old.code is None or new.code is None or old.code == new.code:
        return None
    before, now = old.code.model_dump(), new.code.model_dump()
    return ", ".join(f"{key} {before[key] or '-'} -> {now[key] or '-'}" for key in before if before[key] != now[key])


def _resume(run_dir: Path, old: RunManifest, new: RunManifest, allow_code_change: bool) -> RunManifest:
    difference = _difference(old, new)
    if difference:
        raise RunStoreError(f"{run_dir} holds a run with {difference}; choose another --run-dir")
    notes = [*old.notes, f"resumed at {utc_now()}"]
    change = _code_change(old, new)
    if change and not allow_code_change:
        raise RunStoreError(
            f"{run_dir} was reviewed by other code ({change}); resuming would mix two reviewers in one run: "
            "choose another --run-dir, or pass --allow-code-change to go on and record the change"
        )
    if change:
        notes.append(f"code changed at {utc_now()}: {change} (--allow-code-change)")
    if old.transcripts != new.transcripts:
        kept = "kept" if new.transcripts else "not kept (--no-transcript)"
        notes.append(f"from {utc_now()} transcripts are {kept}; earlier papers' records differ")
    return new.model_copy(update={"started_at": old.started_at, "notes": notes})


def _transcripts_end(records: Path) -> int:
    """Where the last transcript any record line points at ends (superseded lines too)."""
    if not records.exists():
        return 0
    ends = [TranscriptLocation.model_validate(at).end
            for line in _complete_bytes(records).splitlines() if line.strip()
            for at in [json.loads(line).get("transcript_at")] if at]
    return max(ends, default=0)


def _cut_truncated_tail(path: Path) -> None:
    if not path.exists():
        return
    keep = len(_complete_bytes(path))
    if keep != path.stat().st_size:
        with path.open("r+b") as handle:
            handle.truncate(keep)
            handle.flush()
            os.fsync(handle.fileno())


def find_unfinished(runs_root: Path, manifest: RunManifest) -> Path | None:
    """The latest run dir under ``runs_root`` named ``*-<config hash>`` that has the same
    dataset and text mode and did not complete, so the same command resumes it."""
    for run_dir in sorted(runs_root.glob(f"*-{manifest.config_hash}"), reverse=True):
        try:
            old = read_manifest(run_dir)
        except RunStoreError:
            continue
        if old.status != "complete" and _difference(old, manifest) is None:
            return run_dir
    return None
