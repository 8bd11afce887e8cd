"""Estimated cost of a call from a price table (``prices.json`` beside this file)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from reviewer.models.base import Usage

PRICES_FILE = Path(__file__).with_name("prices.json")
#: The OpenAI Batch API and Anthropic's Message Batches charge half the list price.
BATCH_DISCOUNT = 0.5


@lru_cache(maxsize=1)
def price_table() -> dict[str, dict]:
    table = json.loads(PRICES_FILE.read_text())
    table.pop("_comment", None)
    return table


def model_prices(model: str) -> dict | None:
    """Prices for a bare model name, e.g. ``gpt-4o-2024-05-13`` (provider prefix dropped)."""
    return price_table().get(model.split("/", 1)[-1])


def cost_usd(model: str, usage: Usage, *, batch: bool = False) -> float:
    """USD for one call's usage; ``batch``: sent through the provider's batch API."""
    prices = model_prices(model)
    if prices is None:
        return 0.0
    uncached_input = usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens
    total = (
        max(uncached_input, 0) * prices["input"]
        + usage.cache_read_tokens * prices.get("cache_read", prices["input"])
        + usage.cache_write_tokens * prices.get("cache_write", prices["input"])
        + usage.output_tokens * prices["output"]
    )
    return total / 1_000_000 * (BATCH_DISCOUNT if batch else 1.0)


def total_cost(costs: Iterable[float | None]) -> float | None:
    """The sum of several costs, None (unknown) as soon as one of them is unknown."""
    total = 0.0
    for cost in costs:
        if cost is None:
            return None
        total += cost
    return total


def context_window(model: str, default: int) -> int:
    prices = model_prices(model)
    return int(prices["context"]) if prices and "context" in prices else default
