"""Review one paper with each of today's models against the strict loopback server, which
rejects what the real APIs reject (tests/fakes/api_rules.py), and print what happened.

    python scripts/check_current_models.py [--ensemble 3 --reflections 3] [--reasoning-effort high] [MODEL ...]

Runs ``review-bench review`` in a subprocess from this checkout (PYTHONPATH is set to it), so
the numbers are those a user would get. No network beyond loopback.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fakes.llm_server import FakeLLMServer
from fakes.reviews import scripted_reviewer

MODELS = ["openai/gpt-5.4", "openai/gpt-5-mini", "openai/o4-mini", "anthropic/claude-opus-4-8",
          "anthropic/claude-sonnet-5"]
PAPER = "Title: A Study of Things\n\nAbstract\nWe study things.\n\n1 Introduction\nThings matter.\n"


def review(model: str, server: FakeLLMServer, paper: Path, extra: list[str]) -> dict:
    url = server.openai_base_url if model.startswith("openai/") else server.url
    env = dict(os.environ, PYTHONPATH=str(ROOT), REVIEW_BENCH_CACHE_DIR=str(paper.parent / "cache"))
    before = len(server.requests)
    done = subprocess.run([sys.executable, "-m", "review_bench", "review", str(paper), "--model", model,
                           "--base-url", url, "--format", "json", "--no-cache", *extra],
                          capture_output=True, text=True, env=env, timeout=300, check=False)
    rejected = [r for r in server.requests[before:] if r.status >= 400]
    result = {"model": model, "exit": done.returncode, "requests": len(server.requests) - before,
              "rejected": len(rejected)}
    if done.returncode == 0:
        meta = json.loads(done.stdout)["meta"]
        result.update(cost_usd=meta["cost_usd"], calls=meta["calls"], notes=meta.get("notes", []))
    else:
        result["error"] = (done.stderr.strip().splitlines() or ["?"])[-1][:200]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=MODELS)
    parser.add_argument("--ensemble", default="3")
    parser.add_argument("--reflections", default="3")
    parser.add_argument("--reasoning-effort", choices=["low", "medium", "high"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, FakeLLMServer(scripted_reviewer(done_at_round=None),
                                                             strict=True) as server:
        paper = Path(tmp) / "paper.txt"
        paper.write_text(PAPER)
        extra = ["--ensemble", args.ensemble, "--reflections", args.reflections]
        if args.reasoning_effort:
            extra += ["--reasoning-effort", args.reasoning_effort]
        results = [review(model, server, paper, extra) for model in args.models]
    for result in results:
        print(json.dumps(result))
    print(f"{sum(r['exit'] == 0 for r in results)} of {len(results)} succeeded")


if __name__ == "__main__":
    main()
