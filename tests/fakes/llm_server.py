"""A local HTTP server that plays the OpenAI and Anthropic APIs for the real SDKs.

Tests point the SDK's base URL at it, script its answers (a function of the request),
queue faults (429 with retry-after, 500, a hang past the client's timeout, a body that
is not JSON), and read back every request it saw. In strict mode it also rejects, per
model, what the real APIs reject (``fakes.api_rules``) and answers reasoning models with
thinking blocks and reasoning tokens.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Callable

from fakes import api_rules
from fakes.loopback import LoopbackServer


@dataclass
class SeenRequest:
    api: str  # "openai" or "anthropic"
    path: str
    body: dict
    headers: dict
    #: time.monotonic() when the server received the request.
    at: float = field(default_factory=time.monotonic)
    #: The HTTP status the server answered with.
    status: int = 200
    #: The usage block of the answer, as the server sent it (None until answered).
    usage: dict | None = None

    @property
    def messages(self) -> list[dict]:
        return self.body.get("messages", [])

    @property
    def system(self) -> str:
        if self.api == "anthropic":
            system = self.body.get("system", "")
            if isinstance(system, list):
                return "".join(block.get("text", "") for block in system)
            return system
        return "".join(_text(m["content"]) for m in self.messages if m["role"] == "system")

    @property
    def last_user(self) -> str:
        users = [m for m in self.messages if m["role"] == "user"]
        return _text(users[-1]["content"]) if users else ""

    @property
    def all_text(self) -> str:
        return self.system + "\n".join(_text(m["content"]) for m in self.messages)

    @property
    def n(self) -> int:
        return int(self.body.get("n", 1) or 1)


def _text(content) -> str:
    if isinstance(content, str):
        return content
    return "".join(block.get("text", "") for block in content if isinstance(block, dict))


@dataclass
class Fault:
    """One scripted misbehaviour, used for the next request instead of an answer."""

    status: int = 500
    retry_after: float | None = None
    delay: float = 0.0  # seconds to wait before answering (a hang past the timeout)
    body: str | None = None  # raw body; "not json" for a broken answer


Responder = Callable[[SeenRequest], "str | list[str]"]
# What a reasoning model "thinks" in strict mode: text that must never reach the parsed review.
THINKING_TEXT = "Let me weigh the paper. REVIEW JSON: {\"Overall\": 1} is not my answer yet."
REASONING_TOKENS = 50


@dataclass
class FakeLLMServer(LoopbackServer):
    responder: Responder
    latency: float = 0.0
    reject_n: bool = False  # answer 400 to n > 1, as some OpenAI-compatible servers do
    strict: bool = False  # reject what the real APIs reject for the models in ``rules``
    #: model -> (rule kind, most output tokens), see ``fakes.api_rules``; tests may add models.
    rules: dict = field(default_factory=lambda: dict(api_rules.MODELS))
    requests: list[SeenRequest] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)

    def __post_init__(self):
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                return

            def do_POST(self):
                length = int(self.headers.get("content-length", 0))
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except json.JSONDecodeError:
                    body = {}
                api = "anthropic" if self.path.rstrip("/").endswith("/messages") else "openai"
                seen = SeenRequest(api, self.path, body, dict(self.headers))
                with server._lock:
                    server.requests.append(seen)
                    fault = server.faults.pop(0) if server.faults else None
                if fault is not None:
                    seen.status = fault.status
                    self._fault(fault)
                    return
                if server.latency:
                    time.sleep(server.latency)
                if api == "openai" and server.reject_n and seen.n > 1:
                    seen.status = 400
                    self._send(400, {"error": {"message": "n > 1 is not supported", "type": "invalid_request_error"}})
                    return
                rejection = api_rules.check(api, body, server.rules) if server.strict else None
                if rejection is not None:
                    seen.status = rejection.status
                    self._send(rejection.status, rejection.body)
                    return
                try:
                    answer = server.responder(seen)
                except Exception as exc:  # a bug in a test's responder shows as a 500
                    seen.status = 500
                    self._send(500, {"error": {"message": f"responder failed: {exc!r}"}})
                    return
                texts = [answer] if isinstance(answer, str) else list(answer)
                if api == "openai" and len(texts) < seen.n:
                    texts = (texts * seen.n)[: seen.n]
                thinks = server.strict and api_rules.thinks(api, body, server.rules)
                payload = server._payload(seen, texts, thinks=thinks)
                seen.usage = payload["usage"]
                self._send(200, payload)

            def _fault(self, fault: Fault):
                if fault.delay:
                    time.sleep(fault.delay)
                headers = {}
                if fault.retry_after is not None:
                    headers["retry-after"] = str(fault.retry_after)
                if fault.body is not None:
                    self._send_raw(fault.status, fault.body.encode(), headers)
                else:
                    self._send(fault.status, {"error": {"message": f"fault {fault.status}", "type": "server_error"}}, headers)

            def _send(self, status, payload, headers=None):
                self._send_raw(status, json.dumps(payload).encode(), headers)

            def _send_raw(self, status, data: bytes, headers=None):
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    for key, value in (headers or {}).items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

        self._listen(Handler)

    @staticmethod
    def _payload(seen: SeenRequest, texts: list[str], *, thinks: bool = False) -> dict:
        prompt_tokens = max(1, len(seen.all_text) // 4)
        reasoning = REASONING_TOKENS if thinks else 0
        out_tokens = [max(1, len(t) // 4) + reasoning for t in texts]
        model = seen.body.get("model", "fake")
        if seen.api == "openai":
            return {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": 0,
                "model": model,
                "choices": [
                    {"index": i, "message": {"role": "assistant", "content": t}, "finish_reason": "stop"}
                    for i, t in enumerate(texts)
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": sum(out_tokens),
                    "total_tokens": prompt_tokens + sum(out_tokens),
                    "completion_tokens_details": {"reasoning_tokens": reasoning * len(texts)},
                },
            }
        thinking = [{"type": "thinking", "thinking": THINKING_TEXT, "signature": "sig-fake"}] if thinks else []
        return {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [*thinking, {"type": "text", "text": texts[0]}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": prompt_tokens,
                "output_tokens": out_tokens[0],
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
            },
        }
