"""``review-bench run``: review a benchmark's papers into a resumable run dir."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import multiprocessing
import shlex
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from benchmarks.records import AttackKind
from corpus.dataset import TextMode
from reviewer.cli_errors import EXIT_BUDGET, EXIT_QUOTA, fail, user_errors
from reviewer.cli_options import ReviewOptions, with_review_options
from reviewer.models.pricing import format_cost
from reviewer.plan import dry_run_options

RUNS_ROOT = Path("runs")
#: Steps that go on beside the main thread's work (see where it is used).
_BACKGROUND = ThreadPoolExecutor(max_workers=1, thread_name_prefix="run-background")
#: The record of a --batch run's batches in its run dir (``reviewer.models.batch.BatchJournal``).
BATCH_JOURNAL = "batches.jsonl"
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
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Send nothing: read the papers, build the prompts, print the requests and a cost "
        "ceiling per paper and in total.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="With --dry-run: print the estimate as JSON.")] = False,
    max_cost: Annotated[Optional[float], typer.Option(
        "--max-cost", min=0.0, help="Budget in USD for the whole run: no paper starts that could take spending "
        f"past it; the run stops with status 'budget' and exit code {EXIT_BUDGET}, and the same command with a "
        "larger budget resumes it.")] = None,
    batch: Annotated[bool, typer.Option(
        "--batch", help="Send every step of the pipeline as one batch for all papers through the provider's "
        "batch API (OpenAI, Anthropic): half price, answers within 24 h. Re-attaches to its batches on resume.")]
    = False,
    batch_poll: Annotated[float, typer.Option(
        "--batch-poll", min=0.01, help="Seconds between two looks at a running batch.")] = 30.0,
) -> None:
    """Review a benchmark's papers into a resumable run dir, and score them against the human decisions."""
    from benchmarks.store import RunStore, RunStoreError
    from corpus.dataset import DatasetError, open_dataset, paper_loader

    if benchmark and dataset:
        raise fail("give a benchmark name or --dataset, not both")
    if body_only and text != "blind":
        raise fail("--body-only needs --text blind")
    if as_json and not dry_run:
        raise fail("--json goes with --dry-run")
    if attack and (dry_run or max_cost is not None or batch):
        # The unattacked baseline is a second run that neither the ceiling nor the budget counts.
        raise fail("--attack does not go with --dry-run, --max-cost or --batch")
    config, data_dir = review.config, review.data_dir
    try:
        data = open_dataset(benchmark, dataset, split, data_dir)
        load = paper_loader(text, body_only=body_only, max_pages=config.max_pages)
        text_mode = data.text_mode(text) + ("-body-only" if body_only else "")
        papers, subset = _papers(data, text_mode, limit, length_matched, config.max_pages)
    except DatasetError as exc:
        raise fail(str(exc)) from None
    # Reading and hashing every paper of the split (the run's identity) waits on the disk and
    # hashes without the GIL: it goes on while the model's SDK is imported.
    fingerprint = None if dry_run else _BACKGROUND.submit(data.fingerprint)
    if dry_run:
        review = dry_run_options(review)
    reviewer = _build_reviewer(review, concurrency=concurrency, refresh_cache=retry_failed,
                               transcript=not no_transcript)
    if dry_run:
        _dry_run(reviewer, papers, load, batch=batch, as_json=as_json)
        return
    _check_cost_options(reviewer, max_cost=max_cost, batch=batch)
    manifest = _manifest(config, data, fingerprint.result(), text_mode=text_mode, n_papers=len(papers),
                         limit=limit, blinded=text == "blind", subset=subset, transcripts=not no_transcript)
    if attack:
        from benchmarks.attack import plan_attack

        manifest.attack = plan_attack(papers, attack, attack_share)
    try:
        store = RunStore.open(run_dir or _default_run_dir(manifest), manifest, allow_code_change=allow_code_change)
    except RunStoreError as exc:
        asyncio.run(reviewer.aclose())
        raise fail(str(exc)) from None
    done = store.done_ids(retry_failed=retry_failed)
    todo = [p for p in papers if p.paper_id not in done]
    # The prompts from the texts as served: blinding only shortens them, so this is a ceiling too,
    # and it costs no blinding before the first request.
    _announce_ceiling(reviewer, todo, paper_loader("raw", max_pages=config.max_pages), batch=batch)
    if attack:
        from benchmarks.attack import run_baseline

        load = run_baseline(store, papers, load, lambda: _build_reviewer(
            review, concurrency=concurrency, refresh_cache=retry_failed, transcript=not no_transcript),
            concurrency=concurrency, retry_failed=retry_failed, allow_code_change=allow_code_change, console=err)
    _run(store, papers, reviewer, load, concurrency=concurrency, retry_failed=retry_failed,
         resume_hint=None if run_dir else store.run_dir, budget=_budget(reviewer, max_cost, batch=batch),
         batcher=_batcher(reviewer, store.run_dir, poll=batch_poll) if batch else None)


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


