"""``review-bench finetune ...``: build training data, train a LoRA adapter, make a tiny model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from finetune.train import DEFAULT_TARGET_MODULES  # no torch import: train.py loads it lazily
from reviewer.cli_errors import fail, user_errors

finetune_app = typer.Typer(no_args_is_help=True, help="LoRA fine-tuning of an open model into a reviewer.")


def _errors() -> tuple[type[Exception], ...]:
    from benchmarks.store import RunStoreError
    from corpus.dataset import DatasetError
    from finetune.build_data import BuildDataError
    from finetune.train import TrainError

    return (*user_errors(), DatasetError, RunStoreError, BuildDataError, TrainError)


@finetune_app.command("build-data")
def build_data_command(
    out: Annotated[Path, typer.Option("--out", help="Folder for the dataset and data_card.json.")],
    data_dir: Annotated[Optional[Path], typer.Option("--data-dir", help="Data root (env REVIEW_BENCH_DATA).")] = None,
    benchmark: Annotated[str, typer.Option("--benchmark", help="Benchmark folder under the data root.")] = "iclr2022",
    split: Annotated[str, typer.Option("--split", help="Ratings split to learn from; eval is refused.")] = "train",
    text: Annotated[str, typer.Option("--text", help="blind (leakage removed) or raw.")] = "blind",
    max_tokens: Annotated[int, typer.Option(
        "--max-tokens", min=512, help="Tokens per example, prompt and answer.")] = 16_000,
    tokenizer: Annotated[Optional[Path], typer.Option(
        "--tokenizer", help="Count tokens with this model's tokenizer (default: estimate).")] = None,
    teacher: Annotated[Optional[Path], typer.Option(
        "--teacher", help="Distil the reviews of this benchmark run (train split only).")] = None,
    reviews: Annotated[Optional[Path], typer.Option(
        "--reviews", help="PeerRead-style <paper_id>.json human reviews (default: <benchmark>/reviews).")] = None,
    system_prompt: Annotated[str, typer.Option("--system-prompt", help="critical, neutral or lenient.")] = "critical",
    limit: Annotated[Optional[int], typer.Option(
        "--limit", min=1, help="Only the first N papers (fixed order).")] = None,
) -> None:
    """Chat-format examples: the reviewer's prompt -> a review from human data (or a teacher run)."""
    from pydantic import ValidationError
    from rich.progress import Progress

    from finetune.build_data import BuildDataOptions, build_examples

    if text not in ("blind", "raw"):
        raise fail("--text must be blind or raw")
    try:
        options = BuildDataOptions(
            benchmark=benchmark, data_dir=str(data_dir) if data_dir else None, split=split, text=text,
            max_tokens=max_tokens, tokenizer=str(tokenizer) if tokenizer else None,
            teacher=str(teacher) if teacher else None, reviews=str(reviews) if reviews else None,
            system_prompt=system_prompt, limit=limit,
        )
    except ValidationError as exc:
        raise fail(exc.errors()[0]["msg"]) from None
    try:
        with Progress(transient=True) as progress:
            task = progress.add_task("building examples", total=None)
            card = build_examples(
                options, out, progress=lambda done, total: progress.update(task, completed=done, total=total)
            )
    except _errors() as exc:
        raise fail(str(exc)) from None
    stats = card.example_tokens
    typer.echo(
        f"{card.n_examples} examples ({card.accept} accept, {card.reject} reject, {card.truncated} truncated) "
        f"-> {out}; tokens per example ({card.token_counter}): median {stats.median:.0f}, max {stats.max}, "
        f"total {stats.total}; skipped {card.skipped or 'none'}"
    )


