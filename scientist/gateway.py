"""A local OpenAI-compatible ``/v1/chat/completions`` server (on 127.0.0.1, or on a Unix socket
for a client in a sandbox) in front of a wrapped Model, so that a separate process (aider) makes
its LLM calls through our retries, cache and cost accounting, whatever backend the Model has
(openai/, anthropic/, hf/, mock/)."""

from __future__ import annotations

import asyncio
import json
import socketserver
import threading
from contextlib import asynccontextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import AsyncIterator

from reviewer.models.base import ChatMessage, Completion, GenerateConfig
from reviewer.models.wrapper import Model

#: The model name the client must use; the gateway answers with its own Model whatever the name.
GATEWAY_MODEL = "openai/review-bench-gateway"


class GatewayRequestError(ValueError):
    """A request the gateway cannot serve (answered with status 400)."""


def _text(content) -> str:
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content or [] if isinstance(part, dict))


def parse_request(body: dict) -> tuple[list[ChatMessage], GenerateConfig]:
    if body.get("stream"):
        raise GatewayRequestError("streaming is not supported: run the client without streaming (aider --no-stream)")
    messages = []
    for message in body.get("messages") or []:
        role = message.get("role")
        if role not in ("system", "user", "assistant"):
            raise GatewayRequestError(f"unsupported message role {role!r}")
        messages.append(ChatMessage(role, _text(message.get("content"))))
    if not messages:
        raise GatewayRequestError("the request has no messages")
    defaults = GenerateConfig()
    temperature = body.get("temperature")
    config = GenerateConfig(
        temperature=defaults.temperature if temperature is None else float(temperature),
        max_tokens=int(body.get("max_tokens") or body.get("max_completion_tokens") or defaults.max_tokens),
        n=int(body.get("n") or 1),
    )
    return messages, config


def openai_response(completion: Completion, model: str) -> dict:
    usage = completion.usage
    return {
        "id": "chatcmpl-gateway",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": i, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                    for i, text in enumerate(completion.texts)],
        "usage": {"prompt_tokens": usage.input_tokens, "completion_tokens": usage.output_tokens,
                  "total_tokens": usage.input_tokens + usage.output_tokens},
    }


def _handler(model: Model, loop: asyncio.AbstractEventLoop, replies: list[str]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            return

        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("content-length", 0)))
            if not self.path.rstrip("/").endswith("/chat/completions"):
                return self._error(404, f"no such endpoint {self.path}; the gateway serves /v1/chat/completions")
            try:
                body = json.loads(raw or b"{}")
                messages, config = parse_request(body)
            except (GatewayRequestError, TypeError, ValueError) as exc:
                return self._error(400, str(exc))
            try:
                completion = asyncio.run_coroutine_threadsafe(model.generate(messages, config), loop).result()
            except Exception as exc:  # noqa: BLE001 - at this process boundary every failure becomes an answer
                # The Model has already retried; a status the client would retry (429, 5xx) would
                # only repeat the whole round of retries, so every failure is final here.
                return self._error(400, f"the model failed after the gateway's retries: {exc}")
            replies.append(completion.texts[0])
            self._send(200, openai_response(completion, body.get("model", GATEWAY_MODEL)))

        def _error(self, status: int, message: str) -> None:
            self._send(status, {"error": {"message": message, "type": "gateway_error"}})

        def _send(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


@asynccontextmanager
async def serve(model: Model, *, unix_socket: Path | None = None,
                replies: list[str] | None = None) -> AsyncIterator[str]:
    """Serve ``model`` while the block runs: on 127.0.0.1 (a free port), yielding the ``/v1`` base URL, or on
    ``unix_socket``, yielding its path (for a client in a sandbox without network, through ``coder_relay``).
    Each answer's first text is appended to ``replies``.

    Requests run on the caller's event loop, so the block must not block that loop
    (run the client with ``asyncio.to_thread``)."""
    handler = _handler(model, asyncio.get_running_loop(), [] if replies is None else replies)
    if unix_socket is None:
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        address = f"http://127.0.0.1:{server.server_address[1]}/v1"
    else:
        server = _UnixServer(str(unix_socket), handler)
        address = str(unix_socket)
    thread = threading.Thread(target=server.serve_forever, name="llm-gateway", daemon=True)
    thread.start()
    try:
        yield address
    finally:
        await asyncio.to_thread(server.shutdown)  # returns within serve_forever's poll interval
        server.server_close()
