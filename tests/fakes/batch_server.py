"""A local server that plays both batch APIs for the real SDKs.

OpenAI: ``POST /v1/files`` (a multipart JSONL upload), ``POST /v1/batches``, ``GET
/v1/batches/{id}`` (validating, then in_progress, then completed or expired, one step per
look), ``GET /v1/files/{id}/content`` (the output and error files). Anthropic: ``POST
/v1/messages/batches``, ``GET /v1/messages/batches/{id}`` (in_progress, then ended) and
``GET /v1/messages/batches/{id}/results``. Each request in a batch is answered by the same
responders as ``FakeLLMServer``'s live calls; tests script partial errors and expiry.
"""

from __future__ import annotations

import email.parser
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from fakes.llm_server import FakeLLMServer, Responder, SeenRequest
from fakes.loopback import LoopbackServer

#: The steps a batch goes through, one per look at it.
OPENAI_STEPS = ["validating", "in_progress", "finalizing", "completed"]


@dataclass
class FakeBatch:
    id: str
    api: str
    lines: list[dict]
    created_at: int = field(default_factory=lambda: int(time.time()))
    looks: int = 0
    #: How the batch ends: "completed", or "expired" (requests after ``expire_after`` never run).
    ending: str = "completed"
    expire_after: int = 0
    output_file_id: str | None = None
    error_file_id: str | None = None


