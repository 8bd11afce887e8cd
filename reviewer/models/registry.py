"""From a model string (``provider/model``, or a well-known bare name) to a wrapped model."""

from __future__ import annotations

import os
from dataclasses import dataclass

from reviewer.errors import ConfigurationError
from reviewer.models.base import FatalError, Provider
from reviewer.models.model_facts import ModelFacts, model_facts
from reviewer.models.pricing import Price, pricing_for
from reviewer.models.wrapper import Model


@dataclass(frozen=True)
class Host:
    """An OpenAI-compatible service reachable by a short prefix."""

    base_url: str
    key_env: str | None
    #: Its provider id in models.dev and genai-prices (None: whatever the server runs).
    catalogue: str | None
    #: A server on this machine: its calls cost nothing.
    local: bool = False


@dataclass(frozen=True)
class Route:
    provider: str
    model: str
    base_url: str | None = None
    key_env: str | None = None
    catalogue: str | None = None
    local: bool = False


# OpenAI-compatible hosts reachable by a short prefix; any other server: openai/ + --base-url.
COMPATIBLE = {
    "deepseek": Host("https://api.deepseek.com", "DEEPSEEK_API_KEY", "deepseek"),
    "gemini": Host("https://generativelanguage.googleapis.com/v1beta/openai/", "GEMINI_API_KEY", "google"),
    "openrouter": Host("https://openrouter.ai/api/v1", "OPENROUTER_API_KEY", "openrouter"),
    "ollama": Host("http://localhost:11434/v1", None, None, local=True),
    "vllm": Host("http://localhost:8000/v1", None, None, local=True),
}
NATIVE = {"openai": "openai", "anthropic": "anthropic", "hf": None, "mock": None}
BARE_PREFIXES = {"gpt-": "openai", "o1": "openai", "o3": "openai", "o4": "openai", "chatgpt-": "openai",
                 "claude-": "anthropic", "gemini-": "gemini", "deepseek-": "deepseek"}


class ModelStringError(ConfigurationError):
    pass


def canonical_name(model_string: str) -> str:
    """``provider/model``; a well-known bare name gets its provider (``gemini-2.5-pro`` -> ``gemini/...``)."""
    if "/" in model_string:
        return model_string
    prefix = next((p for bare, p in BARE_PREFIXES.items() if model_string.startswith(bare)), None)
    if prefix is None:
        raise ModelStringError(
            f"cannot tell the provider of {model_string!r}: write it as provider/model, "
            "e.g. openai/gpt-4o-2024-05-13, anthropic/claude-3-5-sonnet-20240620, gemini/gemini-2.5-pro, "
            "hf/path/to/model"
        )
    return f"{prefix}/{model_string}"


def route(model_string: str) -> Route:
    provider, model = canonical_name(model_string).split("/", 1)
    if provider in COMPATIBLE:
        host = COMPATIBLE[provider]
        return Route("openai", model, host.base_url, host.key_env, host.catalogue, host.local)
    if provider in NATIVE:
        return Route(provider, model, catalogue=NATIVE[provider], local=provider in ("hf", "mock"))
    raise ModelStringError(
        f"unknown provider {provider!r} in {model_string!r}; use openai/, anthropic/, hf/, mock/ "
        f"or one of {sorted(COMPATIBLE)}"
    )


def model_facts_for(model_string: str) -> ModelFacts:
    """What the catalogues know of a model string (``openai/gpt-5.4``, a bare ``claude-...``)."""
    r = route(model_string)
    return model_facts(r.catalogue, r.model)


def create_provider(model_string: str, *, base_url: str | None = None, adapter: str | None = None,
                    timeout: float | None = None, price: Price | None = None) -> Provider:
    provider = _backend(model_string, base_url=base_url, adapter=adapter, timeout=timeout or 600.0)
    r = route(model_string)
    provider.pricing = pricing_for(r.catalogue, r.model, override=price, local=r.local)
    return provider


def _backend(model_string: str, *, base_url: str | None, adapter: str | None, timeout: float) -> Provider:
    r = route(model_string)
    name = canonical_name(model_string)
    if r.provider == "openai":
        from reviewer.models.openai_provider import OpenAIProvider, require_key_or_server

        url = base_url or r.base_url
        key = os.environ.get(r.key_env) if r.key_env else None
        if r.key_env and not key and not base_url:
            raise FatalError(f"no API key for {name}: set {r.key_env}")
        if not r.key_env:
            require_key_or_server(name, url)
        return OpenAIProvider(name, r.model, base_url=url, api_key=key, timeout=timeout, catalogue=r.catalogue)
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
                 timeout: float | None = None, max_retries: int = 5, price: Price | None = None,
                 reasoning_effort: str | None = None) -> Model:
    provider = create_provider(model_string, base_url=base_url, adapter=adapter, timeout=timeout, price=price)
    return Model(provider, max_concurrency=max_concurrency, use_cache=use_cache, refresh_cache=refresh_cache,
                 max_retries=max_retries, reasoning_effort=reasoning_effort)
