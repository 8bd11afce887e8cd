"""The OpenAI Batch API (files + batches endpoints) for ``reviewer.models.batch``: a JSONL file
of chat-completion requests goes up, a batch runs it, and output and error files come back."""

from __future__ import annotations

import json

import openai

from reviewer.models.base import ChatMessage, Completion, FatalError, GenerateConfig, TransientError
from reviewer.models.batch import BatchState
from reviewer.models.http_errors import error_for_status, shorten
from reviewer.models.rejections import sdk_errors

ENDPOINT = "/v1/chat/completions"
ENDED = {"completed", "failed", "expired", "cancelled"}
#: Request-level errors that say the request never ran: asking again may help.
NOT_RUN = {"batch_expired", "batch_cancelled"}


class OpenAIBatchAPI:
    name = "openai"
    max_requests = 50_000
    max_bytes = 190 * 2**20  # the API takes input files up to 200 MB

    def __init__(self, provider):
        self.provider = provider
        self.client = provider.client

    def line(self, custom_id: str, messages: list[ChatMessage], config: GenerateConfig) -> dict:
        return {"custom_id": custom_id, "method": "POST", "url": ENDPOINT,
                "body": self.provider.request(messages, config)}

    async def submit(self, lines: list[dict]) -> str:
        data = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
        with sdk_errors(openai, self.provider.name):
            uploaded = await self.client.files.create(file=("requests.jsonl", data), purpose="batch")
            batch = await self.client.batches.create(input_file_id=uploaded.id, endpoint=ENDPOINT,
                                                     completion_window="24h")
        return batch.id

    async def _retrieve(self, batch_id: str):
        with sdk_errors(openai, self.provider.name):
            return await self.client.batches.retrieve(batch_id)

    async def poll(self, batch_id: str) -> BatchState:
        batch = await self._retrieve(batch_id)
        counts = batch.request_counts
        return BatchState(batch.status, batch.status in ENDED, counts.total if counts else 0,
                          counts.completed if counts else 0, counts.failed if counts else 0)

    async def results(self, batch_id: str, ids: list[str]) -> dict[str, Completion | Exception]:
        batch = await self._retrieve(batch_id)
        if batch.status == "failed":  # the file was rejected as a whole, e.g. a malformed line
            errors = batch.errors.data if batch.errors and batch.errors.data else []
            reason = "; ".join(f"{e.code}: {e.message}" for e in errors) or "no reason given"
            failure = FatalError(f"{self.provider.name}: batch {batch_id} failed: {shorten(reason)}")
            return {key: failure for key in ids}
        answers: dict[str, Completion | Exception] = {}
        for file_id in (batch.output_file_id, batch.error_file_id):
            if not file_id:
                continue
            with sdk_errors(openai, self.provider.name):
                content = await self.client.files.content(file_id)
            for raw in content.content.splitlines():
                if raw.strip():
                    entry = json.loads(raw)
                    answers[entry["custom_id"]] = self._answer(entry)
        return answers

    def _answer(self, entry: dict) -> Completion | Exception:
        error = entry.get("error")
        if error:
            kind = TransientError if error.get("code") in NOT_RUN else FatalError
            return kind(f"{self.provider.name} (batch): {error.get('code')}: {shorten(error.get('message', ''))}")
        response = entry.get("response") or {}
        status, body = response.get("status_code", 500), response.get("body") or {}
        if status != 200:
            message = body.get("error", {}).get("message", "") if isinstance(body, dict) else str(body)
            return error_for_status(status, f"{status} from {self.provider.name} (batch): {shorten(message)}",
                                    body=body)
        try:
            return self.provider.completion(body)
        except TransientError as exc:
            return exc
