"""The reviewer's options, declared once for every command that reviews papers."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from reviewer.config import ReviewConfig, SystemPrompt

DEFAULT_MODEL = "embedded"
MODEL_HELP = (
    "provider/model: openai/..., anthropic/..., hf/<dir>, mock/accept, or 'embedded' (the offline "
    "reviewer, the default). Env: REVIEW_BENCH_MODEL."
)

Model = Annotated[Optional[str], typer.Option("--model", "-m", help=MODEL_HELP)]
BaseUrl = Annotated[Optional[str], typer.Option("--base-url", help="OpenAI/Anthropic-compatible server URL.")]
Adapter = Annotated[Optional[Path], typer.Option("--adapter", help="LoRA adapter folder for an hf/ model.")]
DataDir = Annotated[Optional[Path], typer.Option("--data-dir", help="Data root (env REVIEW_BENCH_DATA).")]
Fewshot = Annotated[int, typer.Option("--fewshot", min=0, max=3, help="Few-shot example reviews.")]
Ensemble = Annotated[int, typer.Option("--ensemble", min=1, max=20, help="Independent reviews merged by a meta-review.")]
Reflections = Annotated[int, typer.Option("--reflections", min=1, max=10, help="Rounds of self-reflection (1 = none).")]
Temperature = Annotated[float, typer.Option("--temperature", min=0.0, max=2.0)]
Threshold = Annotated[float, typer.Option("--threshold", help="Accept when Overall >= threshold.")]
System = Annotated[str, typer.Option("--system-prompt", help="critical (reject when unsure), neutral or lenient.")]
MaxPages = Annotated[Optional[int], typer.Option("--max-pages", min=1, help="Read only the first N PDF pages.")]
MaxTokens = Annotated[int, typer.Option("--max-tokens", min=64, help="Most tokens in one answer.")]
NoCache = Annotated[bool, typer.Option("--no-cache", help="Do not read or write the call cache.")]
Timeout = Annotated[float, typer.Option("--timeout", min=1.0, help="Seconds before one request is retried.")]


def review_config(
    *,
    model: str | None,
    base_url: str | None,
    adapter: Path | None,
    fewshot: int,
    ensemble: int,
    reflections: int,
    temperature: float,
    threshold: float,
    system_prompt: str,
    max_pages: int | None,
    max_tokens: int,
) -> ReviewConfig:
    if system_prompt not in SystemPrompt.__args__:
        raise typer.BadParameter(f"--system-prompt must be one of {', '.join(SystemPrompt.__args__)}")
    return ReviewConfig(
        model=model or os.environ.get("REVIEW_BENCH_MODEL") or DEFAULT_MODEL,
        base_url=base_url,
        adapter=str(adapter) if adapter else None,
        system_prompt=system_prompt,
        fewshot=fewshot,
        ensemble=ensemble,
        reflections=reflections,
        temperature=temperature,
        threshold=threshold,
        max_pages=max_pages,
        max_tokens=max_tokens,
    )
