"""OpenAI chat completions, and every OpenAI-compatible server (vLLM, Ollama, DeepSeek, Gemini,
OpenRouter) through a base URL."""

from __future__ import annotations

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
from reviewer.models.model_facts import Api, model_facts
from reviewer.models.parameters import request_parameters
from reviewer.models.rejections import sdk_errors

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
        request = self.request(messages, config)
        with sdk_errors(self._openai, self.name, request):
            # A plain POST answered as plain JSON, not chat.completions.create: walking the body and
            # the answer through the SDK's types costs milliseconds a call, on the event loop.
            body = await self.client.post("/chat/completions", cast_to=object, body=request)
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
