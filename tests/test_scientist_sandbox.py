"""Each forbidden thing an experiment may try is stopped and reported as a typed result,
and the next run goes on. Nothing here reaches outside loopback: the Python guard refuses
before the system call, and the network namespace has no interface up."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from scientist.sandbox import Sandbox, SandboxLimits, namespace_prefix

BAD = {
    "sleep": "import time\ntime.sleep(60)\n",
    "socket": "import socket\ns = socket.socket()\ns.settimeout(1)\ns.connect(('10.255.255.1', 80))\n",
    "dns": "import socket\nsocket.getaddrinfo('example.com', 80)\n",
    "kernel_net": (
        "import subprocess, sys\n"
        "r = subprocess.run(['bash', '-c', 'echo > /dev/tcp/10.255.255.1/80'], capture_output=True, text=True, timeout=5)\n"
        "sys.stderr.write(r.stderr)\nsys.exit(r.returncode)\n"
    ),
    "write": "open('/tmp/review_bench_sandbox_escape.txt', 'w').write('x')\n",
    # At most 2**6 processes even without any limit: safe on a shared machine.
    "fork": "import os, time\nfor _ in range(6):\n    os.fork()\ntime.sleep(20)\n",
    "own_limit": (
        "import os, signal, sys, time\n"
        "open('limits.json', 'w').write('{\"timeout_s\": 3600}')\n"
        "os.environ['SANDBOX_TIMEOUT'] = '3600'\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "try:\n    os.kill(int(sys.argv[1]), signal.SIGSTOP)\nexcept PermissionError:\n    pass\n"
        "time.sleep(60)\n"
    ),
    "memory": "x = bytearray(3_000_000_000)\n",
}


def _run(tmp_path: Path, name: str, **limits):
    folder = tmp_path / name
    folder.mkdir()
    (folder / "experiment.py").write_text(BAD.get(name, "print('fine')\n"))
    sandbox = Sandbox(SandboxLimits(**{"timeout_s": 3, "memory_mb": 1024, "max_procs": 12, **limits}))
    return sandbox.run(folder, ["experiment.py", str(os.getpid())])


@pytest.mark.parametrize("name, status, blocked", [
    ("sleep", "timeout", None),
    ("socket", "blocked", "network connection to ('10.255.255.1', 80)"),
    ("dns", "blocked", "name lookup of 'example.com'"),
    ("write", "blocked", "write to /tmp/review_bench_sandbox_escape.txt"),
    ("fork", "process_limit", None),
    ("own_limit", "timeout", "outside the sandbox"),
    ("memory", "memory", None),
])
def test_forbidden_things_are_stopped_and_reported(tmp_path, name, status, blocked):
    started = time.monotonic()
    result = _run(tmp_path, name)
    assert result.status == status, result.stderr
    assert time.monotonic() - started < 8
    if blocked:
        assert any(blocked in line for line in result.blocked), result.blocked
    assert result.explain()
    assert not Path("/tmp/review_bench_sandbox_escape.txt").exists()
    # The pipeline goes on: the next run in the same sandbox works.
    (tmp_path / "after").mkdir()
    assert _run(tmp_path / "after", "fine").status == "ok"


def test_the_network_namespace_stops_non_python_code(tmp_path):
    assert namespace_prefix(), "unshare --net --pid is not allowed here; the sandbox would lack its network namespace"
    result = _run(tmp_path, "kernel_net")
    assert result.status == "error" and "Network is unreachable" in result.stderr


def test_fork_bomb_leaves_no_process_behind(tmp_path):
    result = _run(tmp_path, "fork", timeout_s=10)
    assert result.status == "process_limit"
    leftovers = [p for p in os.listdir("/proc") if p.isdigit() and _cwd_inside(p, tmp_path)]
    assert leftovers == []


def _cwd_inside(pid: str, folder: Path) -> bool:
    try:
        return str(folder) in os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return False
