"""Local Hugging Face causal LMs (``hf/<model dir>``), optionally with a LoRA adapter.

torch, transformers and peft are imported lazily: the rest of the project runs without
them. The model runs on CUDA when there is one (bf16 where the GPU supports it), else
on the CPU in fp32. Concurrent requests are gathered for a few milliseconds and
generated as one left-padded batch, in a worker thread, one batch at a time.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from reviewer.models.base import (
    ChatMessage,
    Completion,
    FatalError,
    GenerateConfig,
    MissingDependencyError,
    Provider,
    Usage,
)
from reviewer.models.pricing import LOCAL

#: Used when a tokenizer carries no chat template (base models). Fine-tuning
#: (finetune/train.py) needs a real chat template, which vLLM and this backend both render.
FALLBACK_ROLE_HEADERS = {"system": "### System:\n", "user": "### User:\n", "assistant": "### Assistant:\n"}
ADAPTER_WEIGHT_FILES = ("adapter_model.safetensors", "adapter_model.bin")
DEFAULT_CONTEXT_WINDOW = 4096


def import_hf() -> tuple[Any, Any]:
    """``(torch, transformers)``, or a MissingDependencyError naming the extra."""
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise MissingDependencyError("transformers", "hf") from exc
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    return torch, transformers


def device_and_dtype() -> tuple[str, Any]:
    """CUDA with bf16 where supported, CUDA fp32 on older GPUs, else CPU fp32."""
    torch, _ = import_hf()
    if torch.cuda.is_available():
        return "cuda", torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
    return "cpu", torch.float32


def render_chat(tokenizer, messages: list[dict], *, add_generation_prompt: bool = True) -> str:
    """The prompt text: the tokenizer's chat template, or ``### Role:`` blocks without one."""
    if tokenizer.chat_template:
        return tokenizer.apply_chat_template(
            messages, add_generation_prompt=add_generation_prompt, tokenize=False
        )
    parts = [tokenizer.bos_token or ""]
    parts += [f"{FALLBACK_ROLE_HEADERS[m['role']]}{m['content']}\n\n" for m in messages]
    if add_generation_prompt:
        parts.append(FALLBACK_ROLE_HEADERS["assistant"])
    return "".join(parts)


def encode_prompt(tokenizer, messages: list[dict]) -> list[int]:
    return tokenizer(render_chat(tokenizer, messages), add_special_tokens=False)["input_ids"]


def load_tokenizer(model_dir: Path):
    """The tokenizer of a local model folder, with a pad token (eos when it has none)."""
    _, transformers = import_hf()
    check_model_dir(model_dir)
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(model_dir))
    except (OSError, ValueError, TypeError) as exc:
        raise FatalError(f"{model_dir}: cannot load the tokenizer: {_first_line(exc)}") from exc
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_causal_lm(model_dir: Path, *, device: str, dtype, adapter: Path | None = None, trainable: bool = False):
    """The model on ``device``; with ``adapter``, a PeftModel around it."""
    _, transformers = import_hf()
    check_model_dir(model_dir)
    try:
        model = transformers.AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=dtype)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise FatalError(f"{model_dir}: cannot load the model: {_first_line(exc)}") from exc
    if adapter is not None:
        try:
            from peft import PeftModel
        except ImportError as exc:
            raise MissingDependencyError("peft", "hf") from exc
        check_adapter_dir(adapter)
        try:
            with quiet_peft():
                model = PeftModel.from_pretrained(model, str(adapter), is_trainable=trainable)
        except (OSError, ValueError, TypeError, KeyError, RuntimeError) as exc:
            raise FatalError(f"{adapter}: cannot load the LoRA adapter: {_first_line(exc)}") from exc
    return model.to(device)


