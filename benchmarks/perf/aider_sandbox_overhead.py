"""What running aider in the sandbox adds to one edit: the same one-call edit (a scripted model
answers with one SEARCH/REPLACE block) made three ways, median of N each.

- direct: aider as a plain subprocess talking to the gateway over TCP (how the coder ran it before
  it was sandboxed; built here only as the baseline);
- unsandboxed: ``AiderCoder`` where bubblewrap cannot start (``--unsafe-no-sandbox``): the relay, the
  gateway's Unix socket, the run's limits, no bubblewrap;
- sandboxed: ``AiderCoder`` in bubblewrap, as ``scientist run`` runs it.

Most of an edit is aider starting (importing litellm), so on a busy machine the noise of a whole
edit can exceed the sandbox's part; the second table isolates that part: aider's interpreter running
``-c pass`` directly and through ``Sandbox.run`` (bubblewrap with aider's environment bound in).

    python benchmarks/perf/aider_sandbox_overhead.py [--runs 5] [--starts 20]

Needs aider (scientist/install_aider.sh) and bwrap. No network, no LLM: the model is a mock.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from reviewer.models.base import ChatMessage, GenerateConfig
from reviewer.models.mock_provider import MockProvider
from reviewer.models.wrapper import Model
from scientist.coder import AIDER_ENV, AIDER_FLAGS, GATEWAY_MODEL, AiderCoder, aider_executable, aider_python
from scientist.gateway import serve
from scientist.sandbox import Sandbox

BEFORE, AFTER = "lr = 0.001\n", "lr = 0.01\n"


def _edit(messages: list[ChatMessage], config: GenerateConfig) -> str:
    return f"Raising it.\n\nexperiment.py\n```python\n<<<<<<< SEARCH\n{BEFORE}=======\n{AFTER}>>>>>>> REPLACE\n```\n"


def _unsandboxed() -> Sandbox:
    """The sandbox as on a machine where bubblewrap cannot start, with --unsafe-no-sandbox."""
    path = os.environ["PATH"]
    os.environ["PATH"] = ""
    try:
        return Sandbox(unsafe_no_sandbox=True)
    finally:
        os.environ["PATH"] = path


async def _direct(model: Model, folder: Path, executable: str) -> None:
    async with serve(model) as base_url:
        command = [executable, *AIDER_FLAGS, "--model", GATEWAY_MODEL, "--openai-api-base", base_url,
                   "--openai-api-key", "gateway", "--message", "Raise the learning rate.", "experiment.py"]
        env = dict(os.environ, **AIDER_ENV)
        await asyncio.to_thread(subprocess.run, command, cwd=folder, env=env, capture_output=True, check=True,
                                stdin=subprocess.DEVNULL, timeout=600)


async def _coder(model: Model, folder: Path, sandbox: Sandbox) -> None:
    result = await AiderCoder(model, folder, ["experiment.py"], sandbox).edit("Raise the learning rate.")
    assert result.error is None, result.error


def _timed(way, executable: str) -> float:
    with tempfile.TemporaryDirectory(prefix="aider-overhead-") as folder:
        (Path(folder) / "experiment.py").write_text(BEFORE)
        model = Model(MockProvider("mock/edit", _edit), use_cache=False)
        start = time.perf_counter()
        asyncio.run(way(model, Path(folder), executable))
        elapsed = time.perf_counter() - start
        assert (Path(folder) / "experiment.py").read_text() == AFTER, "the edit was not applied"
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--starts", type=int, default=20)
    args = parser.parse_args()
    executable = aider_executable()
    if executable is None:
        raise SystemExit("aider is not installed: run scientist/install_aider.sh")
    sandbox, unsandboxed = Sandbox(), _unsandboxed()
    ways = {
        "direct (before: a plain subprocess, TCP gateway)": _direct,
        "unsandboxed (relay, Unix-socket gateway, limits)": lambda m, f, e: _coder(m, f, unsandboxed),
        "sandboxed (bubblewrap)": lambda m, f, e: _coder(m, f, sandbox),
    }
    times: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(args.runs):  # interleaved, so that a change in the machine's load touches every way alike
        for name, way in ways.items():
            times[name].append(_timed(way, executable))
    medians = {name: statistics.median(values) for name, values in times.items()}
    direct, _, inside = medians.values()
    print(sandbox.isolation.describe())
    print(f"load average at the end: {' '.join(f'{load:.1f}' for load in os.getloadavg())} ({os.cpu_count()} CPUs)")
    print(f"| one aider edit, median of {args.runs} | s |\n|---|---|")
    for name, seconds in medians.items():
        print(f"| {name} | {seconds:.2f} |")
    print(f"| added by the sandbox (sandboxed - direct) | {inside - direct:.2f} |")

    python = aider_python(executable)
    with tempfile.TemporaryDirectory(prefix="aider-overhead-") as folder:
        starts = {"direct": lambda: subprocess.run([python, "-c", "pass"], cwd=folder, check=True),
                  "in the sandbox": lambda: _ok(sandbox.run(folder, ["-c", "pass"], python=python))}
        start_ms = {name: [] for name in starts}
        for _ in range(args.starts):
            for name, action in starts.items():
                begun = time.perf_counter()
                action()
                start_ms[name].append((time.perf_counter() - begun) * 1000)
    outside, sandboxed = (statistics.median(values) for values in start_ms.values())
    print(f"\n| aider's interpreter, -c pass, median of {args.starts} | ms |\n|---|---|")
    print(f"| direct | {outside:.1f} |\n| in the sandbox | {sandboxed:.1f} |\n| added per edit | {sandboxed - outside:.1f} |")


def _ok(result) -> None:
    assert result.ok, result.stderr


if __name__ == "__main__":
    main()
