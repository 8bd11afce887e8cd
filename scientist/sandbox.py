"""Runs untrusted experiment code: its own folder, limits enforced from outside.

Mechanisms, strongest first (``Sandbox.isolation`` lists what this machine allowed):
- wall-clock limit: kept by this (parent) process, which kills the whole process group
  (and the pid namespace) at the deadline; nothing the child edits can move it;
- processes: a pids cgroup with ``pids.max`` when the cgroup tree is writable (root),
  else RLIMIT_NPROC (effective for non-root users); in both cases a watchdog here counts
  the sandbox's processes and kills them all past the limit;
- memory: RLIMIT_AS;
- network: a fresh network namespace (``unshare --net``, no interface is up, so no packet
  leaves) when allowed, plus the Python-level guard (connect / name lookup refused) and
  dead proxy variables;
- file writes outside the folder: the Python-level audit hook of ``sandbox_guard.py``.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

GUARD = Path(__file__).with_name("sandbox_guard.py")
BLOCK_MARK = "SANDBOX BLOCKED: "
CGROUP_ROOTS = (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup"))
DEAD_PROXY = "http://127.0.0.1:9"

Status = Literal["ok", "error", "timeout", "process_limit", "memory", "blocked"]


@dataclass(frozen=True)
class SandboxLimits:
    timeout_s: float = 300.0
    memory_mb: int = 4096
    max_procs: int = 64
    poll_s: float = 0.05


@dataclass
class SandboxResult:
    status: Status
    returncode: int | None
    elapsed_s: float
    stdout: str
    stderr: str
    blocked: list[str] = field(default_factory=list)
    max_procs_seen: int = 0

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def explain(self) -> str:
        """What went wrong, in words for the coder that must fix it."""
        reasons = {
            "ok": "The run finished.",
            "error": f"The run failed with exit code {self.returncode}.",
            "timeout": f"The run was stopped after {self.elapsed_s:.0f} s: it exceeded its time limit.",
            "process_limit": "The run was stopped: it started too many processes.",
            "memory": "The run ran out of its memory limit.",
            "blocked": "The run tried something the sandbox forbids: " + "; ".join(self.blocked),
        }
        return f"{reasons[self.status]}\nstderr (tail):\n{self.stderr[-3000:]}"


@lru_cache(maxsize=1)
def namespace_prefix() -> tuple[str, ...]:
    """``unshare`` with new network and pid namespaces, if this machine allows it."""
    command = ("unshare", "--net", "--pid", "--fork", "--kill-child", "--mount-proc")
    if shutil.which("unshare") is None:
        return ()
    try:
        probe = subprocess.run([*command, "true"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ()
    return command if probe.returncode == 0 else ()


class _PidsCgroup:
    """A pids cgroup for one run, or nothing where the cgroup tree is not writable."""

    def __init__(self, max_procs: int):
        self.path: Path | None = None
        for root in CGROUP_ROOTS:
            candidate = root / f"review-bench-sandbox-{uuid.uuid4().hex[:8]}"
            try:
                candidate.mkdir()
            except OSError:
                continue
            try:
                (candidate / "pids.max").write_text(str(max_procs))
                self.path = candidate
                return
            except OSError:
                candidate.rmdir()

    def join(self) -> None:
        """Runs in the child before exec."""
        if self.path is not None:
            (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def count(self) -> int | None:
        if self.path is None:
            return None
        return int((self.path / "pids.current").read_text())

    def refused_forks(self) -> bool:
        """Whether the kernel refused a fork at ``pids.max`` (``pids.events``: ``max N``)."""
        if self.path is None or not (self.path / "pids.events").exists():
            return False
        return any(line.split()[1] != "0" for line in (self.path / "pids.events").read_text().splitlines()
                   if line.startswith("max"))

    def kill_all(self) -> None:
        if self.path is None:
            return
        for _ in range(100):
            pids = [int(p) for p in (self.path / "cgroup.procs").read_text().split()]
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.02)

    def remove(self) -> None:
        if self.path is not None:
            for _ in range(50):
                try:
                    self.path.rmdir()
                    return
                except OSError:
                    time.sleep(0.05)


def _nproc_limit(max_procs: int) -> int | None:
    """RLIMIT_NPROC counts all of a user's processes and binds no root process: for a
    normal user, allow what it already runs plus ``max_procs``; for root, nothing."""
    uid = os.getuid()
    if uid == 0:
        return None
    running = sum(1 for entry in os.listdir("/proc") if entry.isdigit() and _owner(entry) == uid)
    return running + max_procs


def _owner(pid: str) -> int | None:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None


def _descendants(root: int) -> int:
    """Processes under ``root`` (itself included), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                parent = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry))
    count, stack = 0, [root]
    while stack:
        pid = stack.pop()
        count += 1
        stack.extend(children.get(pid, []))
    return count


