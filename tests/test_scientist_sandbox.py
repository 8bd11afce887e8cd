"""Escape attempts of the kind model-written experiment code makes, each blocked by the operating
system and reported. Every attempt runs twice: as this user (root in CI) and, when that is root,
as the unprivileged ``nobody`` through ``setpriv`` (bwrap then makes its user namespace itself and
the limits fall back from cgroups to rlimits). Each target is reachable outside the sandbox by the
same user (checked), and lies outside /tmp, so what stops an attempt is the sandbox, not file
permissions or the private /tmp."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pytest

from scientist import sandbox_limits
from scientist.sandbox import Sandbox, SandboxLimits, SandboxResult, SandboxUnavailable

ROOT = Path(__file__).resolve().parents[1]
SECRET = f"SECRET-{uuid.uuid4().hex}"
HEADER = (
    "import os, sys\n"
    "OUTSIDE, HOME, DATA, PORT, HOST_PID = sys.argv[1:6]\n"
    "TARGET = os.path.join(OUTSIDE, 'escaped.txt')\n"
)
HELPER_C = r"""
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
int main(int argc, char **argv) {
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) { perror(argv[1]); return 1; }
    return write(fd, "escaped", 7) == 7 ? 0 : 1;
}
"""
#: name: (the experiment's code, the status it must end with). "blocked": the run met a wall the
#: sandbox names; "error": the thing it reached for does not exist in the sandbox.
ATTACKS = {
    "write outside through Python": ("open(TARGET, 'w').write('escaped')", "blocked"),
    "write outside through a shell": (
        "sys.exit(os.waitstatus_to_exitcode(os.system(f'echo escaped > {TARGET}')))", "blocked"),
    "write outside from a child interpreter with a clean environment": ((
        "import subprocess\n"
        "code = f'open({TARGET!r}, \"w\").write(\"escaped\")'\n"
        "subprocess.run([sys.executable, '-I', '-S', '-c', code], env={}, check=True)"), "blocked"),
    "write outside through libc (ctypes)": ((
        "import ctypes\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "fd = libc.open(TARGET.encode(), os.O_WRONLY | os.O_CREAT, 0o644)\n"
        "if fd < 0:\n"
        "    raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()), TARGET)\n"
        "libc.write(fd, b'escaped', 7)"), "blocked"),
    "write outside from a compiled helper": ((
        "import subprocess\n"
        f"open('helper.c', 'w').write({HELPER_C!r})\n"
        "subprocess.run(['gcc', '-o', 'helper', 'helper.c'], check=True)\n"
        "subprocess.run(['./helper', TARGET], check=True)"), "blocked"),
    "write through a symlink in the folder pointing out": ((
        "os.symlink(OUTSIDE, 'out')\n"
        "os.symlink(os.path.join(HOME, 'secret.txt'), 'final_info.json')\n"
        "open('out/escaped.txt', 'w').write('escaped')"), "blocked"),
    "write into the home folder": ("open(os.path.join(HOME, '.bashrc'), 'a').write('escaped')", "error"),
    "write into the template data": ("open(os.path.join(DATA, 'escaped.txt'), 'w').write('escaped')", "blocked"),
    "read a secret in the home folder": ("print(open(os.path.join(HOME, 'secret.txt')).read())", "error"),
    "connect to a server on the host's loopback": (
        "import socket\nsocket.create_connection(('127.0.0.1', int(PORT)), timeout=3)", "blocked"),
    "connect outside": ("import socket\nsocket.create_connection(('10.255.255.1', 80), timeout=3)", "blocked"),
    "signal a host process": ("os.kill(int(HOST_PID), 0)", "error"),
}
# A daemon (setsid + double fork) that would leave a mark after 2 s; the run itself then waits
# past its time limit or ends at once.
DETACHED = (
    "import time\n"
    "if os.fork() == 0:\n"
    "    os.setsid()\n"
    "    if os.fork() == 0:\n"
    "        time.sleep(2)\n"
    "        open('survived.txt', 'w').write('alive')\n"
    "        time.sleep(60)\n"
    "    os._exit(0)\n"
    "time.sleep(1)\n"
)
# At most 2**10 processes even if nothing held it: bounded on a shared machine.
FORK_BOMB = (
    "import time\n"
    "for _ in range(10):\n"
    "    try:\n"
    "        os.fork()\n"
    "    except OSError:\n"
    "        pass\n"
    "time.sleep(30)\n"
)
# 4 GB if nothing held it; bytearray fills its pages, so they count.
MEMORY_HOG = "chunks = [bytearray(100 * 2**20) for _ in range(40)]\n"


class LoopbackServer:
    """A TCP server on the host's loopback that counts the connections it accepts."""

    def __init__(self):
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen()
        self.port = self.socket.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            self.accepted += 1
            connection.close()


