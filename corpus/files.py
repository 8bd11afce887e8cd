"""File helpers shared by every layer: the cache folder, and writes that a crash cannot half-do."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path


def cache_dir() -> Path:
    """``$REVIEW_BENCH_CACHE_DIR``, default ``~/.cache/review-bench``."""
    return Path(os.environ.get("REVIEW_BENCH_CACHE_DIR") or Path.home() / ".cache" / "review-bench")


def atomic_write(path: str | Path, data: bytes | str, *, durable: bool = False) -> Path:
    """Write ``data`` to a temporary file beside ``path`` and rename it over ``path``, so a
    reader sees the old file or the new one, never a part. ``durable`` also fsyncs the file
    before the rename (for records a resume depends on)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.part")
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        with partial.open("wb") as handle:
            handle.write(payload)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return path


def files_fingerprint(paths: list[Path]) -> str:
    """Short hash of the files' names and contents, in the order given."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(f"{path.name}\0".encode() + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]
