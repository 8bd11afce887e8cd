"""Training throughput of ``finetune train`` (TRL SFTTrainer + LoRA) on the tiny random model.

    python benchmarks/perf/finetune_throughput.py --data-dir ../shared/datasets --work /tmp/ft-perf \
        [--processes 1 2] [--limit 24 --max-tokens 2048 --epochs 2 --batch-size 4]

Builds the tiny model and ``--limit`` training examples (train split, blind text, the tiny
tokenizer) under ``--work`` unless they are there, then runs the real command once per entry
of ``--processes``: ``python -m review_bench finetune train`` for 1, ``accelerate launch
--config_file finetune/accelerate/ddp.yaml --num_processes N -m review_bench ...`` for more
(gloo on a machine without CUDA). No held-out slice, a checkpoint per epoch, LoRA r=16.
Prints one JSON line per run: non-padding tokens trained on (all processes), the trainer's
own runtime and tokens/s over it, and the wall time of the whole command (start-up,
imports and data preparation included).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from finetune.build_data import BuildDataOptions, build_examples
from finetune.tiny_model import build_tiny_model
from finetune.training_log import LOG_FILE

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def prepare(work: Path, data_dir: str, limit: int, max_tokens: int) -> tuple[Path, Path]:
    tiny, data = work / "tiny", work / "data"
    if not (tiny / "config.json").is_file():
        build_tiny_model(tiny)
    if not (data / "dataset_info.json").is_file():
        build_examples(BuildDataOptions(data_dir=data_dir, split="train", text="blind", max_tokens=max_tokens,
                                        tokenizer=str(tiny), limit=limit), data)
    return tiny, data


def run(processes: int, tiny: Path, data: Path, out: Path, args) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    train = ["-m", "review_bench", "finetune", "train", "--base", str(tiny), "--data", str(data), "--out", str(out),
             "--epochs", str(args.epochs), "--batch-size", str(args.batch_size), "--grad-accum", "1",
             "--max-length", str(args.max_tokens), "--eval-fraction", "0", "--warmup-steps", "0",
             "--no-gradient-checkpointing"]
    if processes == 1:
        command = [sys.executable, *train]
    else:
        command = [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
                   str(REPO / "finetune" / "accelerate" / "ddp.yaml"), "--num_processes", str(processes),
                   "--main_process_port", str(_free_port()), *train]
    start = time.perf_counter()
    subprocess.run(command, check=True, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    log = json.loads((out / LOG_FILE).read_text())
    session = log["session"]
    return {"processes": log["processes"], "backend": log["backend"], "device": log["device"],
            "examples": log["train_examples"], "epochs": args.epochs, "steps": len(log["steps"]),
            "tokens": session["tokens"], "trainer_s": session["seconds"], "tokens_per_s": session["tokens_per_s"],
            "wall_s": round(wall, 1), "first_loss": log["steps"][0]["loss"], "last_loss": log["steps"][-1]["loss"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--processes", type=int, nargs="+", default=[1])
    parser.add_argument("--limit", type=int, default=24)
    parser.add_argument("--max-tokens", type=int, default=2048)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=4)
    args = parser.parse_args()
    tiny, data = prepare(args.work, args.data_dir, args.limit, args.max_tokens)
    for processes in args.processes:
        print(json.dumps(run(processes, tiny, data, args.work / f"adapter-{processes}", args)), flush=True)


if __name__ == "__main__":
    main()
