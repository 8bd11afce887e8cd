"""``review-bench run``: review a benchmark's papers into a resumable run dir."""

from __future__ import annotations

import asyncio
import shlex
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from benchmarks.records import AttackKind
from corpus.dataset import TextMode
from reviewer.cli_errors import fail, user_errors
from reviewer.cli_options import ReviewOptions, with_review_options
from reviewer.models.pricing import format_cost

RUNS_ROOT = Path("runs")
NO_MODEL_HELP = (
    "the offline reviewer is not available ({error}); pass a model instead: --model openai/<name> "
    "(with OPENAI_API_KEY, or --base-url URL of an OpenAI-compatible server), --model anthropic/<name> "
    "(with ANTHROPIC_API_KEY) or --model hf/<dir>, or set REVIEW_BENCH_MODEL"
)

err = Console(stderr=True, highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("run")(run)


@with_review_options
def run(
    review: ReviewOptions,
    benchmark: Annotated[Optional[str], typer.Argument(help="Benchmark under the data root (default iclr2022).")] = None,
    dataset: Annotated[Optional[Path], typer.Option(
        "--dataset", help="Your own dataset folder: one ratings_*.tsv plus texts/ or pdfs/.")] = None,
    split: Annotated[Optional[str], typer.Option(help="eval (default) or train: reads ratings_<split>.tsv.")] = None,
    text: Annotated[TextMode, typer.Option("--text", help="blind: leakage removed; raw: the texts as served.")] = "blind",
    body_only: Annotated[bool, typer.Option("--body-only", help="With --text blind: keep only the body.")] = False,
    limit: Annotated[Optional[int], typer.Option(min=1, help="Review a fixed subset of N papers.")] = None,
    length_matched: Annotated[bool, typer.Option(
        "--length-matched", help="Review the fixed subset in which accepted and rejected papers are equally long "
        "(pairs matched on text length; with --limit N, the first N/2 pairs).")] = False,
    concurrency: Annotated[int, typer.Option(min=1, help="Papers, and model calls, in flight.")] = 8,
    run_dir: Annotated[Optional[Path], typer.Option(
        help="Default: the unfinished runs/*-<config hash> of this command, else a new one.")] = None,
    retry_failed: Annotated[bool, typer.Option("--retry-failed", help="Review recorded failures again.")] = False,
    allow_code_change: Annotated[bool, typer.Option(
        "--allow-code-change", help="Resume a run begun under other code (version, prompts, blinding); "
        "the change is recorded.")] = False,
    attack: Annotated[Optional[AttackKind], typer.Option(
        "--attack", help="Add an instruction to the reviewer to a share of the rejected papers, as visible text or "
        "hidden in a typeset PDF, and report the accept-flip rate against the same papers unattacked.",
        show_default=False)] = None,
    attack_share: Annotated[float, typer.Option(
        "--attack-share", min=0.0, max=1.0, help="With --attack: the share of the rejected papers attacked.")] = 0.2,
    no_transcript: Annotated[bool, typer.Option(
        "--no-transcript", help="Do not keep each paper's model calls (transcripts.jsonl.gz).")] = False,
) -> None:
    """Review a benchmark's papers into a resumable run dir, and score them against the human decisions."""
    from benchmarks.store import RunStore, RunStoreError
    from corpus.dataset import DatasetError, open_dataset, paper_loader

    if benchmark and dataset:
        raise fail("give a benchmark name or --dataset, not both")
    if body_only and text != "blind":
        raise fail("--body-only needs --text blind")
    config, data_dir = review.config, review.data_dir
    try:
        data = open_dataset(benchmark, dataset, split, data_dir)
        load = paper_loader(text, body_only=body_only, max_pages=config.max_pages)
        text_mode = data.text_mode(text) + ("-body-only" if body_only else "")
        papers, subset = _papers(data, text_mode, limit, length_matched, config.max_pages)
    except DatasetError as exc:
        raise fail(str(exc)) from None
    manifest = _manifest(config, data, text_mode=text_mode, n_papers=len(papers), limit=limit,
                         blinded=text == "blind", subset=subset, transcripts=not no_transcript)
    if attack:
        from benchmarks.attack import plan_attack

        manifest.attack = plan_attack(papers, attack, attack_share)
    reviewer = _build_reviewer(review, concurrency=concurrency, refresh_cache=retry_failed,
                               transcript=not no_transcript)
    try:
        store = RunStore.open(run_dir or _default_run_dir(manifest), manifest, allow_code_change=allow_code_change)
    except RunStoreError as exc:
        asyncio.run(reviewer.aclose())
        raise fail(str(exc)) from None
    if attack:
        from benchmarks.attack import run_baseline

        load = run_baseline(store, papers, load, lambda: _build_reviewer(
            review, concurrency=concurrency, refresh_cache=retry_failed, transcript=not no_transcript),
            concurrency=concurrency, retry_failed=retry_failed, allow_code_change=allow_code_change, console=err)
    _run(store, papers, reviewer, load, concurrency=concurrency, retry_failed=retry_failed,
         resume_hint=None if run_dir else store.run_dir)


def _papers(data, text_mode: str, limit: int | None, length_matched: bool, max_pages: int | None):
    """The papers to review, and the subset's record when it is length-matched."""
    if not length_matched:
        return data.subset(limit), None
    from benchmarks.lengths import length_matched as matched, text_lengths

    papers, subset = matched(data.papers, text_lengths(data, text_mode, max_pages),
                             pairs=None if limit is None else max(1, limit // 2))
    auc = "–" if subset.length_auc is None else f"{subset.length_auc:.3f}"
    err.print(f"length-matched subset: {subset.description}; length-only AUC on it {auc}")
    return papers, subset


def _build_reviewer(review: ReviewOptions, **options):
    try:
        return review.build(**options)
    except (*user_errors(), ModuleNotFoundError) as exc:
        if review.config.model != "embedded":
            raise fail(str(exc)) from None
        raise fail(NO_MODEL_HELP.format(error=exc)) from None


def _manifest(config, data, *, text_mode: str, n_papers: int, limit: int | None, blinded: bool, subset=None,
              transcripts: bool = True):
    from benchmarks.cutoff import check_cutoff
    from benchmarks.records import CodeIdentity, DatasetInfo, RunManifest
    from corpus.blind import rules_fingerprint
    from corpus.dataset import check_manifest
    from review_bench import __version__
    from reviewer.prompts import templates_fingerprint

    notes = check_manifest(data)
    for note in notes:
        err.print(f"warning: {note}")
    cutoff = check_cutoff(config.model, data)
    if cutoff is not None and cutoff.predates_cutoff is not False:
        err.print(f"warning: {cutoff.message}")
    return RunManifest(
        kind="benchmark",
        config=config.model_dump(mode="json"),
        config_hash=config.fingerprint(),
        dataset=DatasetInfo(
            name=data.name,
            split=data.split,
            path=str(data.folder.resolve()),
            fingerprint=data.fingerprint(),
            n_papers=n_papers,
            text_mode=text_mode,
        ),
        package_version=__version__,
        code=CodeIdentity(package_version=__version__, prompts=templates_fingerprint(),
                          blinding=rules_fingerprint() if blinded else ""),
        git_revision=_git_revision(),
        limit=limit,
        subset=subset,
        training_cutoff=cutoff,
        transcripts=transcripts,
        notes=notes,
    )


def _git_revision() -> str | None:
    """The checkout's commit, or None outside a git checkout (or without git)."""
    source = Path(__file__).resolve().parents[1]
    try:
        done = subprocess.run(
            ["git", "-C", str(source), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


def _default_run_dir(manifest) -> Path:
    """The latest unfinished run of this config and dataset under runs/, else a new dir."""
    from benchmarks.store import find_unfinished

    found = find_unfinished(RUNS_ROOT, manifest)
    if found is not None:
        return found
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return RUNS_ROOT / f"{stamp}-{manifest.config_hash}"


def _run(store, papers, reviewer, load, *, concurrency: int, retry_failed: bool, resume_hint: Path | None) -> None:
    from benchmarks.runner import run_papers

    err.print(f"run dir: {store.run_dir}")
    try:
        summary = asyncio.run(
            run_papers(papers, reviewer, store, load, concurrency=concurrency, retry_failed=retry_failed, console=err)
        )
    except KeyboardInterrupt:
        _record_notes(store, reviewer)
        store.finish("interrupted")
        command = shlex.join(["review-bench", *sys.argv[1:]])
        if resume_hint is not None:
            command += f" --run-dir {shlex.quote(str(resume_hint))}"
        err.print(f"interrupted: finished papers are kept in {store.run_dir}; resume with:\n  {command}")
        raise typer.Exit(130) from None
    _record_notes(store, reviewer)
    store.finish("complete")
    err.print(
        f"{summary.total} papers: {summary.skipped} already done, {summary.reviewed} reviewed in "
        f"{summary.wall_s:.1f} s, {summary.failed} failed, cost {format_cost(summary.cost_usd)}"
    )
    _report_metrics(store.run_dir)


def _record_notes(store, reviewer) -> None:
    """The model's notes in the manifest: who priced the calls, parameters not applied or dropped."""
    store.add_notes(reviewer.notes)


def _report_metrics(run_dir: Path) -> None:
    from benchmarks.metrics import write_metrics
    from benchmarks.report import print_comparison, summarise

    write_metrics(run_dir)
    print_comparison([summarise(run_dir)])
    err.print(f"metrics: {run_dir / 'metrics.json'}; plots: review-bench report {run_dir}")
