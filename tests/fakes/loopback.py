"""What every fake service shares: a threaded HTTP server on a free loopback port."""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer


class Listener(ThreadingHTTPServer):
    daemon_threads = True
    # Many clients connect at once (concurrency tests, benchmarks): the default backlog of 5
    # makes the kernel reset some of them.
    request_queue_size = 128


class LoopbackServer:
    """Serves ``handler`` (a ``BaseHTTPRequestHandler`` class) once started; ``with`` works too."""

    def _listen(self, handler) -> None:
        self._httpd = Listener(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def openai_base_url(self) -> str:
        return self.url + "/v1"

    def start(self):
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