@dataclass
class World:
    """One user's view: a base folder (the experiment folders' parent) and a fake home and data
    folder, all owned by that user outside the sandbox."""

    user: str
    base: Path
    uid: int
    gid: int
    python: str = sys.executable
    runs: int = field(default=0)

    @property
    def home(self) -> Path:
        return self.base / "home"

    @property
    def data(self) -> Path:
        return self.base / "data"

    def as_user(self, *command: str, **kwargs) -> subprocess.CompletedProcess:
        """Run a command outside the sandbox as this world's user."""
        drop = [] if self.user == "self" else ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}",
                                               "--clear-groups"]
        return subprocess.run([*drop, *command], capture_output=True, text=True, **kwargs)

    def escapes(self, server: LoopbackServer) -> list[str]:
        """Every trace an attempt would leave outside its folder."""
        found = [str(p) for p in self.base.rglob("escaped.txt") if not p.parent.name.startswith("exp-")]
        if (self.home / ".bashrc").read_text() != "original\n":
            found.append("home/.bashrc changed")
        if server.accepted:
            found.append(f"{server.accepted} connection(s) to the host's loopback server")
        return found


def _nobody_python(base: Path, uid: int, gid: int) -> str | None:
    """An interpreter the sandbox starts with as ``nobody`` (the venv's may be under an unreadable /root)."""
    for python in (sys.executable, "/usr/bin/python3"):
        probe = subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", python, "-c",
                                "from scientist.sandbox import Sandbox; Sandbox()"], capture_output=True, cwd=base,
                               env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(base.parent / "package")})
        if probe.returncode == 0:
            return python
    return None


@pytest.fixture(scope="module")
def server():
    server = LoopbackServer()
    yield server
    server.socket.close()


