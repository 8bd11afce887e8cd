"""What every backend speaks: messages in, completions out, and the errors it may raise.

A provider only translates between these types and its API. Retries, the concurrency
limit, the call cache and usage accounting live once, in :mod:`reviewer.models.wrapper`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from reviewer.models.parameters import RequestParameters
    from reviewer.models.pricing import Pricing


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
    #: low, medium or high for a model that reasons; None: the model's default.
    reasoning_effort: str | None = None

    def with_n(self, n: int) -> "GenerateConfig":
        return replace(self, n=n)


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
    #: None when the model's price is unknown.
    cost_usd: float | None = 0.0
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


class UnsupportedParameter(FatalError):
    """A 400 naming one request parameter as unsupported; the wrapper drops it and tries once more."""

    def __init__(self, message: str, *, parameter: str, replacement: str | None = None):
        super().__init__(message)
        self.parameter = parameter
        self.replacement = replacement


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
    #: Which request parameters the model takes (None: a backend without a parameter table).
    parameters: RequestParameters | None = None
    #: How its calls are priced; set by the registry (``reviewer.models.pricing.pricing_for``).
    pricing: Pricing | None = None

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

    def cost_usd(self, usage: Usage) -> float | None:
        """The cost of a call's usage; None when the price is unknown."""
        return self.pricing.cost(usage) if self.pricing is not None else None

    def drop_parameter(self, error: UnsupportedParameter) -> bool:
        """Stop sending the parameter a 400 refused; False when it cannot be dropped."""
        if self.parameters is None:
            return False
        return self.parameters.drop(error.parameter, error.replacement, str(error))

    def notes(self) -> list[str]:
        """What the run should record: who priced the calls, parameters not applied or dropped."""
        priced = [self.pricing.note(self.name)] if self.pricing is not None else []
        return priced + (list(self.parameters.notes) if self.parameters is not None else [])

    async def aclose(self) -> None:
        return None