@finetune_app.command("train")
def train_command(
    base: Annotated[Path, typer.Option("--base", help="Base model folder (Hugging Face format, with a chat template).")],
    data: Annotated[Path, typer.Option("--data", help="Folder from 'finetune build-data'.")],
    out: Annotated[Path, typer.Option("--out", help="Adapter folder to write (checkpoints under <out>/checkpoints).")],
    rank: Annotated[int, typer.Option("--rank", min=1, help="LoRA rank r.")] = 16,
    alpha: Annotated[float, typer.Option("--alpha", help="LoRA alpha.")] = 32.0,
    dropout: Annotated[float, typer.Option("--dropout", min=0.0, max=0.9)] = 0.05,
    target_modules: Annotated[str, typer.Option(
        "--target-modules", help="Comma-separated module names.")] = ",".join(DEFAULT_TARGET_MODULES),
    learning_rate: Annotated[float, typer.Option("--lr", help="Peak learning rate.")] = 1e-4,
    epochs: Annotated[int, typer.Option("--epochs", min=1)] = 2,
    max_length: Annotated[int, typer.Option(
        "--max-length", min=16, help="Longer examples are skipped (never truncated: the review is at the end).")] = 16_384,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Examples per device per micro-batch.")] = 1,
    grad_accum: Annotated[int, typer.Option("--grad-accum", min=1, help="Micro-batches per optimizer step.")] = 8,
    warmup_steps: Annotated[int, typer.Option("--warmup-steps", min=0)] = 10,
    eval_fraction: Annotated[float, typer.Option(
        "--eval-fraction", min=0.0, max=0.5, help="Held-out share of the train data (loss after each epoch).")] = 0.05,
    gradient_checkpointing: Annotated[bool, typer.Option(
        "--gradient-checkpointing/--no-gradient-checkpointing", help="Trade compute for activation memory.")] = True,
    packing: Annotated[bool, typer.Option(
        "--packing", help="Pack several examples into each --max-length row (padding-free).")] = False,
    save_steps: Annotated[Optional[int], typer.Option(
        "--save-steps", min=1, help="Checkpoint every N optimizer steps (default: each epoch).")] = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Continue from the latest checkpoint in <out>/checkpoints.")] = False,
) -> None:
    """LoRA fine-tuning (TRL SFTTrainer) with the loss on the review tokens only.

    One process by default; for several, launch the same command with accelerate:
    accelerate launch --config_file finetune/accelerate/ddp.yaml -m review_bench finetune train ...
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from finetune.train import TrainConfig, process_rank, train

    config = TrainConfig(
        base=str(base), data=str(data), out=str(out), rank=rank, alpha=alpha, dropout=dropout,
        target_modules=[m.strip() for m in target_modules.split(",") if m.strip()], learning_rate=learning_rate,
        epochs=epochs, max_length=max_length, batch_size=batch_size, grad_accum=grad_accum,
        warmup_steps=warmup_steps, eval_fraction=eval_fraction, gradient_checkpointing=gradient_checkpointing,
        packing=packing, save_steps=save_steps, seed=seed,
    )
    columns = (TextColumn("step"), BarColumn(), MofNCompleteColumn(), TextColumn("loss {task.fields[loss]}"),
               TimeRemainingColumn())
    main = process_rank() == 0
    try:
        with Progress(*columns, disable=not main) as progress:
            task = progress.add_task("train", total=None, loss="-")

            def on_step(step: int, total: int, loss: float) -> None:
                progress.update(task, completed=step, total=total, loss=f"{loss:.3f}")

            from finetune.training_log import ProgressHook

            log = train(config, resume=resume, callbacks=[ProgressHook(on_step)])
    except _errors() as exc:
        raise fail(str(exc)) from None
    if not main:
        return
    for evaluation in log.evals:
        typer.echo(f"epoch {evaluation.epoch:g} (step {evaluation.step}): held-out loss {evaluation.eval_loss:.4f}")
    if log.session:
        typer.echo(f"steps {log.session.first_step}-{log.session.last_step} in {log.session.seconds:.0f} s, "
                   f"{log.session.tokens_per_s:.0f} tok/s ({log.device} x{log.processes}, {log.precision})")
    typer.echo(f"adapter, training_log.json and loss_curve.png -> {out}")


@finetune_app.command("tiny-model")
def tiny_model_command(
    out: Annotated[Path, typer.Option("--out", help="Folder for the model and tokenizer.")],
) -> None:
    """A tiny random model (no download) to smoke-test build-data, train and run."""
    from finetune.tiny_model import build_tiny_model

    try:
        build_tiny_model(out)
    except _errors() as exc:
        raise fail(str(exc)) from None
    typer.echo(f"tiny model -> {out} (use it as --base {out} or --model hf/{out})")


def register(app: typer.Typer) -> None:
    app.add_typer(finetune_app, name="finetune")
