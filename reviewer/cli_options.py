"""The reviewer's options, declared once for every command that reviews papers.

``@with_review_options`` adds them to a typer command, which receives them validated, as
one ``review: ReviewOptions`` argument.
"""

from __future__ import annotations

import copy
import functools
import inspect
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Optional, get_args

import typer
from pydantic import ValidationError

from reviewer.config import ReviewConfig

DEFAULT_MODEL = "embedded"
MODEL_HELP = (
    "provider/model: openai/..., anthropic/..., hf/<dir>, mock/accept, or 'embedded' (the offline "
    "reviewer, the default). Env: REVIEW_BENCH_MODEL."
)

DataDir = Annotated[Optional[Path], typer.Option("--data-dir", help="Data root (env REVIEW_BENCH_DATA).")]
NoCache = Annotated[bool, typer.Option("--no-cache", help="Do not read or write the call cache.")]

DEFAULT_MODEL_NOTICE = (
    "note: reviewing with the offline model 'embedded' (no LLM, no key needed); for an LLM pass "
    "--model openai/gpt-4o-2024-05-13 (with OPENAI_API_KEY) or anthropic/..., or set REVIEW_BENCH_MODEL"
)

OPTIONS: dict[str, tuple[object, object]] = {
    "model": (Annotated[Optional[str], typer.Option("--model", "-m", help=MODEL_HELP)], None),
    "data_dir": (DataDir, None),
    "fewshot": (Annotated[int, typer.Option("--fewshot", min=0, max=3, help="Few-shot example reviews.")], 0),
    "ensemble": (Annotated[int, typer.Option(
        "--ensemble", min=1, max=20, help="Independent reviews merged by a meta-review.")], 1),
    "reflections": (Annotated[int, typer.Option(
        "--reflections", min=1, max=10, help="Rounds of self-reflection (1 = none).")], 1),
    "temperature": (Annotated[float, typer.Option(
        "--temperature", min=0.0, max=2.0, help="Sampling temperature, for models that take one (the run "
        "records where it was not applied).")], 0.75),
    "reasoning_effort": (Annotated[Optional[str], typer.Option(
        "--reasoning-effort", help="low, medium or high, for models that reason (OpenAI reasoning_effort, "
        "Anthropic thinking).")], None),
    "threshold": (Annotated[float, typer.Option("--threshold", help="Accept when Overall >= threshold.")], 6.0),
    "system_prompt": (Annotated[str, typer.Option(
        "--system-prompt", help="critical (reject when unsure), neutral or lenient.")], "critical"),
    "base_url": (Annotated[Optional[str], typer.Option(
        "--base-url", help="OpenAI/Anthropic-compatible server URL.")], None),
    "adapter": (Annotated[Optional[Path], typer.Option("--adapter", help="LoRA adapter folder for an hf/ model.")], None),
    "max_pages": (Annotated[Optional[int], typer.Option("--max-pages", min=1, help="Read only the first N PDF pages.")], None),
    "max_tokens": (Annotated[int, typer.Option("--max-tokens", min=64, help="Most tokens in one answer.")], 4096),
    "context_window": (Annotated[Optional[int], typer.Option(
        "--context-window", min=1024, help="Cap the model's context window (tokens).")], None),
    "price": (Annotated[Optional[str], typer.Option(
        "--price", help="The model's price when the tables lack it: in=X,out=Y[,cached=Z] (USD per million "
        "tokens).")], None),
    "no_cache": (NoCache, False),
    "timeout": (Annotated[float, typer.Option("--timeout", min=1.0, help="Seconds before one request is retried.")], 600.0),
}
NOT_CONFIG = {"data_dir", "no_cache", "timeout"}


def option(name: str, flag: str | None = None):
    """The annotation of the reviewer option ``name`` for another command's parameter, under another ``flag``
    if given (``--review-price`` where ``--price`` is taken by another model)."""
    annotation, _ = OPTIONS[name]
    if flag is None:
        return annotation
    kind, info = get_args(annotation)
    renamed = copy.copy(info)
    # In an Annotated option typer reads the flags from the option's first argument (kept as its default).
    renamed.default, renamed.param_decls = flag, ()
    return Annotated[kind, renamed]


@dataclass(frozen=True)
class ReviewOptions:
    config: ReviewConfig
    data_dir: Path | None
    use_cache: bool
    timeout: float

    def build(self, *, concurrency: int = 8, refresh_cache: bool = False, transcript: bool = True):
        """The reviewer these options describe (see ``reviewer.build.build_reviewer``)."""
        from reviewer.build import build_reviewer

        return build_reviewer(self.config, data_dir=self.data_dir, use_cache=self.use_cache,
                              refresh_cache=refresh_cache, concurrency=concurrency, timeout=self.timeout,
                              transcript=transcript)


def review_options(**values) -> ReviewOptions:
    from reviewer.cli_errors import fail

    settings = {name: value for name, value in values.items() if name not in NOT_CONFIG}
    settings["model"] = settings["model"] or os.environ.get("REVIEW_BENCH_MODEL")
    if not settings["model"]:
        settings["model"] = DEFAULT_MODEL
        typer.echo(DEFAULT_MODEL_NOTICE, err=True)
    settings["adapter"] = str(settings["adapter"]) if settings["adapter"] else None
    try:
        config = ReviewConfig(**settings)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]).replace("_", "-") if error["loc"] else "option"
        raise fail(f"--{name}: {error['msg']}") from None
    return ReviewOptions(config, values["data_dir"], not values["no_cache"], values["timeout"])


def with_review_options(command):
    """Give a typer command the reviewer's options; it receives ``review: ReviewOptions``."""
    signature = inspect.signature(command, eval_str=True)
    own = [p for p in signature.parameters.values() if p.name != "review"]
    taken = {p.name for p in own} & OPTIONS.keys()
    if taken:
        raise TypeError(f"{command.__name__} declares reviewer options itself: {sorted(taken)}")
    added = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
             for name, (annotation, default) in OPTIONS.items()]

    @functools.wraps(command)
    def wrapper(**kwargs):
        values = {name: kwargs.pop(name) for name in OPTIONS}
        return command(review=review_options(**values), **kwargs)

    parameters = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own] + added
    wrapper.__signature__ = signature.replace(parameters=parameters)
    wrapper.__annotations__ = {p.name: p.annotation for p in parameters}
    return wrapper
