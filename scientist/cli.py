"""``review-bench scientist``: generate papers and have the reviewer score them."""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path
from typing import Annotated, Optional, get_args

import typer

from reviewer.cli_errors import fail, user_errors
from reviewer.cli_options import DataDir, NoCache, ReviewOptions, option, with_review_options
from reviewer.config import ReasoningEffort
from reviewer.models.pricing import Price, format_cost

app = typer.Typer(help="The AI-Scientist loop: write papers, review them, revise.", no_args_is_help=True)
#: The reviewer's --price and --reasoning-effort, for --model here, and again for --review-model.
WriterPrice = option("price")
WriterEffort = option("reasoning_effort")
ReviewPrice = option("price", "--review-price")
ReviewEffort = option("reasoning_effort", "--review-reasoning-effort")


def _model_settings(flags: str, price: str | None, effort: str | None) -> tuple[Price | None, str | None]:
    """``--price`` and ``--reasoning-effort`` (``flags`` prefixes their names) checked, the price parsed."""
    efforts = get_args(ReasoningEffort)
    if effort is not None and effort not in efforts:
        raise fail(f"--{flags}reasoning-effort must be one of {', '.join(efforts)}")
    try:
        return (Price.parse(price) if price else None), effort
    except ValueError as exc:
        raise fail(f"--{flags}price: {exc}") from None


@app.command("templates")
def templates() -> None:
    """List the built-in experiment templates (--template also takes a folder)."""
    from scientist.templates import BUILTIN_DIR, builtin_templates, load_template

    for name in builtin_templates():
        template = load_template(name)
        typer.echo(f"{name}\t{BUILTIN_DIR / name}\t{template.task_description[:90]}...")


@app.command("run")
def run(
    template: Annotated[str, typer.Option("--template", "-t", help="Built-in template name or a folder.")],
    out: Annotated[Path, typer.Option("--out", help="Run folder (resumable).")],
    model: Annotated[str, typer.Option("--model", "-m", help="Model that writes ideas, code and paper.")],
    review_model: Annotated[str, typer.Option("--review-model", help="Model of the reviewer.")],
    num_ideas: Annotated[int, typer.Option("--num-ideas", min=1)] = 1,
    rounds: Annotated[int, typer.Option("--rounds", min=1, help="Review rounds per idea.")] = 2,
    target: Annotated[float, typer.Option("--target", help="Stop revising at this Overall.")] = 6.0,
    coder: Annotated[str, typer.Option("--coder", help="aider or builtin.")] = "aider",
    base_url: Annotated[Optional[str], typer.Option("--base-url", help="Server of --model.")] = None,
    review_base_url: Annotated[Optional[str], typer.Option(
        "--review-base-url", help="Server of --review-model (not inherited from --base-url).")] = None,
    price: WriterPrice = None,
    reasoning_effort: WriterEffort = None,
    review_price: ReviewPrice = None,
    review_reasoning_effort: ReviewEffort = None,
    data_dir: DataDir = None,
    literature: Annotated[str, typer.Option("--literature", help="auto, online or offline.")] = "auto",
    run_timeout: Annotated[float, typer.Option("--run-timeout", min=1.0, help="Seconds per experiment run.")] = 600.0,
    max_runs: Annotated[int, typer.Option("--max-runs", min=1, max=5)] = 5,
    no_novelty: Annotated[bool, typer.Option("--no-novelty", help="Skip the novelty check.")] = False,
    revise_experiments: Annotated[str, typer.Option(
        "--revise-experiments", help="Another experiment run before a revision: auto (when the review asks "
        "for one), always or never.")] = "auto",
    no_cache: NoCache = False,
    gpu: Annotated[bool, typer.Option("--gpu", help="Let experiments use the NVIDIA GPUs (/dev/nvidia*).")] = False,
    unsafe_no_sandbox: Annotated[bool, typer.Option(
        "--unsafe-no-sandbox", help="Where bubblewrap cannot start, run the model-written experiments and the "
        "code editor (aider) without isolation, with your full access (recorded in the run).")] = False,
) -> None:
    """Generate ideas, run experiments in the sandbox, write papers, review and revise them."""
    import os

    from rich.console import Console
    from rich.live import Live
    from rich.table import Table

    from scientist.coder import CoderError
    from scientist.latex import TexMissingError
    from scientist.literature import LiteratureError
    from scientist.loop import Scientist, ScientistSettings
    from scientist.sandbox import SandboxUnavailable
    from scientist.templates import TemplateError

    if coder not in ("aider", "builtin"):
        raise fail("--coder must be aider or builtin")
    if literature not in ("auto", "online", "offline"):
        raise fail("--literature must be auto, online or offline")
    if revise_experiments not in ("auto", "always", "never"):
        raise fail("--revise-experiments must be auto, always or never")
    price, reasoning_effort = _model_settings("", price, reasoning_effort)
    review_price, review_reasoning_effort = _model_settings("review-", review_price, review_reasoning_effort)
    settings = ScientistSettings(
        template=template, out=out, model=model, review_model=review_model, num_ideas=num_ideas, rounds=rounds,
        target=target, coder=coder, base_url=base_url, review_base_url=review_base_url,
        data_dir=str(data_dir or os.environ.get("REVIEW_BENCH_DATA") or "") or None, literature=literature,
        run_timeout_s=run_timeout, max_runs=max_runs, check_novelty=not no_novelty, use_cache=not no_cache,
        revise_experiments=revise_experiments, gpu=gpu, unsafe_no_sandbox=unsafe_no_sandbox, price=price,
        reasoning_effort=reasoning_effort, review_price=review_price, review_reasoning_effort=review_reasoning_effort,
    )
    status: dict[str, str] = {}
    console = Console(stderr=True)

    def table() -> Table:
        view = Table("idea", "stage")
        for idea, message in status.items():
            view.add_row(idea, message)
        return view

    try:
        scientist = Scientist(settings)
        typer.echo(scientist.isolation.describe())
        with Live(table(), console=console, refresh_per_second=4) as live:
            def progress(idea: str, message: str) -> None:
                status[idea] = message
                live.update(table())

            scientist.progress = progress
            states = asyncio.run(scientist.run())
    except (*user_errors(), TemplateError, CoderError, LiteratureError, TexMissingError, SandboxUnavailable) as exc:
        raise fail(str(exc)) from None
    for state in states:
        scores = [r.overall for r in state.rounds]
        typer.echo(f"{state.name}: Overall by round {scores}" + (f" (skipped: {state.skipped})" if state.skipped else ""))
    typer.echo(f"scores: {out / 'scores.md'}; total cost {format_cost(scientist.cost_usd)}")


