"""OpenAI chat completions, and every OpenAI-compatible server (vLLM, Ollama, DeepSeek, Gemini,
OpenRouter) through a base URL."""

from __future__ import annotations

import json
import os
from urllib.parse import urlparse

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
from reviewer.models.http_errors import shorten
from reviewer.models.model_facts import Api, model_facts
from reviewer.models.parameters import request_parameters
from reviewer.models.rejections import api_message, status_error

OPENAI_HOST = "api.openai.com"
DEFAULT_CONTEXT = 128_000


def openai_api(base_url: str | None) -> Api:
    """OpenAI's own API (no base URL means the SDK's default, OpenAI), or another server speaking its dialect."""
    return "openai" if base_url is None or urlparse(base_url).hostname == OPENAI_HOST else "openai-compatible"


class OpenAIProvider(Provider):
    supports_n = True

    def __init__(self, name: str, model: str, *, base_url: str | None = None, api_key: str | None = None,
                 timeout: float = 600.0, catalogue: str | None = "openai"):
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
        facts = model_facts(catalogue, model)
        self.parameters = request_parameters(name, facts, openai_api(self.base_url))
        self.context_window = facts.context or DEFAULT_CONTEXT

    def cache_identity(self) -> dict:
        return {"name": self.name, "base_url": self.base_url}

    def request(self, messages: list[ChatMessage], config: GenerateConfig) -> dict:
        """The chat-completions request for ``config``, in the parameters this model takes."""
        p = self.parameters
        effort = p.effort_for(config, ("reasoning_effort",))
        request = {"model": self.model, "messages": [{"role": m.role, "content": m.content} for m in messages],
                   "n": config.n, p.token_limit: p.answer_tokens(config, effort)}
        temperature = p.temperature_for(config)
        if temperature is not None:
            request["temperature"] = temperature
        if effort is not None:
            request["reasoning_effort"] = effort
        return p.apply_drops(request)

    async def generate(self, messages: list[ChatMessage], config: GenerateConfig) -> Completion:
        openai = self._openai
        request = self.request(messages, config)
        try:
            response = await self.client.chat.completions.create(**request)
        except openai.APIStatusError as exc:
            message = f"{exc.status_code} from {self.name}: {api_message(exc)}"
            raise status_error(exc.status_code, exc.body, exc.response.headers, message, request) from None
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
