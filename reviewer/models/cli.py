"""``review-bench models``: what the reviewer knows of a model before it calls it: whether it
takes a temperature, whether it reasons, its knowledge cutoff, context, prices, and where each
fact comes from."""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer

from reviewer.cli_errors import exit_on

#: Models a user would pick today, shown when none is named.
PICKS = [
    "openai/gpt-5.5", "openai/gpt-5.4", "openai/gpt-5-mini", "openai/o4-mini", "openai/gpt-4o-2024-05-13",
    "anthropic/claude-opus-4-8", "anthropic/claude-sonnet-5", "anthropic/claude-sonnet-4-5",
    "gemini/gemini-3.1-pro-preview", "gemini/gemini-2.5-flash", "deepseek/deepseek-chat",
    "deepseek/deepseek-reasoner",
]


def register(app: typer.Typer) -> None:
    app.command("models")(models)


def describe(model_string: str) -> dict:
    """The facts, request parameters and price of a model string, without calling it."""
    from reviewer.models.openai_provider import openai_api
    from reviewer.models.parameters import request_parameters
    from reviewer.models.pricing import pricing_for
    from reviewer.models.registry import canonical_name, model_facts_for, route

    r = route(model_string)
    name = canonical_name(model_string)
    facts = model_facts_for(model_string)
    api = "anthropic" if r.provider == "anthropic" else openai_api(r.base_url)
    sent = request_parameters(name, facts, api)
    pricing = pricing_for(r.catalogue, r.model, local=r.local)
    price = pricing.list_price()
    return {
        "model": name,
        "known": facts.known,
        "temperature": facts.temperature,
        "temperature_sent": sent.temperature,
        "reasoning": facts.reasoning,
        "reasoning_effort": facts.effort,
        "token_limit": sent.token_limit,
        "knowledge_cutoff": facts.knowledge,
        "release_date": facts.release_date,
        "context": facts.context,
        "max_output": facts.max_output,
        "input_usd_per_mtok": price.input if price else None,
        "output_usd_per_mtok": price.output if price else None,
        "cache_read_usd_per_mtok": price.cache_read if price else None,
        "facts_from": facts.source,
        "priced_by": pricing.source,
    }


def models(
    names: Annotated[Optional[list[str]], typer.Argument(
        help="Model strings (provider/model); default: models a user would pick today.", show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per model.")] = False,
) -> None:
    """What the reviewer knows of models before calling them: parameters, limits, prices, sources."""
    from reviewer.models.registry import ModelStringError

    with exit_on(ModelStringError):
        rows = [describe(name) for name in names or PICKS]
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("model", "temperature", "reasoning", "cutoff", "context", "in $/M", "out $/M", "cached $/M",
                  "facts from", "priced by")
    for row in rows:
        table.add_row(row["model"], _flag(row["temperature"]), _flag(row["reasoning"], row["reasoning_effort"]),
                      row["knowledge_cutoff"] or "?", _count(row["context"]), _money(row["input_usd_per_mtok"]),
                      _money(row["output_usd_per_mtok"]), _money(row["cache_read_usd_per_mtok"]),
                      row["facts_from"], row["priced_by"])
    Console().print(table)


def _flag(value: bool | None, detail: str | None = None) -> str:
    text = "?" if value is None else ("yes" if value else "no")
    return f"{text} ({detail})" if value and detail else text


def _count(value: int | None) -> str:
    return "?" if value is None else f"{value:,}"


def _money(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"
