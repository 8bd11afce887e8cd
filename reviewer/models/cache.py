"""An on-disk cache of model calls, keyed by everything that decides the answer."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path

from corpus.files import cache_dir
from reviewer.models.base import ChatMessage, Completion, GenerateConfig, Usage


def request_key(identity: dict, messages: list[ChatMessage], config: GenerateConfig) -> str:
    """sha256 over everything that decides the answer. Each text is hashed once (a paper's
    prompt recurs in every call of its conversation), and as it is, not JSON-escaped."""
    # Unset options (None) are left out, so adding one keeps the keys of earlier calls.
    settings = {name: value for name, value in asdict(config).items() if value is not None}
    digest = hashlib.sha256(json.dumps({"identity": identity, "config": settings}, sort_keys=True).encode())
    for message in messages:
        digest.update(f"\0{message.role}\0{int(message.cache_prefix)}\0".encode() + _text_digest(message.content))
    return digest.hexdigest()


@lru_cache(maxsize=512)
def _text_digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


class CallCache:
    """SQLite, one row a request. Safe to share between tasks and threads of one process.

    Writes go to a background thread with a connection of its own (the caller, an event loop,
    waits neither on the disk nor on the writer: WAL lets reads go on during a write); what is
    still being written is served from memory, and ``close`` waits for it."""

    def __init__(self, path: Path | None = None):
        self.path = path or cache_dir() / "calls.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._unwritten: dict[str, Completion] = {}
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="call-cache")
        self._write_db = self._connect()
        self._write_db.execute("CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        self._write_db.commit()
        self._read_db = self._connect()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        # No fsync per commit: a crash may lose the last answers, never corrupt the file.
        db.execute("PRAGMA synchronous=NORMAL")
        return db

    def get(self, key: str) -> Completion | None:
        with self._lock:
            pending = self._unwritten.get(key)
            row = None if pending else self._read_db.execute("SELECT value FROM calls WHERE key = ?", (key,)).fetchone()
        if pending is not None:
            return Completion(texts=list(pending.texts), usage=pending.usage, model=pending.model, cached=True,
                              calls=0)
        if row is None:
            return None
        value = json.loads(row[0])
        return Completion(
            texts=value["texts"], usage=Usage(**value["usage"]), model=value["model"], cached=True, calls=0
        )

    def put(self, key: str, completion: Completion) -> None:
        with self._lock:
            self._unwritten[key] = completion
        self._writer.submit(self._write, key, completion)

    def _write(self, key: str, completion: Completion) -> None:
        value = json.dumps(
            {"texts": completion.texts, "usage": completion.usage.to_dict(), "model": completion.model}
        )
        self._write_db.execute("INSERT OR REPLACE INTO calls (key, value) VALUES (?, ?)", (key, value))
        self._write_db.commit()
        with self._lock:
            if self._unwritten.get(key) is completion:
                del self._unwritten[key]

    def close(self) -> None:
        self._writer.shutdown(wait=True)
        self._write_db.close()
        with self._lock:
            self._read_db.close()
