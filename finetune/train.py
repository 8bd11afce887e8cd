"""LoRA fine-tuning in a plain PyTorch loop: loss on the answer tokens only.

Each epoch ends with an eval loss on a held-out slice of the training data and a
checkpoint (adapter + optimizer state) under ``<out>/checkpoints/epoch-<k>``;
``resume=True`` continues from the latest one. The final adapter is written to ``out``
with ``training_log.json`` and ``loss_curve.png``.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from pydantic import BaseModel, Field

from finetune.build_data import read_examples
from reviewer.models.hf_provider import (
    device_and_dtype,
    import_hf,
    load_causal_lm,
    load_tokenizer,
    quiet_peft,
    render_chat,
)

IGNORE_INDEX = -100
LOG_FILE = "training_log.json"
PLOT_FILE = "loss_curve.png"
STATE_FILE = "trainer_state.pt"
DEFAULT_TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


class TrainError(Exception):
    """Training that cannot start. The message is one line."""


class TrainConfig(BaseModel):
    base: str
    data: str
    out: str
    rank: int = Field(default=16, ge=1)
    alpha: float = Field(default=32.0, gt=0)
    dropout: float = Field(default=0.05, ge=0, lt=1)
    target_modules: list[str] = Field(default_factory=lambda: list(DEFAULT_TARGET_MODULES))
    learning_rate: float = Field(default=1e-4, gt=0)
    epochs: int = Field(default=2, ge=1)
    max_length: int = Field(default=16_384, ge=16)
    batch_size: int = Field(default=1, ge=1)
    grad_accum: int = Field(default=8, ge=1)
    warmup_steps: int = Field(default=10, ge=0)
    eval_fraction: float = Field(default=0.05, ge=0, lt=1)
    gradient_checkpointing: bool = False
    seed: int = 0


class StepLog(BaseModel):
    step: int
    epoch: int
    loss: float
    learning_rate: float
    tokens: int
    tokens_per_s: float


class EpochLog(BaseModel):
    epoch: int
    train_loss: float
    eval_loss: float | None
    seconds: float
    tokens_per_s: float


class TrainingLog(BaseModel):
    config: TrainConfig
    device: str
    dtype: str
    trainable_parameters: int
    total_parameters: int
    train_examples: int
    eval_examples: int
    skipped_too_long: int
    steps: list[StepLog] = Field(default_factory=list)
    epochs: list[EpochLog] = Field(default_factory=list)


@dataclass
class Tokenized:
    input_ids: list[int]
    labels: list[int]


def tokenize_example(tokenizer, messages: list[dict]) -> Tokenized:
    """Prompt tokens (masked with -100) then the answer and eos, which carry the loss."""
    prompt = render_chat(tokenizer, messages[:-1], add_generation_prompt=True)
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(messages[-1]["content"] + tokenizer.eos_token, add_special_tokens=False)["input_ids"]
    return Tokenized(prompt_ids + answer_ids, [IGNORE_INDEX] * len(prompt_ids) + answer_ids)


def split_examples(examples: list[Tokenized], fraction: float, seed: int) -> tuple[list[Tokenized], list[Tokenized]]:
    """(train, held out): a fixed shuffled slice, at least one example when asked for."""
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    held = min(len(examples) - 1, max(1, round(len(examples) * fraction))) if fraction > 0 else 0
    return [examples[i] for i in order[held:]], [examples[i] for i in order[:held]]


def collate(batch: list[Tokenized], pad_id: int, torch):
    """Right-padded tensors; padding is masked from attention and loss."""
    width = max(len(t.input_ids) for t in batch)
    ids = [t.input_ids + [pad_id] * (width - len(t.input_ids)) for t in batch]
    labels = [t.labels + [IGNORE_INDEX] * (width - len(t.labels)) for t in batch]
    mask = [[1] * len(t.input_ids) + [0] * (width - len(t.input_ids)) for t in batch]
    return torch.tensor(ids), torch.tensor(labels), torch.tensor(mask)


def answer_loss(model, ids, labels, mask, torch):
    """Mean cross-entropy over the answer tokens. Logits are computed only from the first
    answer position on: at 16k tokens the full vocabulary logits would take more GPU
    memory (tens of GB in fp32) than the rest of the step."""
    width = ids.shape[1]
    answer_positions = (labels != IGNORE_INDEX).any(dim=0).nonzero()
    keep = width - int(answer_positions[0]) + 1 if len(answer_positions) else 1
    keep = min(keep, width)
    logits = model(input_ids=ids, attention_mask=mask, logits_to_keep=keep).logits
    # The logit at position t predicts the token at t + 1.
    targets = labels[:, width - keep + 1 :]
    return torch.nn.functional.cross_entropy(
        logits[:, :-1].float().reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=IGNORE_INDEX
    )


def batches(examples: list[Tokenized], size: int) -> list[list[Tokenized]]:
    return [examples[i : i + size] for i in range(0, len(examples), size)]


ProgressHook = Callable[[StepLog | None, int, int], None]


def train(config: TrainConfig, *, resume: bool = False, on_step: ProgressHook = lambda log, done, total: None) -> TrainingLog:
    torch, _ = import_hf()
    from peft import LoraConfig, get_peft_model

    out = Path(config.out)
    device, dtype = device_and_dtype()
    torch.manual_seed(config.seed)
    tokenizer = load_tokenizer(Path(config.base))
    tokenized = [tokenize_example(tokenizer, e["messages"]) for e in read_examples(Path(config.data))]
    fitting = [t for t in tokenized if len(t.input_ids) <= config.max_length]
    if not fitting:
        raise TrainError(f"no example fits --max-length {config.max_length} (rebuild the data with a smaller --max-tokens)")
    train_set, eval_set = split_examples(fitting, config.eval_fraction, config.seed)

    checkpoint = latest_checkpoint(out) if resume else None
    if checkpoint is not None:
        model = load_causal_lm(Path(config.base), device=device, dtype=dtype, adapter=checkpoint, trainable=True)
    else:
        lora = LoraConfig(r=config.rank, lora_alpha=config.alpha, lora_dropout=config.dropout,
                          target_modules=config.target_modules, task_type="CAUSAL_LM")
        try:
            with quiet_peft():
                model = get_peft_model(load_causal_lm(Path(config.base), device=device, dtype=dtype), lora)
        except ValueError as exc:  # e.g. a target module the model does not have
            raise TrainError(f"cannot apply LoRA to {config.base}: {str(exc).splitlines()[0]}") from None
    if config.gradient_checkpointing:
        if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5
            model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    model.config.use_cache = False

    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config.learning_rate, weight_decay=0.0)
    total_steps = config.epochs * max(1, -(-len(batches(train_set, config.batch_size)) // config.grad_accum))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _warmup_then_linear(config.warmup_steps, total_steps))
    log = TrainingLog(
        config=config, device=device, dtype=str(dtype).removeprefix("torch."),
        trainable_parameters=sum(p.numel() for p in trainable),
        total_parameters=sum(p.numel() for p in model.parameters()),
        train_examples=len(train_set), eval_examples=len(eval_set),
        skipped_too_long=len(tokenized) - len(fitting),
    )
    first_epoch = 1
    if checkpoint is not None:
        state = torch.load(checkpoint / STATE_FILE, weights_only=False)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        log = TrainingLog.model_validate(state["log"]).model_copy(update={"config": config})
        first_epoch = state["epoch"] + 1

    loop = _Loop(model, optimizer, scheduler, config, device, tokenizer.pad_token_id, torch)
    for epoch in range(first_epoch, config.epochs + 1):
        rng = random.Random(config.seed * 1000 + epoch)
        shuffled = rng.sample(train_set, len(train_set))
        started, tokens_before = time.perf_counter(), loop.tokens_seen
        train_loss = loop.run_epoch(epoch, batches(shuffled, config.batch_size), log, on_step)
        eval_loss = loop.evaluate(batches(eval_set, config.batch_size)) if eval_set else None
        seconds = time.perf_counter() - started
        log.epochs.append(EpochLog(epoch=epoch, train_loss=train_loss, eval_loss=eval_loss, seconds=round(seconds, 2),
                                   tokens_per_s=round((loop.tokens_seen - tokens_before) / seconds, 1)))
        save_checkpoint(out / "checkpoints" / f"epoch-{epoch}", model, optimizer, scheduler, epoch, log, torch)

    model.save_pretrained(str(out))
    (out / LOG_FILE).write_text(log.model_dump_json(indent=2) + "\n", encoding="utf-8")
    plot_losses(log, out / PLOT_FILE)
    return log


class _Loop:
    def __init__(self, model, optimizer, scheduler, config: TrainConfig, device: str, pad_id: int, torch):
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.config, self.device, self.pad_id, self.torch = config, device, pad_id, torch
        self.tokens_seen = 0

    def _loss(self, batch: list[Tokenized]):
        ids, labels, mask = (t.to(self.device) for t in collate(batch, self.pad_id, self.torch))
        self.tokens_seen += int(mask.sum())
        return answer_loss(self.model, ids, labels, mask, self.torch)

    def run_epoch(self, epoch: int, epoch_batches: list[list[Tokenized]], log: TrainingLog, on_step: ProgressHook) -> float:
        self.model.train()
        accum = self.config.grad_accum
        losses, window = [], []
        window_start, window_tokens = time.perf_counter(), self.tokens_seen
        for index, batch in enumerate(epoch_batches, start=1):
            loss = self._loss(batch)
            (loss / accum).backward()
            window.append(float(loss.detach()))
            if index % accum == 0 or index == len(epoch_batches):
                self.torch.nn.utils.clip_grad_norm_([p for p in self.model.parameters() if p.requires_grad], 1.0)
                self.optimizer.step()
                self.scheduler.step()
                self.optimizer.zero_grad(set_to_none=True)
                seconds = time.perf_counter() - window_start
                step = StepLog(
                    step=len(log.steps) + 1, epoch=epoch, loss=round(sum(window) / len(window), 5),
                    learning_rate=self.scheduler.get_last_lr()[0], tokens=self.tokens_seen - window_tokens,
                    tokens_per_s=round((self.tokens_seen - window_tokens) / max(seconds, 1e-9), 1),
                )
                log.steps.append(step)
                losses += window
                window, window_start, window_tokens = [], time.perf_counter(), self.tokens_seen
                on_step(step, index, len(epoch_batches))
        return round(sum(losses) / len(losses), 5)

    def evaluate(self, eval_batches: list[list[Tokenized]]) -> float:
        self.model.eval()
        with self.torch.no_grad():
            losses = [float(self._loss(batch)) for batch in eval_batches]
        return round(sum(losses) / len(losses), 5)


def _warmup_then_linear(warmup: int, total: int) -> Callable[[int], float]:
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        return max(0.0, (total - step) / max(1, total - warmup))
    return factor


def save_checkpoint(folder: Path, model, optimizer, scheduler, epoch: int, log: TrainingLog, torch) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(folder))
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "epoch": epoch,
                "log": log.model_dump(mode="json")}, folder / STATE_FILE)


def latest_checkpoint(out: Path) -> Path | None:
    found = [p for p in (out / "checkpoints").glob("epoch-*") if (p / STATE_FILE).is_file()]
    return max(found, key=lambda p: int(p.name.removeprefix("epoch-")), default=None)


def plot_losses(log: TrainingLog, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4))
    axes.plot([s.step for s in log.steps], [s.loss for s in log.steps], label="train loss (per optimizer step)")
    steps_at_epoch_end = [max(s.step for s in log.steps if s.epoch == e.epoch) for e in log.epochs]
    evals = [(x, e.eval_loss) for x, e in zip(steps_at_epoch_end, log.epochs) if e.eval_loss is not None]
    if evals:
        axes.plot(*zip(*evals), "o-", label="held-out loss (end of epoch)")
    axes.set_xlabel("optimizer step")
    axes.set_ylabel("loss (answer tokens)")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
