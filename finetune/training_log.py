"""``training_log.json`` and ``loss_curve.png`` of a LoRA run, kept by a TrainerCallback.

The log is rebuilt from the trainer's own ``state.log_history``, which its checkpoints
save and a resumed run restores, so a resumed run's log covers the steps of the run it
continues. Only the main process writes.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field
from transformers import TrainerCallback

from corpus.files import atomic_write

LOG_FILE = "training_log.json"
PLOT_FILE = "loss_curve.png"


class StepLog(BaseModel):
    step: int
    epoch: float
    loss: float
    learning_rate: float
    grad_norm: float | None = None
    #: Non-padding input tokens so far, over all processes.
    tokens_seen: int | None = None
    #: Mean since this session of training started (evaluation time included).
    tokens_per_s: float | None = None


class EvalLog(BaseModel):
    step: int
    epoch: float
    eval_loss: float


class SessionLog(BaseModel):
    """One call of train(): a fresh start or a resume."""

    first_step: int
    last_step: int
    seconds: float
    tokens: int
    tokens_per_s: float


class TrainingLog(BaseModel):
    config: dict
    device: str
    precision: str
    processes: int
    #: The process group's backend (gloo, nccl) when there are several processes.
    backend: str | None
    trainable_parameters: int
    total_parameters: int
    train_examples: int
    eval_examples: int
    skipped_too_long: int
    steps: list[StepLog] = Field(default_factory=list)
    evals: list[EvalLog] = Field(default_factory=list)
    session: SessionLog | None = None


class TrainingLogCallback(TrainerCallback):
    def __init__(self, out: Path, **facts):
        self.out = out
        self.facts = facts
        self.log: TrainingLog | None = None
        self._start_step = 0
        self._start_tokens = 0

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        trainable, total = model.get_nb_trainable_parameters()
        import torch.distributed as dist

        backend = dist.get_backend() if dist.is_available() and dist.is_initialized() else None
        self.facts.update(device=args.device.type, processes=args.world_size, backend=backend,
                          trainable_parameters=trainable, total_parameters=total)
        self._start_step, self._start_tokens = state.global_step, state.num_input_tokens_seen
        self._rebuild(state)

    def on_evaluate(self, args, state, control, **kwargs):
        self._rebuild(state, write=True)

    def on_train_end(self, args, state, control, **kwargs):
        self._rebuild(state, write=True)

    def _rebuild(self, state, *, write: bool = False) -> None:
        history = state.log_history
        steps = [StepLog(step=h["step"], epoch=h["epoch"], loss=h["loss"], learning_rate=h["learning_rate"],
                         grad_norm=h.get("grad_norm"), tokens_seen=h.get("num_input_tokens_seen"),
                         tokens_per_s=h.get("train_tokens_per_second")) for h in history if "loss" in h]
        evals = [EvalLog(step=h["step"], epoch=h["epoch"], eval_loss=h["eval_loss"]) for h in history
                 if "eval_loss" in h]
        final = next((h for h in reversed(history) if "train_runtime" in h and "train_loss" in h), None)
        session = None
        if final is not None:
            tokens = state.num_input_tokens_seen - self._start_tokens
            session = SessionLog(first_step=self._start_step + 1, last_step=state.global_step,
                                 seconds=final["train_runtime"], tokens=tokens,
                                 tokens_per_s=round(tokens / max(final["train_runtime"], 1e-9), 1))
        self.log = TrainingLog(**self.facts, steps=steps, evals=evals, session=session)
        if write and state.is_world_process_zero:
            self.out.mkdir(parents=True, exist_ok=True)
            atomic_write(self.out / LOG_FILE, self.log.model_dump_json(indent=2) + "\n")
            plot_losses(self.log, self.out / PLOT_FILE)


class ProgressHook(TrainerCallback):
    """Calls ``hook(step, max_steps, loss)`` after each logged optimizer step, on the main process."""

    def __init__(self, hook):
        self.hook = hook

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_world_process_zero and logs and "loss" in logs:
            self.hook(state.global_step, state.max_steps, logs["loss"])


def plot_losses(log: TrainingLog, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4))
    axes.plot([s.step for s in log.steps], [s.loss for s in log.steps], label="train loss (per optimizer step)")
    if log.evals:
        axes.plot([e.step for e in log.evals], [e.eval_loss for e in log.evals], "o-", label="held-out loss (end of epoch)")
    axes.set_xlabel("optimizer step")
    axes.set_ylabel("loss (answer tokens)")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
