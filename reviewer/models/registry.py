"""From a model string (``provider/model``, or a well-known bare name) to a wrapped model."""

from __future__ import annotations

import os
from dataclasses import dataclass

from reviewer.errors import ConfigurationError
from reviewer.models.base import FatalError, Provider
from reviewer.models.wrapper import Model


@dataclass(frozen=True)
class Route:
    provider: str
    model: str
    base_url: str | None = None
    key_env: str | None = None


# OpenAI-compatible hosts reachable by a short prefix; any other server: openai/ + --base-url.
COMPATIBLE = {
    "deepseek": ("https://api.deepseek.com", "DEEPSEEK_API_KEY"),
    "openrouter": ("https://openrouter.ai/api/v1", "OPENROUTER_API_KEY"),
    "ollama": ("http://localhost:11434/v1", None),
    "vllm": ("http://localhost:8000/v1", None),
}
BARE_PREFIXES = {"gpt-": "openai", "o1": "openai", "o3": "openai", "o4": "openai", "chatgpt-": "openai",
                 "claude-": "anthropic"}


class ModelStringError(ConfigurationError):
    pass


def route(model_string: str) -> Route:
    if "/" in model_string:
        provider, model = model_string.split("/", 1)
        if provider in COMPATIBLE:
            base_url, key_env = COMPATIBLE[provider]
            return Route("openai", model, base_url, key_env)
        if provider in ("openai", "anthropic", "hf", "mock"):
            return Route(provider, model)
        raise ModelStringError(
            f"unknown provider {provider!r} in {model_string!r}; use openai/, anthropic/, hf/, mock/ "
            f"or one of {sorted(COMPATIBLE)}"
        )
    for prefix, provider in BARE_PREFIXES.items():
        if model_string.startswith(prefix):
            return Route(provider, model_string)
    raise ModelStringError(
        f"cannot tell the provider of {model_string!r}: write it as provider/model, "
        "e.g. openai/gpt-4o-2024-05-13, anthropic/claude-3-5-sonnet-20240620, hf/path/to/model"
    )


def canonical_name(model_string: str) -> str:
    r = route(model_string)
    return model_string if "/" in model_string else f"{r.provider}/{r.model}"


def create_provider(model_string: str, *, base_url: str | None = None, adapter: str | None = None,
                    timeout: float | None = None) -> Provider:
    r = route(model_string)
    name = canonical_name(model_string)
    timeout = timeout or 600.0
    if r.provider == "openai":
        from reviewer.models.openai_provider import OpenAIProvider, require_key_or_server

        url = base_url or r.base_url
        key = os.environ.get(r.key_env) if r.key_env else None
        if r.key_env and not key and not base_url:
            raise FatalError(f"no API key for {name}: set {r.key_env}")
        if not r.key_env:
            require_key_or_server(name, url)
        return OpenAIProvider(name, r.model, base_url=url, api_key=key, timeout=timeout)
    if r.provider == "anthropic":
        from reviewer.models.anthropic_provider import AnthropicProvider

        return AnthropicProvider(name, r.model, base_url=base_url, timeout=timeout)
    if r.provider == "hf":
        from reviewer.models.hf_provider import HFProvider

        return HFProvider(r.model, adapter=adapter)
    from reviewer.models.mock_provider import MockProvider

    return MockProvider(name)


def create_model(model_string: str, *, base_url: str | None = None, adapter: str | None = None,
                 use_cache: bool = True, refresh_cache: bool = False, max_concurrency: int = 8,
                 timeout: float | None = None, max_retries: int = 5) -> Model:
    provider = create_provider(model_string, base_url=base_url, adapter=adapter, timeout=timeout)
    return Model(provider, max_concurrency=max_concurrency, use_cache=use_cache, refresh_cache=refresh_cache,
                 max_retries=max_retries)
