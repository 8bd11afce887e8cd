"""``review-bench review PAPER``: one paper, one review."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from reviewer.cli_errors import EXIT_BUDGET, EXIT_QUOTA, fail, user_errors
from reviewer.cli_options import ReviewOptions, with_review_options
from reviewer.models.base import QuotaExhausted
from reviewer.models.pricing import format_cost


@with_review_options
def review(
    paper: Annotated[Path, typer.Argument(help="A PDF, or a .txt/.md file.", show_default=False)],
    review: ReviewOptions,
    output_format: Annotated[Optional[str], typer.Option("--format", help="json or md (default: md on a terminal).")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the review here.")] = None,
    no_transcript: Annotated[bool, typer.Option(
        "--no-transcript", help="Leave the model calls out of --format json.")] = False,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Send nothing: build the prompt, print the requests and a cost ceiling.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
    max_cost: Annotated[Optional[float], typer.Option(
        "--max-cost", min=0.0, help=f"Budget in USD: refuse (exit code {EXIT_BUDGET}) a review whose cost "
        "ceiling is over it.")] = None,
) -> None:
    """Review one paper with the NeurIPS form."""
    from corpus.paper import load_paper
    from reviewer.markdown import outcome_markdown
    from reviewer.plan import dry_run_options, run_plan

    fmt = "json" if as_json else output_format or ("md" if sys.stdout.isatty() and output is None else "json")
    if fmt not in ("json", "md"):
        raise fail("--format must be json or md")
    try:
        loaded = load_paper(paper, max_pages=review.config.max_pages)
        reviewer = (dry_run_options(review) if dry_run else review).build(concurrency=review.config.ensemble,
                                                                          transcript=not no_transcript)
    except user_errors() as exc:
        raise fail(str(exc)) from None
    plan = run_plan(reviewer, [(loaded.paper_id, loaded.text)])
    if dry_run:
        asyncio.run(reviewer.aclose())
        typer.echo(plan.render(as_json=fmt == "json"))
        return
    _check_budget(plan, max_cost, reviewer)
    if plan.requests:  # costs before they are spent
        typer.echo(f"cost ceiling: {format_cost(plan.cost_usd)} ({plan.requests} requests)", err=True)
    try:
        outcome = asyncio.run(_review_once(reviewer, loaded))
    except user_errors() as exc:
        raise fail(str(exc)) from None
    except QuotaExhausted as exc:
        raise fail(f"the provider's quota is spent: {exc}", code=EXIT_QUOTA) from None
    for line in paper_warnings(outcome.meta, paper):
        typer.echo(line, err=True)
    if outcome.meta.truncated:
        t = outcome.meta.truncation
        typer.echo(
            f"note: the paper was cut to fit the model's context window "
            f"({t.get('kept_tokens')} of {t.get('original_tokens')} tokens kept)",
            err=True,
        )
    for note in outcome.meta.notes:
        typer.echo(f"note: {note}", err=True)
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


def paper_warnings(meta, paper: Path) -> list[str]:
    """One line each: hidden text kept out, instructions to an LLM reviewer left in, checks not made."""
    lines = []
    hidden = meta.hidden_text
    if hidden and hidden.count:
        lines.append(
            f"warning: {hidden.count} hidden text span(s) in {paper} were kept out of the prompt "
            f"({', '.join(f'{k}: {v}' for k, v in hidden.reasons.items())}): {hidden.excerpt!r}"
        )
    injection = meta.injection
    if injection and injection.count:
        lines.append(
            f"warning: {paper} addresses {injection.count} instruction(s) to an LLM reviewer; they stay in the "
            f"text, which the prompt frames as data: {injection.matches[0].excerpt!r}"
        )
    lines += [f"note: {note}" for note in (hidden.notes if hidden else [])]
    return lines


async def _review_once(reviewer, paper):
    try:
        return await reviewer.review(paper)
    finally:
        await reviewer.aclose()


def _check_budget(plan, max_cost: float | None, reviewer) -> None:
    if max_cost is None or not plan.requests:
        return
    if plan.cost_usd is None or plan.cost_usd > max_cost:
        asyncio.run(reviewer.aclose())
        raise fail(f"not started: the review could cost up to {format_cost(plan.cost_usd)}, over the --max-cost "
                   f"of {format_cost(max_cost)}",
                   code=EXIT_BUDGET)


def register(app: typer.Typer) -> None:
    app.command("review")(review)
