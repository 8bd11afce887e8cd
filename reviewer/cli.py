"""``review-bench review PAPER``: one paper, one review."""

from __future__ import annotations

import asyncio
import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer

from reviewer.cli_options import ReviewOptions, with_review_options


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print one line on stderr; the caller raises the returned Exit."""
    typer.echo(f"review-bench: {message}", err=True)
    return typer.Exit(code)


@contextmanager
def exit_on(*errors: type[Exception]):
    """Turn the given exceptions into one line on stderr and exit code 2."""
    try:
        yield
    except errors as exc:
        raise fail(str(exc)) from None


def user_errors() -> tuple[type[Exception], ...]:
    """Exceptions whose message is all the user needs: printed as one line, exit 2."""
    from reviewer.errors import ConfigurationError
    from reviewer.models.base import FatalError, MissingDependencyError
    from reviewer.paper import PaperInputError
    from reviewer.prompts import PromptError

    return (ConfigurationError, FatalError, MissingDependencyError, PaperInputError, PromptError)


@with_review_options
def review(
    paper: Annotated[Path, typer.Argument(help="A PDF, or a .txt/.md file.", show_default=False)],
    review: ReviewOptions,
    output_format: Annotated[Optional[str], typer.Option("--format", help="json or md (default: md on a terminal).")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the review here.")] = None,
) -> None:
    """Review one paper with the NeurIPS form."""
    from reviewer.markdown import outcome_markdown
    from reviewer.paper import load_paper

    fmt = output_format or ("md" if sys.stdout.isatty() and output is None else "json")
    if fmt not in ("json", "md"):
        raise fail("--format must be json or md")
    try:
        loaded = load_paper(paper, max_pages=review.config.max_pages)
        reviewer = review.build(concurrency=review.config.ensemble)
        outcome = asyncio.run(_review_once(reviewer, loaded))
    except user_errors() as exc:
        raise fail(str(exc)) from None
    hidden = outcome.meta.hidden_text
    if hidden and hidden.count:
        typer.echo(
            f"warning: {hidden.count} hidden text span(s) in {paper} were kept out of the prompt "
            f"({', '.join(f'{k}: {v}' for k, v in hidden.reasons.items())}): {hidden.excerpt!r}",
            err=True,
        )
    if outcome.meta.truncated:
        t = outcome.meta.truncation
        typer.echo(
            f"note: the paper was cut to fit the model's context window "
            f"({t.get('kept_tokens')} of {t.get('original_tokens')} tokens kept)",
            err=True,
        )
    text = json.dumps(outcome.to_json_dict(), indent=2) + "\n" if fmt == "json" else outcome_markdown(outcome)
    if output:
        output.write_text(text, encoding="utf-8")
    elif fmt == "md" and sys.stdout.isatty():
        from rich.console import Console
        from rich.markdown import Markdown

        Console().print(Markdown(text))
    else:
        sys.stdout.write(text)
    if not outcome.ok:
        raise fail(f"the review failed: {outcome.failure.message}", code=1)


async def _review_once(reviewer, paper):
    try:
        return await reviewer.review(paper)
    finally:
        await reviewer.aclose()


def register(app: typer.Typer) -> None:
    app.command("review")(review)
