"""Anthropic messages, with the long shared prefix (form, few-shot examples, paper)
under prompt caching."""

from __future__ import annotations

import inspect
import os

from reviewer.models.base import (
    ChatMessage,
    Completion,
    FatalError,
    GenerateConfig,
    MissingDependencyError,
    Provider,
    TransientError,
    Usage,
)
from reviewer.models.http_errors import sdk_errors
from reviewer.models.pricing import context_window

CACHE_CONTROL = {"type": "ephemeral"}


class AnthropicProvider(Provider):
    supports_n = False

    def __init__(self, name: str, model: str, *, base_url: str | None = None, api_key: str | None = None,
                 timeout: float = 600.0):
        try:
            import anthropic
        except ImportError:
            raise MissingDependencyError("anthropic", "anthropic") from None
        self._anthropic = anthropic
        self.name = name
        self.model = model
        self.base_url = base_url or os.environ.get("ANTHROPIC_BASE_URL")
        key = api_key or os.environ.get("ANTHROPIC_API_KEY")
        if not key and not self.base_url:
            raise FatalError(f"no Anthropic API key for {name}: set ANTHROPIC_API_KEY")
        self.client = anthropic.AsyncAnthropic(
            api_key=key or "no-key-needed", base_url=self.base_url, max_retries=0, timeout=timeout
        )
        self.context_window = context_window(model, 200_000)
        create = type(self.client.messages).create
        self._takes_temperature = "temperature" in inspect.signature(create).parameters

    def cache_identity(self) -> dict:
        return {"name": self.name, "base_url": self.base_url}

    def request(self, messages: list[ChatMessage], config: GenerateConfig) -> dict:
        """The arguments of ``messages.create`` for one request."""
        system = [_block(m) for m in messages if m.role == "system"]
        turns = [{"role": m.role, "content": [_block(m)]} for m in messages if m.role != "system"]
        request = {"model": self.model, "messages": turns, "max_tokens": config.max_tokens}
        if system:
            request["system"] = system
        temperature = min(config.temperature, 1.0)
        if self._takes_temperature:
            request["temperature"] = temperature
        else:  # newer SDKs dropped the argument; the API still takes it
            request["extra_body"] = {"temperature": temperature}
        return request

    async def generate(self, messages: list[ChatMessage], config: GenerateConfig) -> Completion:
        with sdk_errors(self._anthropic, self.name):
            response = await self.client.messages.create(**self.request(messages, config))
        return self.completion(response)

    def completion(self, response) -> Completion:
        """A message (the SDK's object) as the wrapper's ``Completion``."""
        if isinstance(response, str) or not hasattr(response, "content"):
            raise TransientError(f"{self.name}: malformed response without content")
        text = "".join(block.text for block in response.content if getattr(block, "type", "") == "text")
        usage = response.usage
        read = getattr(usage, "cache_read_input_tokens", None) or 0
        written = getattr(usage, "cache_creation_input_tokens", None) or 0
        return Completion(
            texts=[text],
            # Anthropic counts cached tokens apart from input_tokens; the wrapper wants them inside.
            usage=Usage(usage.input_tokens + read + written, usage.output_tokens, read, written),
            model=response.model or self.model,
        )

    def batch_api(self):
        from reviewer.models.anthropic_batch import AnthropicBatchAPI

        return AnthropicBatchAPI(self)

    async def aclose(self) -> None:
        await self.client.close()


def _block(message: ChatMessage) -> dict:
    block = {"type": "text", "text": message.content}
    if message.cache_prefix:
        block["cache_control"] = CACHE_CONTROL
    return block
