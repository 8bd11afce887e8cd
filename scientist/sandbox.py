"""Runs model-written experiment code where the operating system keeps it in its folder.

bubblewrap (``sandbox_bwrap.py``) is the isolation: the run sees a read-only sliver of the
system, writes only its folder and a private /tmp, has no network and no home folder, and
lives in its own pid namespace, so nothing it starts outlives it. The limits stay outside
the child: this process keeps the wall clock and kills the sandbox at the deadline; memory
and processes are held by a cgroup or rlimits (``sandbox_limits.py``). Where bwrap cannot
start, the sandbox refuses to run unless the caller allows running unsandboxed
(``--unsafe-no-sandbox``), and ``Isolation`` records that it did. The code editor (aider,
``coder.py``) runs in it too.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from scientist.sandbox_bwrap import BWRAP_PROCESSES, NAMESPACES, bwrap_command, gpu_devices, hardening
from scientist.sandbox_limits import RunLimits, descendants, memory_method, process_method

Status = Literal["ok", "error", "timeout", "process_limit", "memory", "blocked"]
#: Errors that show a run met a wall of the sandbox, and what the run tried.
WALLS = {
    "Read-only file system": "a write outside the experiment folder",
    "Network is unreachable": "network access",
    "Connection refused": "network access",
    "Temporary failure in name resolution": "network access",
    "Name or service not known": "network access",
}
RULES = ("The sandbox: only the experiment folder and /tmp are writable, other paths are read-only or absent, "
         "and there is no network.")
NS_PROBE = f"import os; print(' '.join(os.readlink('/proc/self/ns/' + n) for n in {NAMESPACES!r}))"


class SandboxUnavailable(Exception):
    """The sandbox cannot start here and running unsandboxed was not allowed. The message is one line."""


@dataclass(frozen=True)
class SandboxLimits:
    timeout_s: float = 300.0
    memory_mb: int = 4096
    max_procs: int = 64
    poll_s: float = 0.05


@dataclass(frozen=True)
class Isolation:
    """What holds a sandboxed run on this machine, as measured when the sandbox started."""

    mechanism: Literal["bubblewrap", "none"]
    #: Namespaces the run really gets (compared with this process's own).
    namespaces: tuple[str, ...]
    network: Literal["none", "host"]
    writable: tuple[str, ...]
    hardening: tuple[str, ...]
    memory_mb: int
    memory_limit: str
    max_procs: int
    process_limit: str
    timeout_s: float
    gpu: tuple[str, ...]
    #: Why bubblewrap could not start, when the run goes unsandboxed by --unsafe-no-sandbox.
    unsandboxed_because: str | None = None
    #: What confines the code editor (aider or the built-in coder), when one edits the experiments.
    editor: str | None = None

    def describe(self) -> str:
        limits = (f"memory {self.memory_mb} MB by {self.memory_limit}; processes {self.max_procs} by "
                  f"{self.process_limit}; wall clock {self.timeout_s:.0f} s kept by the parent; "
                  f"gpu {', '.join(self.gpu) or 'none'}")
        editor = f"; code editor: {self.editor}" if self.editor else ""
        if self.mechanism == "none":
            return (f"sandbox: NONE (--unsafe-no-sandbox; bubblewrap cannot start: {self.unsandboxed_because}): "
                    f"experiments run with your full access to files and network; {limits}{editor}")
        return (f"sandbox: bubblewrap, namespaces {', '.join(self.namespaces)}; network {self.network}; "
                f"writable: {', '.join(self.writable)}; {', '.join(self.hardening)}; {limits}{editor}")


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
        rules = f"\n{RULES}" if self.status in ("blocked", "error") else ""
        return f"{reasons[self.status]}{rules}\nstderr (tail):\n{self.stderr[-3000:]}"


class Sandbox:
    def __init__(self, limits: SandboxLimits = SandboxLimits(), *, data_dir: str | Path | None = None,
                 gpu: bool = False, unsafe_no_sandbox: bool = False):
        self.limits = limits
        data_dir = data_dir or os.environ.get("REVIEW_BENCH_DATA")
        self.data_dir = str(Path(data_dir).resolve()) if data_dir else ""
        self.devices = tuple(gpu_devices()) if gpu else ()
        if gpu and not self.devices:
            raise SandboxUnavailable("--gpu: this machine has no /dev/nvidia* device")
        self.isolation = self._measure(unsafe_no_sandbox)

    @property
    def sandboxed(self) -> bool:
        return self.isolation.mechanism == "bubblewrap"

    def _readable(self, extra: list[str | Path]) -> list[str]:
        """Read-only binds besides the system and the interpreter: the template data and ``extra``."""
        data = [str(Path(self.data_dir) / "templates_data")] if self.data_dir else []
        return [*data, *(str(Path(p).resolve()) for p in extra)]

    def _command(self, folder: Path, readable: list[str | Path], info_fd: int, python: str,
                 limits: SandboxLimits) -> list[str]:
        if not self.sandboxed:
            return [python]
        return [*bwrap_command(folder, read_only=self._readable(readable), tmp_bytes=limits.memory_mb << 20,
                               devices=self.devices, info_fd=info_fd, python=python), python]

    def _measure(self, unsafe_no_sandbox: bool) -> Isolation:
        """Start the sandbox once to see that it works and which namespaces it really gets."""
        common = {"memory_mb": self.limits.memory_mb, "memory_limit": memory_method(),
                  "max_procs": self.limits.max_procs, "process_limit": process_method(),
                  "timeout_s": self.limits.timeout_s, "gpu": self.devices}
        failure = "bwrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
        if shutil.which("bwrap"):
            with tempfile.TemporaryDirectory(prefix="sandbox-probe-") as folder:
                command = [*bwrap_command(Path(folder), read_only=[], tmp_bytes=1 << 20, devices=self.devices),
                           sys.executable, "-c", NS_PROBE]
                try:
                    probe = subprocess.run(command, capture_output=True, text=True, timeout=60,
                                           env=self._environment(Path(folder)))
                except subprocess.TimeoutExpired:
                    probe = subprocess.CompletedProcess(command, -1, "", "bwrap did not start within 60 s")
            if probe.returncode == 0:
                inside = probe.stdout.split()
                outside = [os.readlink(f"/proc/self/ns/{name}") for name in NAMESPACES]
                fresh = tuple(n for n, a, b in zip(NAMESPACES, inside, outside) if a != b)
                return Isolation("bubblewrap", fresh, "none" if "net" in fresh else "host",
                                 ("the experiment folder", "a private /tmp"), hardening(), **common)
            failure = " ".join((probe.stderr.strip() or f"exit code {probe.returncode}").split())[:300]
        if not unsafe_no_sandbox:
            raise SandboxUnavailable(
                f"the experiment sandbox cannot start ({failure}); experiments run model-written code, so fix "
                "that, or pass --unsafe-no-sandbox to run them without isolation (recorded in the run)")
        return Isolation("none", (), "host", ("everything you can write",), (), unsandboxed_because=failure,
                         **common)

    def _environment(self, folder: Path, python: str = sys.executable) -> dict[str, str]:
        env = {
            "PATH": f"{os.path.dirname(python)}:/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "HOME": str(folder),
            "TMPDIR": "/tmp",
            "MPLCONFIGDIR": "/tmp/matplotlib",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
            "PYTHONNOUSERSITE": "1",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
        }
        if self.data_dir:
            env["REVIEW_BENCH_DATA"] = self.data_dir
        if self.devices and "CUDA_VISIBLE_DEVICES" in os.environ:
            env["CUDA_VISIBLE_DEVICES"] = os.environ["CUDA_VISIBLE_DEVICES"]
        return env

    def run(self, folder: str | Path, args: list[str], *, readable: Sequence[str | Path] = (),
            python: str = sys.executable, env: Mapping[str, str] | None = None,
            limits: SandboxLimits | None = None) -> SandboxResult:
        """Run ``python <args>`` in ``folder``, its only writable place; ``readable`` folders are visible read-only.
        ``python`` may be another interpreter (its environment is bound in read-only), ``env`` adds to the run's
        environment, and ``limits`` replace the sandbox's own for this run."""
        folder = Path(folder).resolve()
        limits = limits or self.limits
        overhead = BWRAP_PROCESSES if self.sandboxed else 0
        held = RunLimits(limits.memory_mb, limits.max_procs + overhead)
        info_read, info_write = os.pipe()
        try:
            with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
                start = time.monotonic()
                try:
                    process = subprocess.Popen(
                        [*self._command(folder, list(readable), info_write, python, limits), *args], cwd=folder,
                        env={**self._environment(folder, python), **(env or {})}, stdin=subprocess.DEVNULL,
                        stdout=out, stderr=err,
                        preexec_fn=held.apply_in_child, start_new_session=True,
                        pass_fds=(info_write,) if self.sandboxed else ())
                finally:
                    os.close(info_write)
                init = _open_init(info_read) if self.sandboxed else None
                try:
                    status, peak = self._watch(process, held, limits.timeout_s, start)
                finally:
                    _kill(process, held, init)
                elapsed = time.monotonic() - start
                stdout, stderr = _tail(out), _tail(err)
            if status is None and held.oom_killed():
                status = "memory"
            elif status is None and held.forks_refused():
                status = "process_limit"
        finally:
            os.close(info_read)
            held.remove()
        blocked = _links_out(folder)
        if status is None:
            blocked += self._walls(process.returncode, stderr)
            status = _status_after_exit(process.returncode, stderr, blocked)
        return SandboxResult(status, process.returncode, elapsed, stdout, stderr, blocked, max(0, peak - overhead))

    def _watch(self, process: subprocess.Popen, limits: RunLimits, timeout_s: float,
               start: float) -> tuple[Status | None, int]:
        """Wait for the run to end, or stop at the wall clock or the process limit: (status, most tasks seen)."""
        peak = 0
        exited = os.pidfd_open(process.pid)  # readable once the process exits: no polling delay
        try:
            while not select.select([exited], [], [], self.limits.poll_s)[0]:
                peak = max(peak, limits.count(process.pid))
                if time.monotonic() - start > timeout_s:
                    return "timeout", peak
                if peak >= limits.max_procs or limits.forks_refused():
                    return "process_limit", peak
            return None, peak
        finally:
            os.close(exited)

    def _walls(self, returncode: int, stderr: str) -> list[str]:
        """The sandbox's walls a failed run met, from the errors it printed."""
        if not self.sandboxed or returncode == 0:
            return []
        return [f"{what}: {line.strip()}" for line in stderr.splitlines() for wall, what in WALLS.items()
                if wall in line]


