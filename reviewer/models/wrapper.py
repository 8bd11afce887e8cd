"""The one wrapper every backend goes through: retries with backoff (honouring
retry-after), an adaptive concurrency limit, the call cache, batch APIs, and token and cost
accounting."""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass, field, replace

from reviewer.models.base import (
    ChatMessage,
    Completion,
    GenerateConfig,
    MultipleChoicesUnsupported,
    Provider,
    ProviderError,
    RateLimitError,
    UnsupportedParameter,
    Usage,
)
from reviewer.models.cache import CallCache, request_key
from reviewer.models.limit import AdaptiveLimit
from reviewer.models.pricing import add_costs

log = logging.getLogger(__name__)


@dataclass
class ModelStats:
    calls: int = 0
    cached_calls: int = 0
    retries: int = 0
    #: Ordinary rate limits (429) that lowered the concurrency.
    throttled: int = 0
    usage: Usage = field(default_factory=Usage)
    #: None once any call's price is unknown.
    cost_usd: float | None = 0.0


class Model:
    def __init__(
        self,
        provider: Provider,
        *,
        max_concurrency: int = 8,
        use_cache: bool = True,
        refresh_cache: bool = False,
        cache: CallCache | None = None,
        max_retries: int = 5,
        base_delay: float = 1.0,
        max_delay: float = 60.0,
        batcher=None,
        reasoning_effort: str | None = None,
    ):
        self.provider = provider
        #: The effort of every call whose config asks for none (a run-wide setting, e.g. the scientist's).
        self.reasoning_effort = reasoning_effort
        self.name = provider.name
        self.max_retries = max_retries
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.cache = (cache or CallCache()) if use_cache else None
        # Refresh: ask the model again and overwrite, e.g. when retrying a failed review
        # whose cached answers are the reason it failed.
        self.refresh_cache = refresh_cache
        self.stats = ModelStats()
        self.limit = AdaptiveLimit(max_concurrency)
        #: A ``reviewer.models.batch.Batcher``: every call goes through the provider's batch API.
        self.batcher = batcher
        self._n_refused = False

    @property
    def context_window(self) -> int:
        return self.provider.context_window

    @property
    def supports_n(self) -> bool:
        """Whether one request returns several choices (else ``n`` separate calls)."""
        return self.provider.supports_n and not self._n_refused

    def count_tokens(self, text: str) -> int:
        return self.provider.count_tokens(text)

    @property
    def notes(self) -> list[str]:
        """For the run's record: who priced the calls, parameters not applied or dropped."""
        return self.provider.notes()

    async def generate(self, messages: list[ChatMessage], config: GenerateConfig) -> Completion:
        if config.reasoning_effort is None and self.reasoning_effort is not None:
            config = replace(config, reasoning_effort=self.reasoning_effort)
        key = request_key(self.provider.cache_identity(), messages, config)
        if self.cache is not None and not self.refresh_cache:
            hit = self.cache.get(key)
            if hit is not None:
                self.stats.cached_calls += 1
                return hit
        if config.n > 1 and not self.supports_n:
            completion = await self._separate_calls(key, messages, config)
        else:
            try:
                completion = await self._call(key, messages, config)
            except MultipleChoicesUnsupported:
                log.info("%s refused n=%d; making separate calls", self.name, config.n)
                self._n_refused = True
                completion = await self._separate_calls(key, messages, config)
                completion.retries += 1  # the refused request
        if self.cache is not None:
            self.cache.put(key, completion)
        return completion

    async def _separate_calls(self, key: str, messages, config) -> Completion:
        parts = await asyncio.gather(
            *(self._call(f"{key}:{part}", messages, config.with_n(1)) for part in range(config.n))
        )
        usage = Usage()
        for part in parts:
            usage = usage + part.usage
        return Completion(
            texts=[text for part in parts for text in part.texts],
            usage=usage,
            model=parts[0].model,
            cost_usd=add_costs(part.cost_usd for part in parts),
            calls=sum(part.calls for part in parts),
            retries=sum(part.retries for part in parts),
        )

    async def _call(self, request_id: str, messages, config) -> Completion:
        attempt = 0
        refused: set[str] = set()
        while True:
            try:
                if self.batcher is not None:
                    completion = await self.batcher.generate(f"{request_id}:{attempt}", messages, config)
                else:
                    completion = await self._live(messages, config)
            except UnsupportedParameter as exc:  # drop it and try once more; the provider notes the drop
                if exc.parameter in refused or not self.provider.drop_parameter(exc):
                    raise
                log.warning("%s: %s; dropping %s and asking again", self.name, exc, exc.parameter)
                refused.add(exc.parameter)
                continue
            except ProviderError as exc:
                if not exc.retryable or attempt >= self.max_retries:
                    exc.attempts = attempt + 1
                    raise
                self.stats.retries += 1
                attempt += 1
                if self.batcher is None:  # a batch retry goes out with the next batch anyway
                    delay = self._delay(attempt - 1, exc.retry_after)
                    log.warning("%s: %s; retry %d in %.1fs", self.name, exc, attempt, delay)
                    await asyncio.sleep(delay)
                continue
            return self._account(completion, retries=attempt)

    async def _live(self, messages, config) -> Completion:
        async with self.limit.slot() as ticket:
            try:
                completion = await self.provider.generate(messages, config)
            except RateLimitError as exc:
                self.stats.throttled += 1
                self.limit.throttled(ticket, exc.retry_after)
                raise
            self.limit.succeeded(ticket)
        return completion

    def _account(self, completion: Completion, *, retries: int) -> Completion:
        if completion.cached:  # answered in an earlier session of a batch run: already paid for
            self.stats.cached_calls += 1
            return completion
        completion.cost_usd = self.provider.cost_usd(completion.usage, batch=self.batcher is not None)
        completion.calls = 1
        completion.retries = retries
        self.stats.calls += 1
        self.stats.usage = self.stats.usage + completion.usage
        self.stats.cost_usd = add_costs((self.stats.cost_usd, completion.cost_usd))
        return completion

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        backoff = min(self.base_delay * 2**attempt, self.max_delay)
        return backoff * (0.5 + random.random() / 2)

    async def aclose(self) -> None:
        if self.batcher is not None:
            await self.batcher.aclose()
        await self.provider.aclose()
        if self.cache is not None:
            self.cache.close()
