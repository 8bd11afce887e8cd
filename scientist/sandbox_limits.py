"""Memory and process limits for one sandboxed run, set from outside the child.

A cgroup holds the whole sandbox (every process it starts, whatever it does) where one is
writable: cgroup v2 (``memory.max``, ``pids.max``) or the v1 ``memory`` and ``pids``
hierarchies. Where none is, rlimits set in the child before it execs are the fallback:
RLIMIT_AS per process for memory, RLIMIT_NPROC for processes. RLIMIT_NPROC counts all the
processes of a uid and never binds root, so root without a pids cgroup has only the
parent's count of the sandbox's processes (``watchdog``), which ``Isolation`` says.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from functools import cache
from pathlib import Path

CONTROLLERS = ("memory", "pids")
#: The file that holds each controller's limit, by cgroup version.
LIMIT_FILES = {("memory", 2): "memory.max", ("memory", 1): "memory.limit_in_bytes", ("pids", 2): "pids.max",
               ("pids", 1): "pids.max"}
#: Swap would let a run exceed its memory limit slowly instead of being stopped.
SWAP_FILES = {2: "memory.swap.max", 1: "memory.memsw.limit_in_bytes"}


@dataclass(frozen=True)
class CgroupPlace:
    """A cgroup in which this process can make a run's child cgroup and move a process into it."""

    parent: Path
    version: int


def _hierarchies() -> dict[str, tuple[Path, Path, int]]:
    """Each controller's hierarchy: {controller: (mount point, this process's cgroup in it, version)}."""
    own: dict[str, str] = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, names, path = line.split(":", 2)
        for name in names.split(",") if names else [""]:
            own[name] = path
    found: dict[str, tuple[Path, Path, int]] = {}
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields, _, tail = line.partition(" - ")
        fstype, _, options = tail.split(" ")[:3]
        root, mount = fields.split(" ")[3:5]
        if fstype == "cgroup2" and "" in own:
            controllers = (Path(mount) / "cgroup.controllers").read_text().split()
            version, names, path = 2, [c for c in CONTROLLERS if c in controllers], own[""]
        elif fstype == "cgroup":
            version = 1
            names = [c for c in CONTROLLERS if c in options.split(",") and c in own]
            path = own[names[0]] if names else ""
        else:
            continue
        relative = path[len(root):] if path.startswith(root) and root != "/" else path
        for name in names:
            found.setdefault(name, (Path(mount), Path(mount) / relative.lstrip("/"), version))
    return found


def _join(directory: Path) -> None:
    (directory / "cgroup.procs").write_text(str(os.getpid()))


def _try_place(parent: Path, controller: str, version: int) -> bool:
    """Whether a child of ``parent`` gets ``controller`` and a process can be moved into it."""
    probe = parent / f"review-bench-probe-{uuid.uuid4().hex[:8]}"
    try:
        probe.mkdir()
    except OSError:
        return False
    try:
        if not (probe / LIMIT_FILES[controller, version]).exists():
            return False
        moved = subprocess.run([sys.executable, "-S", "-c", ""], preexec_fn=lambda: _join(probe),
                               capture_output=True)
        return moved.returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False
    finally:
        _remove(probe)


@cache
def cgroup_place(controller: str) -> CgroupPlace | None:
    """The nearest cgroup (this process's own, then its ancestors) that can hold a run's child cgroup."""
    try:
        mount, directory, version = _hierarchies()[controller]
    except (OSError, KeyError, ValueError):
        return None
    for candidate in [directory, *directory.parents]:
        if not candidate.is_relative_to(mount):
            break
        if _try_place(candidate, controller, version):
            return CgroupPlace(candidate, version)
    return None


def _remove(directory: Path) -> None:
    for _ in range(100):
        try:
            directory.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.02)


def _counter(path: Path, key: str) -> int:
    """A ``key value`` line of a cgroup events file (0 when the file or line is missing)."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return 0
    return sum(int(line.split()[1]) for line in lines if line.split()[:1] == [key])


def processes_of(uid: int) -> int:
    """How many processes ``uid`` runs now."""
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                count += os.stat(f"/proc/{entry}").st_uid == uid
            except OSError:
                pass
    return count


def descendants(root: int) -> list[int]:
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
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, []))
    return found


def memory_method() -> str:
    place = cgroup_place("memory")
    return f"cgroup v{place.version} {LIMIT_FILES['memory', place.version]}" if place else "RLIMIT_AS"


def process_method() -> str:
    place = cgroup_place("pids")
    if place:
        return f"cgroup v{place.version} pids.max"
    return "RLIMIT_NPROC" if os.getuid() != 0 else "watchdog (root without a writable pids cgroup)"


class RunLimits:
    """The limits of one run: a fresh child cgroup per controller where one can be made, else rlimits.

    ``apply_in_child`` runs in the forked child before exec; everything the run starts inherits it.
    """

    def __init__(self, memory_mb: int, max_procs: int):
        self.memory_bytes = memory_mb * 1024 * 1024
        self.max_procs = max_procs
        self.dirs: dict[str, Path] = {}
        made: dict[Path, Path] = {}
        for controller in CONTROLLERS:
            place = cgroup_place(controller)
            if place is None:
                continue
            if place.parent not in made:
                made[place.parent] = place.parent / f"review-bench-sandbox-{uuid.uuid4().hex[:12]}"
                made[place.parent].mkdir()
            self.dirs[controller] = made[place.parent]
            self._write_limit(controller, place.version)
        self.nproc = None
        if "pids" not in self.dirs and os.getuid() != 0:
            # RLIMIT_NPROC counts every process of this uid, inside the sandbox's user namespace or not.
            self.nproc = processes_of(os.getuid()) + max_procs

    def _write_limit(self, controller: str, version: int) -> None:
        directory = self.dirs[controller]
        value = self.memory_bytes if controller == "memory" else self.max_procs
        (directory / LIMIT_FILES[controller, version]).write_text(str(value))
        swap = directory / SWAP_FILES[version]
        if controller == "memory" and swap.exists():
            swap.write_text("0" if version == 2 else str(value))

    def apply_in_child(self) -> None:
        for directory in set(self.dirs.values()):
            _join(directory)
        if "memory" not in self.dirs:
            resource.setrlimit(resource.RLIMIT_AS, (self.memory_bytes, self.memory_bytes))
        if self.nproc is not None:
            resource.setrlimit(resource.RLIMIT_NPROC, (self.nproc, self.nproc))

    def count(self, root: int) -> int:
        """Tasks in the run: the pids cgroup's count, else the processes under ``root``."""
        if "pids" in self.dirs:
            try:
                return int((self.dirs["pids"] / "pids.current").read_text())
            except (OSError, ValueError):
                return 0
        return len(descendants(root))

    def forks_refused(self) -> bool:
        return "pids" in self.dirs and _counter(self.dirs["pids"] / "pids.events", "max") > 0

    def oom_killed(self) -> bool:
        if "memory" not in self.dirs:
            return False
        directory = self.dirs["memory"]
        events = directory / "memory.events" if (directory / "memory.events").exists() else directory / "memory.oom_control"
        return _counter(events, "oom_kill") > 0

    def kill_all(self) -> None:
        for directory in set(self.dirs.values()):
            for _ in range(200):
                try:
                    pids = [int(p) for p in (directory / "cgroup.procs").read_text().split()]
                except OSError:
                    break
                if not pids:
                    break
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                time.sleep(0.01)

    def remove(self) -> None:
        for directory in set(self.dirs.values()):
            _remove(directory)
