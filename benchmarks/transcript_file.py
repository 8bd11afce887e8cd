"""A run's transcripts, beside its records: ``transcripts.jsonl.gz``.

The file is a series of gzip members, one per record, each holding one JSON line
(``{"paper_id": ..., "transcript": ...}``): ``zcat`` reads it as JSONL. A record line says
where its member starts and how long it is, so one transcript is read with a seek and
one decompression, and the records stay small and quick to read.

Blocks shared by every paper of a run (the few-shot examples) are written once, to
``blocks/<id>.txt``, and left out of the members.

Crash safety follows the records: a member is written and fsynced before the record line that
points at it, so a kill leaves at most a member no record refers to, which reopening the
run cuts off (``cut_unreferenced``).
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

from pydantic import BaseModel

from corpus.files import atomic_write
from reviewer.transcript import Transcript

TRANSCRIPTS = "transcripts.jsonl.gz"
BLOCKS = "blocks"


class TranscriptLocation(BaseModel):
    offset: int
    length: int

    @property
    def end(self) -> int:
        return self.offset + self.length


class TranscriptFileError(Exception):
    """A transcript that a record points at and that cannot be read. One line."""


class TranscriptWriter:
    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        self._fd = -1  # opened with the first transcript: a run without any has no file

    def append(self, paper_id: str, transcript: Transcript) -> TranscriptLocation:
        """Write the transcript durably; returns where it is, for the record."""
        for block in transcript.blocks:
            if block.shared and block.text is not None:
                path = self.run_dir / BLOCKS / f"{block.id}.txt"
                if not path.exists():
                    atomic_write(path, block.text, durable=True)
        stored = transcript.model_copy(update={"blocks": [
            block.model_copy(update={"text": None}) if block.shared else block for block in transcript.blocks
        ]})
        line = json.dumps({"paper_id": paper_id, "transcript": stored.model_dump(mode="json")}) + "\n"
        member = gzip.compress(line.encode(), compresslevel=6, mtime=0)
        if self._fd < 0:
            self._fd = os.open(self.run_dir / TRANSCRIPTS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        offset = os.fstat(self._fd).st_size  # one writer: the end is where O_APPEND writes
        data = memoryview(member)
        while data:
            data = data[os.write(self._fd, data):]
        os.fsync(self._fd)
        return TranscriptLocation(offset=offset, length=len(member))

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def read_transcript(run_dir: str | Path, location: TranscriptLocation) -> Transcript:
    """One transcript, its shared blocks filled in from the run's ``blocks/``."""
    path = Path(run_dir) / TRANSCRIPTS
    try:
        with path.open("rb") as handle:
            handle.seek(location.offset)
            member = handle.read(location.length)
        line = json.loads(gzip.decompress(member))
    except FileNotFoundError:
        raise TranscriptFileError(f"{path}: no such file") from None
    except (OSError, EOFError, ValueError):
        raise TranscriptFileError(f"{path}: no readable transcript at byte {location.offset}") from None
    transcript = Transcript.model_validate(line["transcript"])
    for block in transcript.blocks:
        shared = Path(run_dir) / BLOCKS / f"{block.id}.txt"
        if block.text is None and shared.is_file():
            block.text = shared.read_text(encoding="utf-8")
    return transcript


def cut_unreferenced(run_dir: Path, end: int) -> None:
    """Cut the transcripts file after ``end``, the end of the last member a record refers to."""
    path = run_dir / TRANSCRIPTS
    if path.exists() and path.stat().st_size > end:
        with path.open("r+b") as handle:
            handle.truncate(end)
            handle.flush()
            os.fsync(handle.fileno())
