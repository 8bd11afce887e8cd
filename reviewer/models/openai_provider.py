"""OpenAI chat completions, and every OpenAI-compatible server (vLLM, Ollama, DeepSeek,
OpenRouter) through a base URL."""

from __future__ import annotations

import json
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
from reviewer.models.http_errors import error_for_status, shorten
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

    async def generate(self, messages: list[ChatMessage], config: GenerateConfig) -> Completion:
        openai = self._openai
        try:
            response = await self.client.chat.completions.create(
                model=self.model,
                messages=[{"role": m.role, "content": m.content} for m in messages],
                temperature=config.temperature,
                max_tokens=config.max_tokens,
                n=config.n,
            )
        except openai.APIStatusError as exc:
            message = f"{exc.status_code} from {self.name}: {shorten(exc.message)}"
            if exc.status_code in (400, 422) and config.n > 1 and "n" in shorten(exc.message).lower():
                raise MultipleChoicesUnsupported(message) from None
            raise error_for_status(exc.status_code, message, exc.response.headers) from None
        except (openai.APITimeoutError, openai.APIConnectionError) as exc:
            raise TransientError(f"{self.name}: {type(exc).__name__}: {exc}") from None
        except (openai.APIResponseValidationError, json.JSONDecodeError) as exc:
            raise TransientError(f"{self.name}: malformed response: {shorten(str(exc))}") from None
        if isinstance(response, str) or not getattr(response, "choices", None):
            raise TransientError(f"{self.name}: malformed response without choices")
        usage = response.usage
        cached = getattr(getattr(usage, "prompt_tokens_details", None), "cached_tokens", None) or 0
        return Completion(
            texts=[choice.message.content or "" for choice in response.choices],
            usage=Usage(usage.prompt_tokens, usage.completion_tokens, cache_read_tokens=cached) if usage else Usage(),
            model=response.model or self.model,
        )

    async def aclose(self) -> None:
        await self.client.close()


def require_key_or_server(name: str, base_url: str | None) -> None:
    if not (base_url or os.environ.get("OPENAI_BASE_URL") or os.environ.get("OPENAI_API_KEY")):
        raise FatalError(
            f"no OpenAI API key for {name}: set OPENAI_API_KEY, or --base-url / OPENAI_BASE_URL "
            "for an OpenAI-compatible server"
        )