@dataclass
class FakeBatchServer(LoopbackServer):
    responder: Responder
    #: Callable(batch line) -> (HTTP status, error type) for a request that fails inside its
    #: batch, or None for one that is answered.
    error_for: object = None
    #: The next batch expires after answering this many of its requests (None: it completes).
    expire_next_after: int | None = None
    batches: dict[str, FakeBatch] = field(default_factory=dict)
    #: Every HTTP request: (method, path).
    requests: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self):
        self._lock = threading.Lock()
        self._files: dict[str, bytes] = {}
        self._ids = itertools.count(1)
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                return

            def do_GET(self):
                self._route("GET", b"")

            def do_POST(self):
                self._route("POST", self.rfile.read(int(self.headers.get("content-length", 0))))

            def _route(self, method: str, raw: bytes):
                path = self.path.split("?")[0].rstrip("/")
                with server._lock:
                    server.requests.append((method, path))
                    status, payload = server._handle(method, path, raw, self.headers.get("content-type", ""))
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json" if not isinstance(payload, bytes)
                                 else "application/octet-stream")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._listen(Handler)

    # ---- routing -------------------------------------------------------------------------

    def _handle(self, method: str, path: str, raw: bytes, content_type: str):
        parts = path.strip("/").split("/")[1:]  # without the leading "v1"
        if parts == ["files"] and method == "POST":
            return self._upload(raw, content_type)
        if len(parts) == 3 and parts[0] == "files" and parts[2] == "content":
            return 200, self._files[parts[1]]
        if parts == ["batches"] and method == "POST":
            return self._create_openai(json.loads(raw))
        if len(parts) == 2 and parts[0] == "batches":
            return 200, self._openai_batch(self._look(parts[1]))
        if parts == ["messages", "batches"] and method == "POST":
            return self._create_anthropic(json.loads(raw))
        if len(parts) == 3 and parts[:2] == ["messages", "batches"]:
            return 200, self._anthropic_batch(self._look(parts[2]))
        if len(parts) == 4 and parts[3] == "results":
            return 200, self._anthropic_results(self.batches[parts[2]])
        return 404, {"error": {"message": f"no route for {method} {path}", "type": "invalid_request_error"}}

    def _upload(self, raw: bytes, content_type: str):
        message = email.parser.BytesParser().parsebytes(
            f"content-type: {content_type}\r\n\r\n".encode() + raw)
        fields = {part.get_param("name", header="content-disposition"): part.get_payload(decode=True)
                  for part in message.get_payload()}
        file_id = f"file-{next(self._ids)}"
        self._files[file_id] = fields["file"]
        return 200, {"id": file_id, "object": "file", "bytes": len(fields["file"]), "created_at": int(time.time()),
                     "filename": "requests.jsonl", "purpose": fields["purpose"].decode(), "status": "processed"}

    def _new(self, api: str, lines: list[dict]) -> FakeBatch:
        batch = FakeBatch(f"{'batch' if api == 'openai' else 'msgbatch'}_{next(self._ids)}", api, lines)
        if self.expire_next_after is not None:
            batch.ending, batch.expire_after = "expired", self.expire_next_after
            self.expire_next_after = None
        self.batches[batch.id] = batch
        return batch

    def _look(self, batch_id: str) -> FakeBatch:
        batch = self.batches[batch_id]
        batch.looks += 1
        return batch

    # ---- OpenAI --------------------------------------------------------------------------

    def _create_openai(self, body: dict):
        lines = [json.loads(line) for line in self._files[body["input_file_id"]].splitlines() if line.strip()]
        batch = self._new("openai", lines)
        return 200, self._openai_batch(batch, body)

    def _openai_batch(self, batch: FakeBatch, body: dict | None = None) -> dict:
        step = OPENAI_STEPS[min(batch.looks, len(OPENAI_STEPS) - 1)]
        status = batch.ending if step == "completed" else step
        if status in ("completed", "expired") and batch.output_file_id is None:
            self._finish_openai(batch)
        answered = self._answered(batch) if status in ("completed", "expired") else []
        failed = sum(1 for _, error in answered if error)
        return {
            "id": batch.id, "object": "batch", "endpoint": "/v1/chat/completions", "errors": None,
            "input_file_id": "file-input", "completion_window": "24h", "status": status,
            "output_file_id": batch.output_file_id, "error_file_id": batch.error_file_id,
            "created_at": batch.created_at,
            "request_counts": {"total": len(batch.lines), "completed": len(answered) - failed, "failed": failed},
        }

    def _answered(self, batch: FakeBatch) -> list[tuple[dict, tuple | None]]:
        limit = batch.expire_after if batch.ending == "expired" else len(batch.lines)
        return [(line, self._error(line)) for line in batch.lines[:limit]]

    def _error(self, line: dict):
        return self.error_for(line) if self.error_for is not None else None

    def _finish_openai(self, batch: FakeBatch) -> None:
        outputs, errors = [], []
        for line, error in self._answered(batch):
            if error:
                status, kind = error
                errors.append({"id": f"batch_req_{next(self._ids)}", "custom_id": line["custom_id"],
                               "response": {"status_code": status, "request_id": "req_fake",
                                            "body": {"error": {"message": f"fake {kind}", "type": kind,
                                                               "param": None, "code": None}}},
                               "error": None})
            else:
                seen = SeenRequest("openai", line["url"], line["body"], {})
                outputs.append({"id": f"batch_req_{next(self._ids)}", "custom_id": line["custom_id"],
                                "response": {"status_code": 200, "request_id": "req_fake",
                                             "body": FakeLLMServer._payload(seen, self._texts(seen))},
                                "error": None})
        for line in batch.lines[len(self._answered(batch)):]:
            errors.append({"id": f"batch_req_{next(self._ids)}", "custom_id": line["custom_id"], "response": None,
                           "error": {"code": "batch_expired",
                                     "message": "This request could not be executed before the completion window "
                                                "expired."}})
        batch.output_file_id = self._file(outputs)
        batch.error_file_id = self._file(errors) if errors else None

    def _file(self, entries: list[dict]) -> str:
        file_id = f"file-{next(self._ids)}"
        self._files[file_id] = b"".join(json.dumps(entry).encode() + b"\n" for entry in entries)
        return file_id

    def _texts(self, seen: SeenRequest) -> list[str]:
        answer = self.responder(seen)
        texts = [answer] if isinstance(answer, str) else list(answer)
        return (texts * seen.n)[: seen.n] if seen.api == "openai" and len(texts) < seen.n else texts

    # ---- Anthropic -----------------------------------------------------------------------

    def _create_anthropic(self, body: dict):
        return 200, self._anthropic_batch(self._new("anthropic", body["requests"]))

    def _anthropic_batch(self, batch: FakeBatch) -> dict:
        ended = batch.looks >= 2
        answered = self._answered(batch) if ended else []
        errored = sum(1 for _, error in answered if error)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(batch.created_at))
        return {
            "id": batch.id, "type": "message_batch", "processing_status": "ended" if ended else "in_progress",
            "request_counts": {"processing": 0 if ended else len(batch.lines), "succeeded": len(answered) - errored,
                               "errored": errored, "canceled": 0,
                               "expired": len(batch.lines) - len(answered) if ended else 0},
            "created_at": stamp, "expires_at": stamp, "ended_at": stamp if ended else None,
            "archived_at": None, "cancel_initiated_at": None,
            "results_url": f"{self.url}/v1/messages/batches/{batch.id}/results" if ended else None,
        }

    def _anthropic_results(self, batch: FakeBatch) -> bytes:
        entries = []
        for line, error in self._answered(batch):
            if error:
                status, kind = error
                result = {"type": "errored", "error": {"type": "error", "error": {"type": kind,
                                                                                 "message": f"fake {kind}"}}}
            else:
                seen = SeenRequest("anthropic", "/v1/messages", line["params"], {})
                result = {"type": "succeeded", "message": FakeLLMServer._payload(seen, self._texts(seen))}
            entries.append({"custom_id": line["custom_id"], "result": result})
        for line in batch.lines[len(self._answered(batch)):]:
            entries.append({"custom_id": line["custom_id"], "result": {"type": "expired"}})
        return b"".join(json.dumps(entry).encode() + b"\n" for entry in entries)
