"""LoRA fine-tuning on TRL's ``SFTTrainer``: the loss on the review (the completion) only.

This module only chooses settings; the trainer does the work. One process on a CPU or a
GPU by default; under ``accelerate launch`` the same command runs data-parallel (DDP),
sharded (FSDP) or under DeepSpeed ZeRO, as the accelerate config says (see
``finetune/accelerate/``). Checkpoints are the trainer's own (adapter, optimizer,
scheduler, RNG states and the step reached), under ``<out>/checkpoints``; ``resume=True``
continues from the latest. The final adapter goes to ``out`` with ``training_log.json``
and ``loss_curve.png`` (written by :class:`finetune.training_log.TrainingLogCallback`).
"""

from __future__ import annotations

import random
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from finetune.build_data import load_training_data
from reviewer.models.base import MissingDependencyError
from reviewer.models.hf_provider import check_model_dir, import_hf, load_tokenizer, render_chat

if TYPE_CHECKING:
    from finetune.training_log import TrainingLog

CHECKPOINTS_DIR = "checkpoints"
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
    gradient_checkpointing: bool = True
    packing: bool = False
    #: A checkpoint every this many optimizer steps; None: at the end of each epoch.
    save_steps: int | None = Field(default=None, ge=1)
    seed: int = 0


def import_trl():
    try:
        import peft
        import trl
    except ImportError as exc:
        raise MissingDependencyError(exc.name or "trl", "finetune") from exc
    return trl, peft


def precision() -> str:
    """bf16 on a GPU that has it, else fp32 (CPUs, older GPUs)."""
    torch, _ = import_hf()
    return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "fp32"


def sft_config(config: TrainConfig, *, has_eval: bool):
    """TRL's settings for this run: the answer-only loss and the checkpointing policy."""
    trl, _ = import_trl()
    torch, _ = import_hf()
    cuda = torch.cuda.is_available()
    bf16 = precision() == "bf16"
    if config.save_steps is None:
        saving = {"save_strategy": "epoch"}
    else:
        saving = {"save_strategy": "steps", "save_steps": config.save_steps}
    return trl.SFTConfig(
        output_dir=str(Path(config.out) / CHECKPOINTS_DIR),
        completion_only_loss=True,
        max_length=config.max_length,
        packing=config.packing,
        num_train_epochs=config.epochs,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        learning_rate=config.learning_rate,
        lr_scheduler_type="linear",
        warmup_steps=config.warmup_steps,
        max_grad_norm=1.0,
        gradient_checkpointing=config.gradient_checkpointing,
        gradient_checkpointing_kwargs={"use_reentrant": False},
        bf16=bf16,
        model_init_kwargs={"dtype": "bfloat16" if bf16 else "float32"},
        eval_strategy="epoch" if has_eval else "no",
        **saving,
        logging_steps=1,
        include_num_input_tokens_seen="non_padding",
        seed=config.seed,
        report_to="none",
        disable_tqdm=True,
        dataloader_pin_memory=cuda,
        use_cpu=not cuda,  # also makes several processes without CUDA train on the CPU over gloo
        # LoRA trains every adapter matrix on every step; no search for unused parameters.
        ddp_find_unused_parameters=False,
    )


def lora_config(config: TrainConfig):
    _, peft = import_trl()
    return peft.LoraConfig(r=config.rank, lora_alpha=config.alpha, lora_dropout=config.dropout,
                           target_modules=config.target_modules, task_type="CAUSAL_LM")


def split_fitting(dataset, tokenizer, config: TrainConfig):
    """(train, held out or None, number skipped): examples longer than ``max_length`` are
    left out (truncating would cut the review, which is the answer); the held-out slice
    is a fixed shuffle of the rest, at least one example when asked for."""
    lengths = [len(tokenizer(render_chat(tokenizer, row["prompt"] + row["completion"], add_generation_prompt=False),
                             add_special_tokens=False)["input_ids"]) for row in dataset]
    fitting = [i for i, n in enumerate(lengths) if n <= config.max_length]
    if not fitting:
        raise TrainError(f"no example fits --max-length {config.max_length} (rebuild the data with a smaller --max-tokens)")
    order = random.Random(config.seed).sample(fitting, len(fitting))
    held = min(len(order) - 1, max(1, round(len(order) * config.eval_fraction))) if config.eval_fraction > 0 else 0
    train_set = dataset.select(order[held:])
    eval_set = dataset.select(order[:held]) if held else None
    return train_set, eval_set, len(lengths) - len(fitting)


def latest_checkpoint(out: Path) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    folder = out / CHECKPOINTS_DIR
    return get_last_checkpoint(str(folder)) if folder.is_dir() else None


def build_trainer(config: TrainConfig, *, callbacks=()):
    """The SFTTrainer for ``config`` (its model, data and callbacks), and the log callback."""
    trl, _ = import_trl()
    from transformers import PrinterCallback

    from finetune.training_log import TrainingLogCallback

    base = Path(config.base)
    check_model_dir(base)
    tokenizer = load_tokenizer(base)
    if not tokenizer.chat_template:
        raise TrainError(f"{base}: the tokenizer has no chat template; fine-tune an instruct or chat model")
    train_set, eval_set, skipped = split_fitting(load_training_data(Path(config.data)), tokenizer, config)
    log_callback = TrainingLogCallback(
        Path(config.out), config=config.model_dump(), precision=precision(),
        train_examples=len(train_set), eval_examples=len(eval_set) if eval_set is not None else 0,
        skipped_too_long=skipped,
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # peft on a transformers v5 deprecation
            trainer = trl.SFTTrainer(
                model=str(base), args=sft_config(config, has_eval=eval_set is not None), train_dataset=train_set,
                eval_dataset=eval_set, processing_class=tokenizer, peft_config=lora_config(config),
                callbacks=[log_callback, *callbacks],
            )
    except ValueError as exc:  # e.g. a target module the model does not have
        raise TrainError(f"cannot set up LoRA training on {base}: {str(exc).splitlines()[0]}") from None
    trainer.remove_callback(PrinterCallback)  # the CLI shows progress; the log file keeps every step
    return trainer, log_callback


def train(config: TrainConfig, *, resume: bool = False, callbacks=()) -> TrainingLog:
    """Train, save the adapter to ``config.out`` and return the log (complete on the
    main process; every process returns)."""
    out = Path(config.out)
    checkpoint = latest_checkpoint(out) if resume else None
    if resume and checkpoint is None:
        raise TrainError(f"--resume: no checkpoint under {out / CHECKPOINTS_DIR}")
    trainer, log_callback = build_trainer(config, callbacks=callbacks)
    trainer.train(resume_from_checkpoint=checkpoint)
    if trainer.is_fsdp_enabled:  # sharded checkpoints, but one whole adapter at the end
        trainer.accelerator.state.fsdp_plugin.set_state_dict_type("FULL_STATE_DICT")
    trainer.save_model(str(out))  # the adapter (and tokenizer), written by the main process
    return log_callback.log


def process_rank() -> int:
    """This process's rank under a launcher (accelerate/torchrun, or MPI); 0 when alone.
    Read from the environment, so it is known before the trainer sets up the process group."""
    from accelerate.utils import get_int_from_env

    return get_int_from_env(["RANK", "PMI_RANK", "OMPI_COMM_WORLD_RANK", "MV2_COMM_WORLD_RANK"], 0)