@pytest.fixture(scope="module")
def top():
    # Not under /tmp: the sandbox's private /tmp would hide these paths whatever it binds.
    top = Path(tempfile.mkdtemp(prefix="sandbox-escapes-", dir="/var/tmp" if os.access("/var/tmp", os.W_OK)
                                else None))
    top.chmod(0o755)
    package = top / "package" / "scientist"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    for module in (ROOT / "scientist").glob("sandbox*.py"):
        shutil.copy(module, package / module.name)
    shutil.copy(ROOT / "tests" / "sandbox_launcher.py", top / "package")
    for path in [top / "package", *top.joinpath("package").rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    yield top
    shutil.rmtree(top, ignore_errors=True)


@pytest.fixture(scope="module", params=["self", "nobody"])
def world(request, top, server) -> World:
    user = request.param
    if user == "self":
        world = World("self", top / "self", os.getuid(), os.getgid())
    else:
        if os.getuid() != 0:
            pytest.skip("dropping to nobody needs root; as a normal user the 'self' runs are unprivileged")
        entry = pwd.getpwnam("nobody")
        world = World("nobody", top / "nobody", entry.pw_uid, entry.pw_gid)
    (world.data / "templates_data").mkdir(parents=True)
    world.home.mkdir()
    (world.home / ".bashrc").write_text("original\n")
    (world.home / "secret.txt").write_text(SECRET)
    (world.home / "secret.txt").chmod(0o644)
    for path in [world.base, *world.base.rglob("*")]:
        os.chown(path, world.uid, world.gid)
    if user == "nobody":
        python = _nobody_python(world.base, world.uid, world.gid)
        assert python, "no Python that nobody can run; the unprivileged escape tests need one"
        world.python = python
    # Outside the sandbox the same user can do what the attempts try: the sandbox is what stops them.
    control = world.base / "control.txt"
    assert world.as_user("sh", "-c", f"echo x > {control}").returncode == 0
    assert world.as_user("cat", str(world.home / "secret.txt")).stdout == SECRET
    assert world.as_user("touch", str(world.data / "templates_data" / "control.txt")).returncode == 0
    return world


def _run(world: World, server: LoopbackServer, code: str, **limits) -> tuple[SandboxResult, dict, Path]:
    world.runs += 1
    folder = world.base / f"exp-{world.runs}"
    folder.mkdir()
    (folder / "experiment.py").write_text(HEADER + code)
    os.chown(folder, world.uid, world.gid)
    os.chown(folder / "experiment.py", world.uid, world.gid)
    args = ["experiment.py", str(world.base), str(world.home), str(world.data / "templates_data"),
            str(server.port), str(os.getpid())]
    limits = {"timeout_s": 10, "memory_mb": 512, "max_procs": 16, **limits}
    if world.user == "self":
        sandbox = Sandbox(SandboxLimits(**limits), data_dir=world.data)
        return sandbox.run(folder, args), asdict(sandbox.isolation), folder
    spec = {"folder": str(folder), "args": args, "data_dir": str(world.data), "limits": limits}
    launched = world.as_user(world.python, str(world.base.parent / "package" / "sandbox_launcher.py"),
                             json.dumps(spec), cwd=world.base, timeout=120,
                             env={"PATH": "/usr/bin:/bin", "HOME": str(world.home),
                                  "PYTHONPATH": str(world.base.parent / "package")})
    assert launched.returncode == 0, launched.stderr
    report = json.loads(launched.stdout)
    return SandboxResult(**report["result"]), report["isolation"], folder


def _report(world: World, attempt: str, result: SandboxResult) -> None:
    """One row of the table of attempts and outcomes (``pytest -s`` shows them)."""
    reason = result.blocked[0] if result.blocked else (result.stderr.strip().splitlines() or [""])[-1]
    reason = reason or result.explain().splitlines()[0]
    print(f"\nATTEMPT | {world.user} | {attempt} | {result.status} | {reason[:140]}")


def _leftovers(folder: Path) -> list[str]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.readlink(f"/proc/{pid}/cwd").startswith(str(folder)):
                found.append(pid)
        except OSError:
            pass
    return found


def test_a_plain_run_works_and_says_what_holds_it(world, server):
    result, isolation, folder = _run(world, server, "open('out.txt', 'w').write('in')\n"
                                                    "open('/tmp/scratch', 'w').write('tmp')\nprint('fine')\n")
    assert result.status == "ok" and result.stdout.strip() == "fine", result.stderr
    assert (folder / "out.txt").read_text() == "in"
    assert isolation["mechanism"] == "bubblewrap" and isolation["network"] == "none"
    assert {"user", "pid", "net", "ipc"} <= set(isolation["namespaces"])
    if world.user == "nobody":
        assert (isolation["memory_limit"], isolation["process_limit"]) == ("RLIMIT_AS", "RLIMIT_NPROC")
    print(f"\nISOLATION | {world.user} | {json.dumps(isolation)}")


@pytest.mark.parametrize("attempt", list(ATTACKS))
def test_escape_attempts_are_blocked_and_reported(world, server, attempt):
    code, status = ATTACKS[attempt]
    if "gcc" in code and shutil.which("gcc") is None:
        pytest.skip("no C compiler here")
    result, _, folder = _run(world, server, code + "\n")
    _report(world, attempt, result)
    assert world.escapes(server) == []
    assert SECRET not in result.stdout + result.stderr
    assert result.status == status, result.stderr
    assert result.explain()
    if status == "blocked":
        assert result.blocked, result.stderr
    if "symlink" in attempt:
        assert not os.path.lexists(folder / "final_info.json") and not os.path.lexists(folder / "out")
        assert any("a symlink out of the folder: final_info.json" in line for line in result.blocked)


def test_a_detached_process_does_not_outlive_the_run(world, server):
    started = time.monotonic()
    past_limit, _, folder_a = _run(world, server, DETACHED + "time.sleep(60)\n", timeout_s=1)
    _report(world, "a detached process (setsid + double fork) outliving the time limit", past_limit)
    assert past_limit.status == "timeout" and time.monotonic() - started < 8
    ended, _, folder_b = _run(world, server, DETACHED)
    _report(world, "a detached process (setsid + double fork) outliving a run that ends", ended)
    assert ended.status == "ok", ended.stderr
    assert _leftovers(folder_a) == [] and _leftovers(folder_b) == []
    time.sleep(2.5)
    assert not (folder_a / "survived.txt").exists() and not (folder_b / "survived.txt").exists()


def test_a_fork_bomb_is_stopped_and_leaves_nothing(world, server):
    started = time.monotonic()
    result, _, folder = _run(world, server, FORK_BOMB, timeout_s=25)
    _report(world, "a fork bomb", result)
    assert result.status == "process_limit", result.stderr
    assert time.monotonic() - started < 10
    assert _leftovers(folder) == []


def test_a_memory_hog_is_stopped(world, server):
    result, _, _ = _run(world, server, MEMORY_HOG, memory_mb=256)
    _report(world, "a memory hog", result)
    assert result.status == "memory", result.stderr


@pytest.mark.skipif(os.getuid() != 0, reason="the cgroup fallback for root")
def test_root_without_writable_cgroups_falls_back_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(sandbox_limits, "cgroup_place", lambda controller: None)
    sandbox = Sandbox(SandboxLimits(timeout_s=25, memory_mb=256, max_procs=16))
    assert sandbox.isolation.memory_limit == "RLIMIT_AS"
    assert sandbox.isolation.process_limit.startswith("watchdog")
    for name, code, status in [("bomb", FORK_BOMB, "process_limit"), ("hog", MEMORY_HOG, "memory")]:
        folder = tmp_path / name
        folder.mkdir()
        (folder / "experiment.py").write_text("import os\n" + code)
        result = sandbox.run(folder, ["experiment.py"])
        assert result.status == status, result.stderr
        assert _leftovers(folder) == []


def test_without_bubblewrap_it_refuses_unless_allowed_and_records_it(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap on PATH
    with pytest.raises(SandboxUnavailable, match="bwrap is not installed.*--unsafe-no-sandbox"):
        Sandbox()
    sandbox = Sandbox(SandboxLimits(timeout_s=10), unsafe_no_sandbox=True)
    assert sandbox.isolation.mechanism == "none" and sandbox.isolation.network == "host"
    assert sandbox.isolation.describe().startswith("sandbox: NONE (--unsafe-no-sandbox; bubblewrap cannot start")
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "experiment.py").write_text("print('unsandboxed')\n")
    assert sandbox.run(folder, ["experiment.py"]).stdout.strip() == "unsandboxed"


def test_gpu_devices_are_passed_through_only_with_gpu(tmp_path, monkeypatch):
    """No GPU here: a device node that bwrap's minimal /dev lacks stands in for /dev/nvidia*."""
    monkeypatch.setattr("scientist.sandbox.gpu_devices", lambda: [])
    with pytest.raises(SandboxUnavailable, match="no /dev/nvidia"):
        Sandbox(gpu=True)
    stand_in = next((d for d in ("/dev/fuse", "/dev/net/tun", "/dev/loop-control", "/dev/kmsg") if os.path.exists(d)),
                    None)
    if stand_in is None:
        pytest.skip("no device node to stand in for a GPU")
    monkeypatch.setattr("scientist.sandbox.gpu_devices", lambda: [stand_in])
    (tmp_path / "experiment.py").write_text(f"import os\nprint(os.path.exists({stand_in!r}), os.path.isdir('/sys/bus'))")
    with_gpu = Sandbox(gpu=True)
    assert with_gpu.isolation.gpu == (stand_in,)
    assert with_gpu.run(tmp_path, ["experiment.py"]).stdout.split() == ["True", "True"]
    assert Sandbox().run(tmp_path, ["experiment.py"]).stdout.split() == ["False", "False"]


def test_an_environment_under_tmp_is_not_hidden_by_the_private_tmp(bwrap_works, tmp_path):
    """A checkout (and its .venv) under /tmp: the sandbox's own /tmp must not cover the interpreter."""
    environment = Path(tempfile.mkdtemp(prefix="venv-", dir="/tmp"))
    try:
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(environment)], check=True)
        python = str(environment / "bin" / "python")
        folder = tmp_path / "idea"
        folder.mkdir()
        result = Sandbox().run(folder, ["-c", "import sys; print(sys.prefix)"], python=python)
        assert result.status == "ok", result.stderr
        assert result.stdout.strip() == str(environment)
    finally:
        shutil.rmtree(environment)
