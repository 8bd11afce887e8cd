"""An on-disk cache of model calls, keyed by everything that decides the answer."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from dataclasses import asdict
from pathlib import Path

from corpus.files import cache_dir
from reviewer.models.base import ChatMessage, Completion, GenerateConfig, Usage


def request_key(identity: dict, messages: list[ChatMessage], config: GenerateConfig) -> str:
    payload = {
        "identity": identity,
        "messages": [asdict(m) for m in messages],
        # Unset options (None) are left out, so adding one keeps the keys of earlier calls.
        "config": {name: value for name, value in asdict(config).items() if value is not None},
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


class CallCache:
    """SQLite, one row a request. Safe to share between tasks and threads of one process."""

    def __init__(self, path: Path | None = None):
        self.path = path or cache_dir() / "calls.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            self._db.commit()

    def get(self, key: str) -> Completion | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM calls WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        value = json.loads(row[0])
        return Completion(
            texts=value["texts"], usage=Usage(**value["usage"]), model=value["model"], cached=True, calls=0
        )

    def put(self, key: str, completion: Completion) -> None:
        value = json.dumps(
            {"texts": completion.texts, "usage": completion.usage.to_dict(), "model": completion.model}
        )
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO calls (key, value) VALUES (?, ?)", (key, value))
            self._db.commit()

    def close(self) -> None:
        with self._lock:
            self._db.close()
