import asyncio

import pytest

from reviewer.models.base import ChatMessage, Completion, GenerateConfig, RateLimitError, Usage
from reviewer.models.cache import CallCache
from reviewer.models.mock_provider import MockProvider
from reviewer.models.wrapper import Model

MESSAGES = [ChatMessage("user", "hello")]


def test_cache_serves_the_second_call_and_refresh_asks_again(tmp_path):
    provider = MockProvider("mock/x", lambda m, c: "answer")
    cache = CallCache(tmp_path / "calls.sqlite")
    model = Model(provider, cache=cache)
    first = asyncio.run(model.generate(MESSAGES, GenerateConfig()))
    second = asyncio.run(model.generate(MESSAGES, GenerateConfig()))
    assert len(provider.requests) == 1 and second.cached and second.texts == first.texts
    refreshing = Model(provider, cache=cache, refresh_cache=True)
    asyncio.run(refreshing.generate(MESSAGES, GenerateConfig()))
    assert len(provider.requests) == 2
    other_temperature = asyncio.run(model.generate(MESSAGES, GenerateConfig(temperature=0.1)))
    assert not other_temperature.cached and len(provider.requests) == 3


def test_n_without_provider_support_is_separate_calls():
    provider = MockProvider("mock/x", lambda m, c: "a", supports_n=False)
    completion = asyncio.run(Model(provider, use_cache=False).generate(MESSAGES, GenerateConfig(n=4)))
    assert completion.texts == ["a"] * 4 and completion.calls == 4
    assert [config.n for _, config in provider.requests] == [1, 1, 1, 1]


def test_concurrency_limit_holds():
    in_flight, peak = 0, 0

    class Slow(MockProvider):
        async def generate(self, messages, config):
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.01)
            in_flight -= 1
            return Completion(["x"], Usage(1, 1), "slow")

    model = Model(Slow("mock/x", lambda m, c: "x"), max_concurrency=3, use_cache=False)

    async def many():
        await asyncio.gather(*(model.generate([ChatMessage("user", str(i))], GenerateConfig()) for i in range(20)))
    asyncio.run(many())
    assert peak == 3


def test_rate_limit_is_retried_then_given_up():
    calls = 0

    class Limited(MockProvider):
        async def generate(self, messages, config):
            nonlocal calls
            calls += 1
            raise RateLimitError("slow down", retry_after=0)

    model = Model(Limited("mock/x", lambda m, c: "x"), use_cache=False, max_retries=3)
    with pytest.raises(RateLimitError):
        asyncio.run(model.generate(MESSAGES, GenerateConfig()))
    assert calls == 4 and model.stats.retries == 3