def _manifest(config, data, fingerprint: str, *, text_mode: str, n_papers: int, limit: int | None,
              blinded: bool, subset=None, transcripts: bool = True):
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
            fingerprint=fingerprint,
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


def _run(store, papers, reviewer, load, *, concurrency: int, retry_failed: bool, resume_hint: Path | None,
         budget=None, batcher=None) -> None:
    from benchmarks.runner import run_papers

    err.print(f"run dir: {store.run_dir}")
    _prepare_scoring(store.manifest)
    command = shlex.join(["review-bench", *sys.argv[1:]])
    if resume_hint is not None:
        command += f" --run-dir {shlex.quote(str(resume_hint))}"
    # What start-up made (modules, classes) lives until the end: the collector need not walk it
    # again during the run, nor at exit.
    gc.freeze()
    try:
        summary = asyncio.run(run_papers(papers, reviewer, store, load, concurrency=concurrency,
                                         retry_failed=retry_failed, console=err, budget=budget, batcher=batcher))
    except KeyboardInterrupt:
        _record_notes(store, reviewer)
        store.finish("interrupted")
        err.print(f"interrupted: finished papers are kept in {store.run_dir}; resume with:\n  {command}")
        raise typer.Exit(130) from None
    _record_notes(store, reviewer)
    done = summary.skipped + summary.reviewed
    cost = format_cost(summary.cost_usd)
    if summary.stopped is not None:
        store.finish(summary.stopped)
        what = ("stopped at the budget" if summary.stopped == "budget" else "stopped: the provider's quota is spent")
        again = ("the same command with a larger --max-cost resumes it" if summary.stopped == "budget" else
                 f"once the account is topped up, resume with: {command}")
        err.print(f"{what} ({summary.reason}); {done} of {summary.total} papers done, cost {cost}; {again}")
        raise typer.Exit(EXIT_BUDGET if summary.stopped == "budget" else EXIT_QUOTA)
    store.finish("complete")
    batches = ""
    if batcher is not None:
        batches = f"; {len(batcher.batches)} batches, {sum(b.requests for b in batcher.batches)} requests"
    err.print(
        f"{summary.total} papers: {summary.skipped} already done, {summary.reviewed} reviewed in "
        f"{summary.wall_s:.1f} s, {summary.failed} failed, cost {cost}{batches}"
    )
    _report_metrics(store.run_dir)
    gc.freeze()  # and the scoring modules imported during the run


def _prepare_scoring(manifest) -> None:
    """What the scoring at the end needs, done while the run waits on the model: importing numpy
    and scipy, and measuring the train split's texts for the length baseline (cached on disk)."""

    def prepare() -> None:
        import benchmarks.report  # noqa: F401 (with benchmarks.metrics)
        from benchmarks.lengths import dataset_folder, lengths_known
        from corpus.dataset import DatasetError, load_folder

        folder = dataset_folder(manifest)
        if folder is None or manifest.dataset.split == "train":
            return
        mode, max_pages = manifest.dataset.text_mode, manifest.config.get("max_pages")
        with contextlib.suppress(DatasetError, OSError):
            if lengths_known(load_folder(folder, "train"), mode, max_pages):
                return
        # Blinding the train split is seconds of CPU: in another process, so that it does not
        # take the interpreter from the event loop. Whatever fails there fails again, with its
        # message, in the scoring that needs it.
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool, contextlib.suppress(Exception):
            pool.submit(_measure_train_split, folder, mode, max_pages).result()

    _BACKGROUND.submit(prepare)


