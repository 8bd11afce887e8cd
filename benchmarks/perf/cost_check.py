"""The dry run's ceiling against what a run costs, and a batch run against the same run made
live, on the loopback fake servers of the tests (usage counted as characters / 4).

    python benchmarks/perf/cost_check.py --data-dir ../shared/datasets --papers 20

Runs ``review-bench run`` on the first N papers of ICLR 2022 (eval) with the original
configuration (gpt-4o-2024-05-13, 1 few-shot example, an ensemble of 5, 5 reflection rounds):
``--dry-run --json``, then the run live, then the run with ``--batch``. The fake answers are
short (about 700 characters); ``--answer-chars 2500`` lengthens them to the size of real ones
(a GPT-4o review with its thought runs about 3,000-4,000 characters).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODEL = "openai/gpt-4o-2024-05-13"


def review_bench(*args: str, env: dict) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "review_bench", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True)
    if done.returncode != 0:
        sys.exit(f"review-bench {' '.join(args[:3])} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done


def recorded_cost(run_dir: Path) -> tuple[float, int]:
    records = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]
    return sum(r["cost_usd"] for r in records), sum(r["calls"] for r in records)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, help="Default: $REVIEW_BENCH_DATA, else ../shared/datasets.",
                        default=os.environ.get("REVIEW_BENCH_DATA") or ROOT.parent / "shared" / "datasets")
    parser.add_argument("--papers", type=int, default=20)
    parser.add_argument("--answer-chars", type=int, default=0,
                        help="Lengthen every answer by about this many characters.")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "tests"))
    from fakes.batch_server import FakeBatchServer
    from fakes.llm_server import FakeLLMServer
    from fakes.reviews import distinct_reviewer

    responder = distinct_reviewer(padding=args.answer_chars)
    config = ["iclr2022", "--data-dir", str(args.data_dir), "--model", MODEL, "--fewshot", "1", "--ensemble", "5",
              "--reflections", "5", "--limit", str(args.papers), "--concurrency", "16"]
    with tempfile.TemporaryDirectory() as scratch, FakeLLMServer(responder) as live, \
            FakeBatchServer(responder) as batches:
        env = {key: value for key, value in os.environ.items() if not key.startswith(("OPENAI_", "REVIEW_BENCH_"))}
        env.update(PYTHONPATH=str(ROOT), REVIEW_BENCH_CACHE_DIR=str(Path(scratch) / "cache"))
        live_args = [*config, "--base-url", live.openai_base_url, "--no-cache"]
        estimate = json.loads(review_bench("run", *live_args, "--dry-run", "--json", env=env).stdout)
        assert not live.requests, "the dry run sent a request"
        review_bench("run", *live_args, "--run-dir", str(Path(scratch) / "live"), env=env)
        live_cost, live_calls = recorded_cost(Path(scratch) / "live")
        review_bench("run", *config, "--base-url", batches.openai_base_url, "--no-cache", "--batch",
                     "--batch-poll", "0.05", "--run-dir", str(Path(scratch) / "batch"), env=env)
        batch_cost, _ = recorded_cost(Path(scratch) / "batch")
        sizes = [len(batch.lines) for batch in batches.batches.values()]

    ceiling = estimate["estimated_cost_usd"]
    print(f"{args.papers} papers, {MODEL}, fewshot 1, ensemble 5, reflections 5"
          f"{f', answers {args.answer_chars} characters longer' if args.answer_chars else ''}")
    print(f"dry run: {estimate['requests']} requests, {estimate['input_tokens']:,} input + "
          f"{estimate['output_tokens']:,} output tokens, ceiling ${ceiling:.4f}")
    print(f"live run: {live_calls} requests, ${live_cost:.4f}; ceiling / actual = {ceiling / live_cost:.3f}")
    print(f"batch run: {len(sizes)} batches of {sizes} requests ({sum(sizes)} in all), ${batch_cost:.4f} = "
          f"{batch_cost / live_cost:.3f} x the live cost")


if __name__ == "__main__":
    main()