@app.command("score")
@with_review_options
def score(
    source: Annotated[Path, typer.Argument(help="A folder of papers (PDF or text), or one paper.")],
    review: ReviewOptions,
    run_dir: Annotated[Optional[Path], typer.Option("--run-dir", help="Where the run record goes.")] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1)] = 4,
) -> None:
    """Review every paper in a folder; writes a run record and a score summary (no labels, no accuracy)."""
    from benchmarks.runner import run_papers
    from benchmarks.store import RunStore, RunStoreError
    from scientist.score import find_papers, load_item, score_manifest, write_score_report

    if not source.exists():
        raise fail(f"{source}: no such file or folder")
    config = review.config
    try:
        papers = find_papers(source)
        reviewer = review.build(concurrency=concurrency)
    except user_errors() as exc:
        raise fail(str(exc)) from None
    manifest = score_manifest(config, source, len(papers))
    target = run_dir or Path("runs") / f"score-{source.name}-{config.fingerprint()}"
    try:
        store = RunStore.open(target, manifest)
    except RunStoreError as exc:
        raise fail(str(exc)) from None
    try:
        asyncio.run(run_papers(papers, reviewer, store, functools.partial(load_item, max_pages=config.max_pages),
                               concurrency=concurrency))
        store.add_notes(reviewer.notes)
        store.finish("complete")
    except KeyboardInterrupt:
        store.add_notes(reviewer.notes)
        store.finish("interrupted")
        raise
    summary = write_score_report(target, store.records())
    typer.echo(f"reviewed {summary['reviewed']}/{summary['papers']}; Overall {summary['overall_distribution']} "
               f"(mean {summary['overall_mean']}); decisions {summary['decisions']}; run dir {target}")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="scientist")