def _measure_train_split(folder: Path, text_mode: str, max_pages: int | None) -> None:
    """In a child process: the train split's text lengths, into their cache on disk."""
    import os

    from benchmarks.lengths import train_threshold

    sys.stderr = open(os.devnull, "w")  # noqa: SIM115 (its progress bar would cross the run's)
    train_threshold(folder, text_mode, max_pages)


def _llm(reviewer):
    """The LLM pipeline behind a reviewer, or None for the offline one (which costs nothing)."""
    from reviewer.pipeline import LLMReviewer

    return reviewer if isinstance(reviewer, LLMReviewer) else None


def _dry_run(reviewer, papers, load, *, batch: bool, as_json: bool) -> None:
    """Read every paper as the run would, build its prompt, and print the plan; send nothing."""
    from corpus.paper import PaperInputError
    from reviewer.plan import run_plan

    texts = []
    try:
        for item in papers:
            try:
                texts.append((item.paper_id, load(item).text))
            except PaperInputError as exc:
                err.print(f"warning: {exc} (left out of the estimate)")
        plan = run_plan(reviewer, texts, batch=batch)
    finally:
        asyncio.run(reviewer.aclose())
    typer.echo(plan.render(as_json=as_json))


def _check_cost_options(reviewer, *, max_cost: float | None, batch: bool) -> None:
    llm = _llm(reviewer)
    if batch and (llm is None or llm.model.provider.batch_api() is None):
        asyncio.run(reviewer.aclose())
        raise fail("--batch needs an openai/ or anthropic/ model (a provider with a batch API)")
    if max_cost is not None and llm is not None:
        from reviewer.models.base import Usage

        if llm.model.provider.cost_usd(Usage(1, 1)) is None:
            asyncio.run(reviewer.aclose())
            raise fail(f"--max-cost needs a price for {llm.model.name}, which has none known: --price sets one")


def _announce_ceiling(reviewer, todo, read, *, batch: bool) -> None:
    """Costs before they are spent: one line with the ceiling of what this session will review."""
    from corpus.paper import PaperInputError
    from reviewer.plan import run_plan

    llm = _llm(reviewer)
    if llm is None or not todo:
        return
    texts = []
    for item in todo:
        try:
            texts.append((item.paper_id, read(item).text))
        except PaperInputError:
            continue  # recorded as an input failure when its turn comes
    plan = run_plan(llm, texts, batch=batch)
    err.print(f"cost ceiling for the {len(texts)} papers to review: {format_cost(plan.cost_usd)} "
              f"({plan.requests} requests{', batch prices' if batch else ''}; --dry-run for the details)")


def _budget(reviewer, max_cost: float | None, *, batch: bool):
    from benchmarks.runner import Budget
    from reviewer.plan import plan_review

    llm = _llm(reviewer)
    if max_cost is None:
        return None
    if llm is None:  # the offline reviewer costs nothing
        return Budget(max_cost, ceiling=lambda paper: 0.0)
    return Budget(max_cost, ceiling=lambda paper: plan_review(llm, paper.paper_id, paper.text, batch=batch).cost_usd)


def _batcher(reviewer, run_dir: Path, *, poll: float):
    """Route the model's calls through its provider's batch API, journaled in the run dir."""
    from reviewer.models.batch import Batcher, BatchJournal

    model = _llm(reviewer).model
    model.batcher = Batcher(model.provider.batch_api(), BatchJournal(run_dir / BATCH_JOURNAL), poll_interval=poll)
    return model.batcher


def _record_notes(store, reviewer) -> None:
    """The model's notes in the manifest: who priced the calls, parameters not applied or dropped."""
    store.add_notes(reviewer.notes)


def _report_metrics(run_dir: Path) -> None:
    from benchmarks.metrics import write_metrics
    from benchmarks.report import print_comparison, summarise

    write_metrics(run_dir)
    print_comparison([summarise(run_dir)])
    err.print(f"metrics: {run_dir / 'metrics.json'}; plots: review-bench report {run_dir}")
