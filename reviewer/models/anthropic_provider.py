"""Anthropic messages, with the long shared prefix (form, few-shot examples, paper)
under prompt caching, and extended or adaptive thinking when a reasoning effort is asked for
(the thinking blocks never reach the text we parse)."""

from __future__ import annotations

import inspect
import json
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
from reviewer.models.http_errors import shorten
from reviewer.models.model_facts import model_facts
from reviewer.models.parameters import request_parameters
from reviewer.models.rejections import api_message, status_error

CACHE_CONTROL = {"type": "ephemeral"}
DEFAULT_CONTEXT = 200_000


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
        facts = model_facts("anthropic", model)
        self.parameters = request_parameters(name, facts, "anthropic")
        self.context_window = facts.context or DEFAULT_CONTEXT
        # Newer SDKs dropped arguments the API still takes for older models (temperature).
        self._sdk_arguments = set(inspect.signature(type(self.client.messages).create).parameters)

    def cache_identity(self) -> dict:
        return {"name": self.name, "base_url": self.base_url}

    def request(self, messages: list[ChatMessage], config: GenerateConfig) -> dict:
        """The messages request for ``config``, in the parameters this model takes (as the API
        sees them: arguments the SDK lacks are still top-level here)."""
        p = self.parameters
        effort = p.effort_for(config, ("thinking_budget", "adaptive"))
        request = {"model": self.model, "max_tokens": p.answer_tokens(config, effort),
                   "messages": [{"role": m.role, "content": [_block(m)]} for m in messages if m.role != "system"]}
        system = [_block(m) for m in messages if m.role == "system"]
        if system:
            request["system"] = system
        if effort is not None and p.effort == "adaptive":
            request["thinking"] = {"type": "adaptive"}
            request["output_config"] = {"effort": effort}
        elif effort is not None and (budget := p.thinking_budget(config, effort)) is not None:
            request["thinking"] = {"type": "enabled", "budget_tokens": budget}
        temperature = p.temperature_for(config, thinking="thinking" in request)
        if temperature is not None:
            request["temperature"] = min(temperature, 1.0)
        return p.apply_drops(request)

    async def generate(self, messages: list[ChatMessage], config: GenerateConfig) -> Completion:
        anthropic = self._anthropic
        request = self.request(messages, config)
        arguments = {k: v for k, v in request.items() if k in self._sdk_arguments}
        extra = {k: v for k, v in request.items() if k not in self._sdk_arguments}
        try:
            response = await self.client.messages.create(**arguments, **({"extra_body": extra} if extra else {}))
        except anthropic.APIStatusError as exc:
            message = f"{exc.status_code} from {self.name}: {api_message(exc)}"
            raise status_error(exc.status_code, exc.body, exc.response.headers, message, request) from None
        except (anthropic.APITimeoutError, anthropic.APIConnectionError) as exc:
            raise TransientError(f"{self.name}: {type(exc).__name__}: {exc}") from None
        except (anthropic.APIResponseValidationError, json.JSONDecodeError) as exc:
            raise TransientError(f"{self.name}: malformed response: {shorten(str(exc))}") from None
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

    async def aclose(self) -> None:
        await self.client.close()


def _block(message: ChatMessage) -> dict:
    block = {"type": "text", "text": message.content}
    if message.cache_prefix:
        block["cache_control"] = CACHE_CONTROL
    return block
