"""OpenAI chat completions, and every OpenAI-compatible server (vLLM, Ollama, DeepSeek,
OpenRouter) through a base URL."""

from __future__ import annotations

import os

from reviewer.models.base import (
    ChatMessage,
    Completion,
    FatalError,
    GenerateConfig,
    MissingDependencyError,
    MultipleChoicesUnsupported,
    Provider,
    TransientError,
    Usage,
)
from reviewer.models.http_errors import sdk_errors, shorten
from reviewer.models.pricing import context_window


class OpenAIProvider(Provider):
    supports_n = True

    def __init__(self, name: str, model: str, *, base_url: str | None = None, api_key: str | None = None,
                 timeout: float = 600.0):
        try:
            import openai
        except ImportError:
            raise MissingDependencyError("openai", "openai") from None
        self._openai = openai
        self.name = name
        self.model = model
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL")
        # A local server needs no key, but the SDK insists on one.
        key = api_key or os.environ.get("OPENAI_API_KEY") or "no-key-needed"
        self.client = openai.AsyncOpenAI(api_key=key, base_url=self.base_url, max_retries=0, timeout=timeout)
        self.context_window = context_window(model, 128_000)

    def cache_identity(self) -> dict:
        return {"name": self.name, "base_url": self.base_url}

    def request(self, messages: list[ChatMessage], config: GenerateConfig) -> dict:
        """The chat-completions body for one request (live, or one line of a batch)."""
        return {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "temperature": config.temperature,
            "max_tokens": config.max_tokens,
            "n": config.n,
        }

    async def generate(self, messages: list[ChatMessage], config: GenerateConfig) -> Completion:
        openai = self._openai
        with sdk_errors(openai, self.name):
            try:
                # A plain POST answered as plain JSON, not chat.completions.create: walking the body
                # and the answer through the SDK's types costs milliseconds a call, on the event loop.
                body = await self.client.post("/chat/completions", cast_to=object, body=self.request(messages, config))
            except openai.APIStatusError as exc:
                if exc.status_code in (400, 422) and config.n > 1 and "n" in shorten(exc.message).lower():
                    message = f"{exc.status_code} from {self.name}: {shorten(exc.message)}"
                    raise MultipleChoicesUnsupported(message) from None
                raise
        return self.completion(body)

    def completion(self, body) -> Completion:
        """A chat completion (its JSON, live or from a batch) as the wrapper's ``Completion``."""
        choices = body.get("choices") if isinstance(body, dict) else None
        if not choices:
            raise TransientError(f"{self.name}: malformed response without choices")
        usage = body.get("usage") or {}
        cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
        return Completion(
            texts=[(choice.get("message") or {}).get("content") or "" for choice in choices],
            usage=Usage(usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0, cache_read_tokens=cached),
            model=body.get("model") or self.model,
        )

    def batch_api(self):
        from reviewer.models.openai_batch import OpenAIBatchAPI

        return OpenAIBatchAPI(self)

    async def aclose(self) -> None:
        await self.client.close()


def require_key_or_server(name: str, base_url: str | None) -> None:
    if not (base_url or os.environ.get("OPENAI_BASE_URL") or os.environ.get("OPENAI_API_KEY")):
        raise FatalError(
            f"no OpenAI API key for {name}: set OPENAI_API_KEY, or --base-url / OPENAI_BASE_URL "
            "for an OpenAI-compatible server"
        )
