"""Installed as ``sitecustomize`` in every sandboxed Python process (Python-level guard).

An audit hook refuses, before the system call happens: writes and file-system changes
outside the sandbox folder, connections and name lookups outside loopback, and signals to
processes that are not the sandbox's own. Each refusal prints one ``SANDBOX BLOCKED:``
line on stderr (the parent collects them) and raises PermissionError. Audit hooks cannot
be removed from Python code; code that leaves Python (ctypes, other programs) is held by
the kernel-level limits the parent sets instead.
"""

import os
import sys

_ROOT = os.path.realpath(os.environ.get("SANDBOX_ROOT", os.getcwd()))
_WRITABLE_DEVICES = {"/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty"}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_FS_EVENTS = {
    "os.remove", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.truncate",
    "os.utime", "os.symlink", "os.link", "os.rename", "shutil.rmtree", "shutil.move",
}
_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "ip6-localhost"}
_FIRST_PID = os.getpid() if os.environ.get("SANDBOX_FIRST_PID") is None else int(os.environ["SANDBOX_FIRST_PID"])
os.environ["SANDBOX_FIRST_PID"] = str(_FIRST_PID)


def _block(what: str):
    message = f"SANDBOX BLOCKED: {what}"
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
    raise PermissionError(message)


def _inside(path) -> bool:
    if isinstance(path, int):  # an already open descriptor
        return True
    full = os.path.realpath(os.path.join(os.getcwd(), os.fsdecode(path)))
    return full == _ROOT or full.startswith(_ROOT + os.sep) or full in _WRITABLE_DEVICES


def _loopback(address) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX
        return True
    host = str(address[0])
    return host in _LOOPBACK_NAMES or host.startswith("127.")


def _parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as handle:
        return int(handle.read().rsplit(")", 1)[1].split()[1])


def _own_process(pid: int) -> bool:
    """The first sandboxed process or one of its descendants (0 and -1 mean groups)."""
    if pid <= 0:
        return pid == 0
    try:
        while pid != _FIRST_PID:
            if pid <= 1:
                return False
            pid = _parent_of(pid)
    except (OSError, ValueError, IndexError):
        return False
    return True


def _hook(event, args):
    if event == "open":
        path, mode, flags = args
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or bool((flags or 0) & _WRITE_FLAGS)
        if path is not None and writing and not _inside(path):
            _block(f"write to {path}")
    elif event in _FS_EVENTS:
        paths = [a for a in args[:2] if isinstance(a, (str, bytes, os.PathLike))]
        for path in paths:
            if not _inside(path):
                _block(f"{event} on {os.fsdecode(path)}")
    elif event in ("socket.connect", "socket.sendto"):
        address = args[1] if event == "socket.connect" else args[-1]
        if not _loopback(address):
            _block(f"network connection to {address!r}")
    elif event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex"):
        host = args[0].decode() if isinstance(args[0], bytes) else args[0]
        if host and not _loopback((host,)):
            _block(f"name lookup of {host!r}")
    elif event in ("os.kill", "os.killpg"):
        if not _own_process(args[0]):
            _block(f"signal {args[1]} to process {args[0]} outside the sandbox")


sys.addaudithook(_hook)
