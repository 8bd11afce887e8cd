"""``review-bench view``: the report site of some runs, served on 127.0.0.1 and rebuilt while
they grow. Pages poll ``/_version`` and reload when a rebuild finished."""

from __future__ import annotations

import html
import shutil
import tempfile
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from benchmarks.report import summarise
from benchmarks.site.build import write_site
from benchmarks.store import MANIFEST, RECORDS, RunStoreError
from benchmarks.transcript_file import TranscriptFileError

WAITING = (b"<!doctype html><meta charset='utf-8'><meta http-equiv='refresh' content='2'>"
           b"<title>review-bench</title><p>Building the report (%s)...</p>")


class LiveSite:
    """The site of ``run_dirs``, rebuilt into a fresh folder whenever their records change;
    the folder being served is swapped whole, so no page is ever half-written."""

    def __init__(self, run_dirs: list[Path], work: Path, data_dir: Path | None = None):
        self.run_dirs = [Path(run_dir) for run_dir in run_dirs]
        self.data_dir = data_dir
        self.work = work
        self.version = 0
        self.folder: Path | None = None
        self.error: str | None = None
        self._stamp: tuple | None = None
        self._lock = threading.Lock()

    def _current_stamp(self) -> tuple:
        files = [run_dir / name for run_dir in self.run_dirs for name in (MANIFEST, RECORDS, "metrics.json")]
        return tuple((f.stat().st_mtime_ns, f.stat().st_size) if f.exists() else None for f in files)

    def current(self) -> tuple[Path | None, int]:
        """The folder being served and its version, as one rebuild left them."""
        with self._lock:
            return self.folder, self.version

    def refresh(self) -> bool:
        """Rebuild if the runs changed; True when a new version is served."""
        stamp = self._current_stamp()
        if stamp == self._stamp:
            return False
        folder = self.work / f"v{self.version + 1}"
        try:
            write_site([summarise(run_dir, self.data_dir) for run_dir in self.run_dirs], folder)
        except (RunStoreError, TranscriptFileError, OSError, ValueError) as exc:  # e.g. no records yet: try later
            shutil.rmtree(folder, ignore_errors=True)
            self.error = f"{type(exc).__name__}: {exc}"
            return False
        with self._lock:
            old, self.folder = self.folder, folder
            self.version += 1
            self._stamp, self.error = stamp, None
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return True


class _Handler(SimpleHTTPRequestHandler):
    def __init__(self, *args, site: LiveSite, **kwargs):
        self.site = site
        self.folder, self.served_version = site.current()
        super().__init__(*args, directory=str(self.folder or site.work), **kwargs)

    def log_message(self, *args) -> None:
        return

    def do_GET(self) -> None:
        if self.path == "/_version":
            self._reply(200, str(self.site.version).encode(), "text/plain")
        elif self.folder is None:
            self._reply(503, WAITING % html.escape(self.site.error or "no records yet").encode(), "text/html")
        elif self.path.split("?", 1)[0].endswith(".html"):
            self._page()
        else:
            super().do_GET()

    def _page(self) -> None:
        """A page stamped with the version it was built in: it reloads when /_version moves past it,
        even when a rebuild finished before its first poll."""
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(404)
            return
        stamp = f'<meta name="review-bench-version" content="{self.served_version}"></head>'.encode()
        self._reply(200, path.read_bytes().replace(b"</head>", stamp, 1), "text/html")

    def _reply(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("content-type", f"{content_type}; charset=utf-8")
        self.send_header("content-length", str(len(body)))
        self.send_header("cache-control", "no-store")
        self.end_headers()
        self.wfile.write(body)


class SiteServer:
    """Serves a ``LiveSite`` on 127.0.0.1 (``port`` 0: any free port) and refreshes it every
    ``interval`` seconds, in background threads, until ``stop``."""

    def __init__(self, run_dirs: list[Path], *, port: int = 0, interval: float = 2.0, data_dir: Path | None = None):
        self._work = Path(tempfile.mkdtemp(prefix="review-bench-view-"))
        self.site = LiveSite(run_dirs, self._work, data_dir)
        self.interval = interval
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), partial(_Handler, site=self.site))
        self._httpd.daemon_threads = True
        self._stopped = threading.Event()
        self._threads = [threading.Thread(target=self._httpd.serve_forever, daemon=True),
                         threading.Thread(target=self._watch, daemon=True)]

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/"

    def start(self) -> SiteServer:
        self.site.refresh()
        for thread in self._threads:
            thread.start()
        return self

    def _watch(self) -> None:
        while not self._stopped.wait(self.interval):
            self.site.refresh()

    def stop(self) -> None:
        self._stopped.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        shutil.rmtree(self._work, ignore_errors=True)