def _status_after_exit(returncode: int, stderr: str, blocked: list[str]) -> Status:
    if blocked:
        return "blocked"
    if returncode == 0:
        return "ok"
    if "MemoryError" in stderr or "Cannot allocate memory" in stderr:
        return "memory"
    if "Resource temporarily unavailable" in stderr:
        return "process_limit"
    return "error"


def _tail(handle, limit: int = 20000) -> str:
    """The last ``limit`` bytes a run wrote to ``handle``, as text."""
    handle.seek(0, os.SEEK_END)
    handle.seek(max(0, handle.tell() - limit))
    return handle.read().decode(errors="replace")


def _open_init(info: int) -> int | None:
    """A pidfd of the sandbox's init, from the JSON bwrap writes to ``info`` (None if bwrap failed first).
    The init's exit, which ends every process in the namespace, is what the run's end waits for."""
    data = b""
    while chunk := os.read(info, 4096):
        data += chunk
    try:
        return os.pidfd_open(json.loads(data)["child-pid"])
    except (ValueError, KeyError, ProcessLookupError):
        return None


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _kill(process: subprocess.Popen, limits: RunLimits, init: int | None) -> None:
    """Kill the run and everything it started, and wait until they are gone. bwrap may exit before its init
    has ended the namespace's last processes, so the init's exit is awaited too."""
    running = descendants(process.pid) if process.poll() is None else []
    for pid in running:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    if init is not None:
        try:
            signal.pidfd_send_signal(init, signal.SIGKILL)
        except ProcessLookupError:
            pass
    limits.kill_all()
    process.wait()
    deadline = time.monotonic() + 5
    if init is not None:
        select.select([init], [], [], 5)
        os.close(init)
    while any(_alive(pid) for pid in running) and time.monotonic() < deadline:
        time.sleep(0.01)


def _links_out(folder: Path) -> list[str]:
    """Remove symlinks the run left that lead out of its folder: code outside the sandbox
    (this process, the write-up) reads the folder and must not be led to the host's files."""
    removed = []
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                continue
            target = os.path.realpath(path)
            if target != str(folder) and not target.startswith(str(folder) + os.sep):
                removed.append(f"a symlink out of the folder: {os.path.relpath(path, folder)} -> "
                               f"{os.readlink(path)} (removed)")
                os.unlink(path)
    return removed
