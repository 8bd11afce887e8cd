"""Anthropic's Message Batches for ``reviewer.models.batch``: the requests go up in one call,
and the results come back as JSONL from the batch's results URL."""

from __future__ import annotations

import anthropic

from reviewer.models.base import ChatMessage, Completion, GenerateConfig, TransientError
from reviewer.models.batch import BatchState
from reviewer.models.http_errors import error_for_status, shorten
from reviewer.models.rejections import sdk_errors

#: The HTTP status each error type stands for when it arrives inside a batch's results.
ERROR_STATUS = {"invalid_request_error": 400, "authentication_error": 401, "billing_error": 402,
                "permission_error": 403, "not_found_error": 404, "rate_limit_error": 429,
                "timeout_error": 504, "api_error": 500, "overloaded_error": 529}


class AnthropicBatchAPI:
    name = "anthropic"
    max_requests = 100_000
    max_bytes = 250 * 2**20  # the API takes batches up to 256 MB

    def __init__(self, provider):
        self.provider = provider
        self.client = provider.client

    def line(self, custom_id: str, messages: list[ChatMessage], config: GenerateConfig) -> dict:
        return {"custom_id": custom_id, "params": self.provider.request(messages, config)}

    async def submit(self, lines: list[dict]) -> str:
        with sdk_errors(anthropic, self.provider.name):
            batch = await self.client.messages.batches.create(requests=lines)
        return batch.id

    async def poll(self, batch_id: str) -> BatchState:
        with sdk_errors(anthropic, self.provider.name):
            batch = await self.client.messages.batches.retrieve(batch_id)
        counts = batch.request_counts
        total = counts.processing + counts.succeeded + counts.errored + counts.canceled + counts.expired
        return BatchState(batch.processing_status, batch.processing_status == "ended", total, counts.succeeded,
                          counts.errored + counts.canceled + counts.expired)

    async def results(self, batch_id: str, ids: list[str]) -> dict[str, Completion | Exception]:
        answers: dict[str, Completion | Exception] = {}
        with sdk_errors(anthropic, self.provider.name):
            async for item in await self.client.messages.batches.results(batch_id):
                answers[item.custom_id] = self._answer(item.result)
        return answers

    def _answer(self, result) -> Completion | Exception:
        if result.type == "succeeded":
            return self.provider.completion(result.message)
        if result.type == "errored":
            error = result.error.error
            status = ERROR_STATUS.get(error.type, 500)
            message = f"{status} from {self.provider.name} (batch): {error.type}: {shorten(error.message)}"
            return error_for_status(status, message, body=result.error.model_dump())
        # expired or canceled: the request never ran
        return TransientError(f"{self.provider.name} (batch): request {result.type} before it ran")
