"""How much time the harness itself adds to a run, against the leanest asyncio client.

Both clients make the same calls to the same loopback server (the tests' fake OpenAI
server, answering every request after a fixed latency): per paper one ensemble request
(n = ensemble), one meta-review and every reflection round, one paper after another in
``concurrency`` lanes. The ideal wall time is ``calls x latency / concurrency``; each
client's ratio is its wall time (process start to exit) over the ideal.

    python benchmarks/perf/harness_overhead.py --data-dir ../shared/datasets

prints both ratios per repetition and the median of harness/lean. Not a test: the numbers
depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODEL = "openai/gpt-4o-2024-05-13"


def lean_client(args) -> None:
    """The leanest client: httpx, one semaphore, the pipeline's calls in order, no checks."""
    import httpx

    folder = Path(args.data_dir) / "iclr2022" / "texts"
    ids = json.loads(args.paper_ids)
    fewshot = Path(args.data_dir) / "fewshot" / "132_automated_relational"
    example = fewshot.with_suffix(".txt").read_text(errors="replace") + fewshot.with_suffix(".json").read_text()

    async def main() -> None:
        limit = asyncio.Semaphore(args.concurrency)
        async with httpx.AsyncClient(base_url=args.base_url, timeout=600,
                                     limits=httpx.Limits(max_connections=args.concurrency)) as client:

            async def ask(messages: list[dict], n: int = 1) -> list[str]:
                async with limit:
                    response = await client.post("/chat/completions", json={
                        "model": "gpt-4o-2024-05-13", "messages": messages, "n": n, "max_tokens": 4096})
                return [choice["message"]["content"] for choice in response.json()["choices"]]

            async def paper(paper_id: str) -> None:
                text = (folder / f"{paper_id}.txt").read_text(errors="replace")
                conversation = [{"role": "system", "content": "You are a reviewer."},
                                {"role": "user", "content": example + "\n\n" + text}]
                drafts = await ask(conversation, n=args.ensemble)
                meta = await ask([{"role": "system", "content": "You are an Area Chair."},
                                  {"role": "user", "content": "\n".join(drafts)}])
                conversation.append({"role": "assistant", "content": meta[0]})
                for current in range(2, args.reflections + 1):
                    conversation.append({"role": "user", "content": f"Round {current}/{args.reflections}."})
                    answer = await ask(conversation)
                    conversation.append({"role": "assistant", "content": answer[0]})

            queue = iter(ids)

            async def lane() -> None:
                for paper_id in queue:
                    await paper(paper_id)

            await asyncio.gather(*(lane() for _ in range(args.concurrency)))

    asyncio.run(main())


@dataclass
class Timing:
    wall: float
    cpu: float
    #: Seconds from the process's start to its first request, and from its last request to its exit.
    first_request: float
    after_last_request: float
    calls: int

    def line(self, name: str, ideal: float) -> str:
        return (f"{name} {self.wall:.2f} s = {self.wall / ideal:.3f}x ideal (cpu {self.cpu:.1f} s, first request "
                f"after {self.first_request:.2f} s, exit {self.after_last_request:.2f} s after the last)")


def timed(command: list[str], env: dict, server) -> Timing:
    """Run one client to the end and time it against the requests the server saw."""
    cpu_before = _children_cpu()
    seen_before = len(server.requests)
    started = time.monotonic()
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
    ended = time.monotonic()
    if done.returncode != 0:
        sys.exit(f"{command[:4]} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    seen = server.requests[seen_before:]
    return Timing(ended - started, _children_cpu() - cpu_before, seen[0].at - started, ended - seen[-1].at,
                  len(seen))


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(args) -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from fakes.llm_server import FakeLLMServer
    from fakes.reviews import distinct_reviewer

    from corpus.dataset import load_benchmark

    papers = load_benchmark("iclr2022", None, args.data_dir).subset(args.papers)
    ids = json.dumps([p.paper_id for p in papers])
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OPENAI_", "REVIEW_BENCH_"))}
    env["PYTHONPATH"] = str(ROOT)
    server = FakeLLMServer(distinct_reviewer(), latency=args.latency).start()
    shape = ["--concurrency", str(args.concurrency), "--ensemble", str(args.ensemble),
             "--reflections", str(args.reflections)]
    ratios = []
    try:
        for repetition in range(1, args.repeat + 1):
            with tempfile.TemporaryDirectory() as scratch:
                lean_command = [sys.executable, __file__, "lean", "--base-url", server.openai_base_url,
                                "--data-dir", str(args.data_dir), "--paper-ids", ids, *shape]
                harness_command = [sys.executable, "-m", "review_bench", "run", "iclr2022", "--data-dir",
                                   str(args.data_dir), "--model", MODEL, "--base-url", server.openai_base_url,
                                   "--fewshot", "1", "--limit", str(args.papers), "--run-dir",
                                   str(Path(scratch) / "run"), *shape]
                harness_env = {**env, "REVIEW_BENCH_CACHE_DIR": str(Path(scratch) / "cache")}
                # Which client goes first alternates, so that a drift in the machine's load
                # weighs on both alike.
                if repetition % 2:
                    lean = timed(lean_command, env, server)
                    harness = timed(harness_command, harness_env, server)
                else:
                    harness = timed(harness_command, harness_env, server)
                    lean = timed(lean_command, env, server)
            if harness.calls != lean.calls:
                sys.exit(f"the clients made different calls: lean {lean.calls}, harness {harness.calls}")
            ideal = lean.calls * args.latency / args.concurrency
            ratios.append(harness.wall / lean.wall)
            print(f"run {repetition}: {lean.calls} calls, ideal {ideal:.2f} s\n  {lean.line('lean', ideal)}\n  "
                  f"{harness.line('harness', ideal)}\n  harness/lean {harness.wall / lean.wall:.3f}", flush=True)
    finally:
        server.stop()
    print(f"harness/lean over {len(ratios)} runs: median {statistics.median(ratios):.3f}, "
          f"range {min(ratios):.3f}-{max(ratios):.3f}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", choices=["measure", "lean"], default="measure")
    parser.add_argument("--data-dir", type=Path, help="Default: $REVIEW_BENCH_DATA, else ../shared/datasets.",
                        default=os.environ.get("REVIEW_BENCH_DATA") or ROOT.parent / "shared" / "datasets")
    parser.add_argument("--papers", type=int, default=96)
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--ensemble", type=int, default=5)
    parser.add_argument("--reflections", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--base-url")
    parser.add_argument("--paper-ids")
    args = parser.parse_args()
    lean_client(args) if args.mode == "lean" else measure(args)


if __name__ == "__main__":
    main()
