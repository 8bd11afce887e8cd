"""What every backend speaks: messages in, completions out, and the errors it may raise.

A provider only translates between these types and its API. Retries, the concurrency
limit, the call cache and usage accounting live once, in :mod:`reviewer.models.wrapper`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Literal


@dataclass(frozen=True)
class ChatMessage:
    role: Literal["system", "user", "assistant"]
    content: str
    # Hint for providers with prompt caching: the prefix up to and including this
    # message is shared between many calls (form, few-shot examples, paper).
    cache_prefix: bool = False


@dataclass(frozen=True)
class GenerateConfig:
    temperature: float = 0.75
    max_tokens: int = 4096
    n: int = 1

    def with_n(self, n: int) -> "GenerateConfig":
        return GenerateConfig(temperature=self.temperature, max_tokens=self.max_tokens, n=n)


@dataclass
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    def __add__(self, other: "Usage") -> "Usage":
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
        )

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Completion:
    texts: list[str]
    usage: Usage = field(default_factory=Usage)
    model: str = ""
    cost_usd: float = 0.0
    cached: bool = False
    calls: int = 1
    #: Failed requests the wrapper retried before these answers came.
    retries: int = 0


class ProviderError(Exception):
    """A failed call. ``retryable`` tells the wrapper whether trying again may help."""

    retryable = False
    #: Requests made before giving up (the wrapper counts its retries).
    attempts = 1

    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class RateLimitError(ProviderError):
    retryable = True


class TransientError(ProviderError):
    """5xx, timeouts, dropped connections."""

    retryable = True


class FatalError(ProviderError):
    """Authentication, bad request, unknown model: retrying will not help."""


class MultipleChoicesUnsupported(FatalError):
    """The server refused ``n > 1``; the wrapper falls back to separate calls."""


class MissingDependencyError(RuntimeError):
    """An optional extra is not installed."""

    def __init__(self, package: str, extra: str):
        super().__init__(
            f"the '{package}' package is needed for this backend: "
            f"pip install 'review-bench[{extra}]'"
        )


class Provider(ABC):
    """One backend. Subclasses translate; they never retry, cache or count cost."""

    #: ``provider/model`` as the user wrote it, e.g. ``openai/gpt-4o-2024-05-13``.
    name: str
    #: Whether one request can return several choices (the OpenAI API's ``n``).
    supports_n: bool = False
    #: Tokens the model accepts in one request, prompt and answer together.
    context_window: int = 128_000

    @abstractmethod
    async def generate(self, messages: list[ChatMessage], config: GenerateConfig) -> Completion:
        """One request. Returns ``config.n`` texts when ``supports_n``, else one."""

    def count_tokens(self, text: str) -> int:
        """Estimated tokens; a provider with a real tokenizer overrides this."""
        from reviewer.tokens import estimate_tokens

        return estimate_tokens(text)

    def cache_identity(self) -> dict:
        """What, besides the request, decides the answer (model, server)."""
        return {"name": self.name}

    async def aclose(self) -> None:
        return None
