"""Start-up overhead of the experiment sandbox: ``python -c pass`` run directly and through
``Sandbox.run`` (bubblewrap, the run's cgroups or rlimits, the parent's watch), median of N.

    python benchmarks/perf/sandbox_overhead.py [--runs 30]

Also prints the one-off cost of starting a ``Sandbox`` (its probe run), paid once per
``scientist run``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scientist.sandbox import Sandbox


def _median_ms(action, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    start = time.perf_counter()
    sandbox = Sandbox()
    probe_ms = (time.perf_counter() - start) * 1000
    with tempfile.TemporaryDirectory(prefix="sandbox-overhead-") as folder:
        outside = _median_ms(lambda: subprocess.run([sys.executable, "-c", "pass"], cwd=folder, check=True),
                             args.runs)

        def sandboxed():
            result = sandbox.run(Path(folder), ["-c", "pass"])
            assert result.ok, result.stderr

        inside = _median_ms(sandboxed, args.runs)
    print(sandbox.isolation.describe())
    print(f"| python -c pass, median of {args.runs} | ms |\n|---|---|")
    print(f"| outside | {outside:.1f} |\n| in the sandbox | {inside:.1f} |\n| overhead per run | {inside - outside:.1f} |")
    print(f"| starting the Sandbox (once per scientist run) | {probe_ms:.1f} |")


if __name__ == "__main__":
    main()
