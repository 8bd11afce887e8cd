"""The bubblewrap command line of a sandboxed run: what the run sees, and nothing more.

Read-only: the system's programs and libraries (``/usr`` and the top-level links into it), the
few ``/etc`` files the dynamic linker and Python read, the interpreter's environment and the
Python it was made from, the template data and any folder a step must read. Writable: the
experiment folder and a private ``/tmp``. Nothing else of the host exists inside, the home
folder (API keys, SSH keys, configs) included. New user, pid, network, IPC, UTS and cgroup
namespaces: the network namespace has only its own loopback, so the host's loopback services
(a local model server, the aider gateway) are out of reach. A run of another interpreter (aider's)
gets that interpreter's environment read-only instead; what it must reach, like the gateway's Unix
socket, is bound in read-only by the caller.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

NAMESPACES = ("user", "pid", "net", "ipc", "uts", "cgroup")
TOP_LEVEL = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "passwd", "group", "nsswitch.conf",
             "localtime", "fonts")
#: bwrap itself and its init in the pid namespace count against the process limit.
BWRAP_PROCESSES = 2
#: Options newer than some distributions' bwrap, used where the installed one has them.
OPTIONAL = {"--disable-userns": "no nested user namespaces", "--size": "/tmp capped at the memory limit"}


@lru_cache(maxsize=1)
def bwrap_options() -> frozenset[str]:
    """The options the installed bwrap knows (its --help), empty when there is no bwrap."""
    path = shutil.which("bwrap")
    if path is None:
        return frozenset()
    try:
        text = subprocess.run([path, "--help"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    return frozenset(word for word in text.split() if word.startswith("--"))


def hardening() -> tuple[str, ...]:
    """What the command line adds beyond namespaces and mounts, in words."""
    return ("all capabilities dropped", "new session (no terminal injection)", "dies with its parent",
            *(words for option, words in OPTIONAL.items() if option in bwrap_options()))


@lru_cache(maxsize=8)
def _prefixes(python: str) -> frozenset[str]:
    """The prefixes of ``python``: this interpreter's from ``sys``, another's (e.g. aider's) by asking it."""
    if python == sys.executable:
        return frozenset({sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix})
    code = "import sys; print(sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, sep='\\n')"
    return frozenset(subprocess.run([python, "-I", "-c", code], capture_output=True, text=True, check=True,
                                    timeout=60).stdout.splitlines())


def interpreter_paths(python: str = sys.executable) -> list[str]:
    """Folders ``python`` needs outside /usr: its environment and the Python it was made from."""
    paths = set(_prefixes(python))
    paths |= {os.path.realpath(p) for p in paths}
    return sorted(p for p in paths if p != "/usr" and not p.startswith("/usr/"))


def gpu_devices() -> list[str]:
    return sorted(glob.glob("/dev/nvidia*"))


def bwrap_command(folder: Path, *, read_only: list[str], tmp_bytes: int, devices: tuple[str, ...],
                  info_fd: int | None = None, python: str = sys.executable) -> list[str]:
    """``bwrap ... --`` for a run of ``python`` in ``folder`` with host ``devices`` (the GPUs); the program and
    its arguments follow. bwrap writes the pid of the sandbox's init (pid 1 of its namespace) to ``info_fd``
    as JSON."""
    options = bwrap_options()
    args = [shutil.which("bwrap") or "bwrap", "--unshare-all", "--unshare-user", "--die-with-parent",
            "--new-session", "--cap-drop", "ALL"]
    if info_fd is not None:
        args += ["--info-fd", str(info_fd)]
    if "--disable-userns" in options:
        args.append("--disable-userns")
    args += ["--ro-bind", "/usr", "/usr"]
    for path in TOP_LEVEL:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for name in ETC_FILES:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    args += ["--proc", "/proc", "--dev", "/dev"]
    size = ["--size", str(tmp_bytes)] if "--size" in options else []
    args += [*size, "--tmpfs", "/tmp", *size, "--tmpfs", "/dev/shm"]
    # After the private /tmp: an environment that lives under /tmp is bound on top of it, not hidden by it.
    for path in interpreter_paths(python):
        args += ["--ro-bind", path, path]
    for device in devices:
        args += ["--dev-bind", device, device]
    if devices:  # the driver libraries read the PCI devices' attributes
        args += ["--ro-bind", "/sys", "/sys"]
    for path in read_only:
        args += ["--ro-bind-try", path, path]
    args += ["--bind", str(folder), str(folder), "--remount-ro", "/", "--chdir", str(folder), "--"]
    return args