class Sandbox:
    def __init__(self, limits: SandboxLimits = SandboxLimits(), *, data_dir: str | Path | None = None):
        self.limits = limits
        self.data_dir = str(data_dir) if data_dir else os.environ.get("REVIEW_BENCH_DATA", "")

    @property
    def isolation(self) -> list[str]:
        probe = _PidsCgroup(self.limits.max_procs)
        probe.remove()
        return [
            f"wall clock {self.limits.timeout_s:.0f}s (parent kills the process group)",
            f"pids cgroup max {self.limits.max_procs}" if probe.path else f"RLIMIT_NPROC {self.limits.max_procs} + watchdog",
            f"RLIMIT_AS {self.limits.memory_mb} MB",
            "network+pid namespaces (unshare)" if namespace_prefix() else "no network namespace available",
            "Python audit hook: writes outside the folder, sockets, signals",
        ]

    def _environment(self, folder: Path, guard_dir: Path) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "HOME": str(folder),
            "TMPDIR": str(folder / ".tmp"),
            "MPLCONFIGDIR": str(folder / ".tmp" / "matplotlib"),
            "PYTHONPATH": str(guard_dir),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
            "SANDBOX_ROOT": str(folder),
            "REVIEW_BENCH_DATA": self.data_dir,
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "http_proxy": DEAD_PROXY,
            "https_proxy": DEAD_PROXY,
            "HTTP_PROXY": DEAD_PROXY,
            "HTTPS_PROXY": DEAD_PROXY,
            "no_proxy": "",
        }

    def run(self, folder: str | Path, args: list[str]) -> SandboxResult:
        """Run ``python <args>`` with ``folder`` as its working directory and only writable place."""
        folder = Path(folder).resolve()
        (folder / ".tmp").mkdir(parents=True, exist_ok=True)
        limits = self.limits
        with tempfile.TemporaryDirectory(prefix="sandbox-guard-") as guard_dir:
            guard_dir = Path(guard_dir)
            shutil.copy(GUARD, guard_dir / "sitecustomize.py")
            cgroup = _PidsCgroup(limits.max_procs)

            nproc = _nproc_limit(limits.max_procs)

            def before_exec():
                memory = limits.memory_mb * 1024 * 1024
                resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
                if nproc is not None:
                    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
                cgroup.join()

            stdout_path, stderr_path = guard_dir / "stdout", guard_dir / "stderr"
            start = time.monotonic()
            status: Status | None = None
            peak = 0
            with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
                process = subprocess.Popen(
                    [*namespace_prefix(), sys.executable, *args],
                    cwd=folder,
                    env=self._environment(folder, guard_dir),
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    preexec_fn=before_exec,
                    start_new_session=True,
                )
                try:
                    while process.poll() is None:
                        count = cgroup.count()
                        peak = max(peak, count if count is not None else _descendants(process.pid))
                        if time.monotonic() - start > limits.timeout_s:
                            status = "timeout"
                        elif peak >= limits.max_procs:
                            status = "process_limit"
                        if status:
                            break
                        time.sleep(limits.poll_s)
                finally:
                    self._kill(process, cgroup)
                    if status is None and cgroup.refused_forks():
                        status = "process_limit"
                    cgroup.remove()
            elapsed = time.monotonic() - start
            stdout = stdout_path.read_text(errors="replace")
            stderr = stderr_path.read_text(errors="replace")
        blocked = [line[len(BLOCK_MARK):] for line in stderr.splitlines() if line.startswith(BLOCK_MARK)]
        if status is None:
            status = self._status_after_exit(process.returncode, stderr, blocked)
        return SandboxResult(status, process.returncode, elapsed, stdout[-20000:], stderr[-20000:], blocked, peak)

    @staticmethod
    def _kill(process: subprocess.Popen, cgroup: _PidsCgroup) -> None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        cgroup.kill_all()
        process.wait()

    @staticmethod
    def _status_after_exit(returncode: int, stderr: str, blocked: list[str]) -> Status:
        if blocked:
            return "blocked"
        if returncode == 0:
            return "ok"
        if "MemoryError" in stderr or "Cannot allocate memory" in stderr:
            return "memory"
        return "error"