@contextmanager
def quiet_peft():
    """peft calls a transformers API deprecated in v5; its warning is noise to users."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        yield


def check_model_dir(model_dir: Path) -> None:
    if not model_dir.is_dir():
        raise FatalError(f"{model_dir}: no such model folder")
    if not (model_dir / "config.json").is_file():
        raise FatalError(f"{model_dir}: not a Hugging Face model folder (no config.json)")


def check_adapter_dir(adapter: Path) -> None:
    if not (adapter / "adapter_config.json").is_file():
        raise FatalError(f"{adapter}: not a LoRA adapter folder (no adapter_config.json)")


def adapter_weights_sha256(adapter: Path) -> str | None:
    for name in ADAPTER_WEIGHT_FILES:
        path = adapter / name
        if path.is_file():
            return hashlib.sha256(path.read_bytes()).hexdigest()
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


@dataclass
class _Request:
    prompt_ids: list[int]
    config: GenerateConfig
    future: asyncio.Future


@dataclass
class GeneratedText:
    texts: list[str]
    input_tokens: int
    output_tokens: int


BatchRunner = Callable[[list[list[int]], GenerateConfig], list[GeneratedText]]


@dataclass
class RequestBatcher:
    """Gathers requests that arrive within ``window_s`` and runs them as batches.

    One drain task at a time: requests that arrive while a batch is generating join the
    next one. Requests with different settings (temperature, max_tokens, n) never share
    a batch; ``run_batch`` is called in a worker thread.
    """

    run_batch: BatchRunner
    window_s: float = 0.005
    max_batch: int = 8
    _pending: list[_Request] = field(default_factory=list)
    _drainer: asyncio.Task | None = None

    async def submit(self, prompt_ids: list[int], config: GenerateConfig) -> GeneratedText:
        future = asyncio.get_running_loop().create_future()
        self._pending.append(_Request(prompt_ids, config, future))
        if self._drainer is None:
            self._drainer = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            await asyncio.sleep(self.window_s)
            while self._pending:
                taken, self._pending = self._pending, []
                for batch in self._batches(taken):
                    await self._run(batch)
        finally:
            self._drainer = None

    def _batches(self, requests: list[_Request]) -> list[list[_Request]]:
        by_config: dict[GenerateConfig, list[_Request]] = {}
        for request in requests:
            if not request.future.done():  # the caller gave up (timeout)
                by_config.setdefault(request.config, []).append(request)
        return [
            group[start : start + self.max_batch]
            for group in by_config.values()
            for start in range(0, len(group), self.max_batch)
        ]

    async def _run(self, batch: list[_Request]) -> None:
        try:
            results = await asyncio.to_thread(
                self.run_batch, [r.prompt_ids for r in batch], batch[0].config
            )
        except Exception as exc:  # every waiter gets the error, the drainer goes on
            for request in batch:
                if not request.future.done():
                    request.future.set_exception(exc)
            return
        for request, result in zip(batch, results):
            if not request.future.done():
                request.future.set_result(result)


class HFProvider(Provider):
    """``hf/<model dir>``: a local causal LM, optionally with a LoRA adapter."""

    supports_n = True
    pricing = LOCAL

    def __init__(self, model_dir: str | Path, *, adapter: str | Path | None = None,
                 batch_window_s: float = 0.005, max_batch: int = 8):
        self.model_dir = Path(model_dir).expanduser()
        self.adapter = Path(adapter).expanduser() if adapter else None
        self.name = f"hf/{model_dir}"
        self.tokenizer = load_tokenizer(self.model_dir)
        self.tokenizer.padding_side = "left"
        if self.adapter is not None:
            check_adapter_dir(self.adapter)
        _, transformers = import_hf()
        model_config = transformers.AutoConfig.from_pretrained(str(self.model_dir))
        self.context_window = getattr(model_config, "max_position_embeddings", None) or DEFAULT_CONTEXT_WINDOW
        self.device, self.dtype = device_and_dtype()
        self._model = None
        self._stop_ids: set[int] = set()
        # Guards the model across event loops and threads; the batcher serialises
        # batches within one loop.
        self._lock = threading.Lock()
        self._batcher = RequestBatcher(self._generate_batch, window_s=batch_window_s, max_batch=max_batch)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def cache_identity(self) -> dict:
        return {
            "name": self.name,
            "model_dir": str(self.model_dir.resolve()),
            "adapter": str(self.adapter.resolve()) if self.adapter else None,
            "adapter_sha256": adapter_weights_sha256(self.adapter) if self.adapter else None,
        }

    async def generate(self, messages: list[ChatMessage], config: GenerateConfig) -> Completion:
        prompt_ids = encode_prompt(self.tokenizer, [{"role": m.role, "content": m.content} for m in messages])
        if len(prompt_ids) >= self.context_window:
            raise FatalError(
                f"the prompt has {len(prompt_ids)} tokens; {self.name} accepts {self.context_window}"
            )
        result = await self._batcher.submit(prompt_ids, config)
        return Completion(
            texts=result.texts,
            usage=Usage(input_tokens=result.input_tokens, output_tokens=result.output_tokens),
            model=self.name,
            cost_usd=0.0,
        )

    def _loaded_model(self):
        if self._model is None:
            self._model = load_causal_lm(self.model_dir, device=self.device, dtype=self.dtype, adapter=self.adapter)
            self._model.eval()
            eos = self._model.generation_config.eos_token_id
            eos_ids = eos if isinstance(eos, list) else [eos]
            self._stop_ids = {i for i in [*eos_ids, self.tokenizer.eos_token_id] if i is not None}
        return self._model

    def _generate_batch(self, prompts: list[list[int]], config: GenerateConfig) -> list[GeneratedText]:
        torch, _ = import_hf()
        with self._lock:
            model = self._loaded_model()
            pad_id = self.tokenizer.pad_token_id
            width = max(len(p) for p in prompts)
            input_ids = torch.tensor([[pad_id] * (width - len(p)) + p for p in prompts], device=self.device)
            attention = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=self.device)
            sampling = config.temperature > 0
            # Greedy decoding gives one answer; it is repeated rather than recomputed.
            per_prompt = config.n if sampling else 1
            options = dict(
                max_new_tokens=max(1, min(config.max_tokens, self.context_window - width)),
                num_return_sequences=per_prompt,
                pad_token_id=pad_id,
                do_sample=sampling,
            )
            if sampling:
                options["temperature"] = config.temperature
            else:  # silence the model's default sampling settings
                options.update(temperature=None, top_p=None, top_k=None)
            try:
                with torch.inference_mode():
                    output = model.generate(input_ids=input_ids, attention_mask=attention, **options)
            except RuntimeError as exc:  # out of memory, a kernel missing on this device, ...
                raise FatalError(f"{self.name}: generation failed: {_first_line(exc)}") from exc
        rows = output[:, width:].tolist()
        return [
            self._decode(rows[i * per_prompt : (i + 1) * per_prompt], len(prompt), config.n)
            for i, prompt in enumerate(prompts)
        ]

    def _decode(self, rows: list[list[int]], prompt_tokens: int, n: int) -> GeneratedText:
        lengths = [next((i + 1 for i, t in enumerate(row) if t in self._stop_ids), len(row)) for row in rows]
        texts = [
            self.tokenizer.decode(row[:length], skip_special_tokens=True)
            for row, length in zip(rows, lengths)
        ]
        return GeneratedText(texts=(texts * n)[:n], input_tokens=prompt_tokens, output_tokens=sum(lengths))
