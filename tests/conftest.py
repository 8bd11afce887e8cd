"""Test-wide guards: no test may reach the network outside loopback, or a model hub."""

from __future__ import annotations

import ipaddress
import os
import socket

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
for _key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "REVIEW_BENCH_MODEL"):
    os.environ.pop(_key, None)
# The data root is found once, here; code under test sees it only where a test passes it.
SHARED_DATA = os.environ.pop("REVIEW_BENCH_DATA", None)
#: ./test installs aider, bubblewrap and latexmk before it runs the suite: there, one that is missing is a failure,
#: not a skip.
REQUIRE_TOOLS = os.environ.pop("REVIEW_BENCH_REQUIRE_TOOLS", None) == "1"


class NetworkGuardError(RuntimeError):
    pass


def _is_local(address) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _guarded_connect(self, address):
    if not _is_local(address):
        raise NetworkGuardError(f"test tried to connect to {address!r} outside loopback")
    return _real_connect(self, address)


def _guarded_connect_ex(self, address):
    if not _is_local(address):
        raise NetworkGuardError(f"test tried to connect to {address!r} outside loopback")
    return _real_connect_ex(self, address)


socket.socket.connect = _guarded_connect
socket.socket.connect_ex = _guarded_connect_ex


@pytest.fixture(scope="session")
def shared_datasets():
    """The data beside the checkout (``../shared/datasets``), or REVIEW_BENCH_DATA."""
    from pathlib import Path

    path = Path(SHARED_DATA) if SHARED_DATA else Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
    if not (path / "iclr2022").is_dir():
        pytest.fail(f"the shared datasets are missing at {path}; set REVIEW_BENCH_DATA")
    return path


def missing_tool(why: str):
    """Skip a test whose tool is not here; under ./test, which installs it, fail instead."""
    if REQUIRE_TOOLS:
        pytest.fail(f"{why} (./test installs it)")
    pytest.skip(why)


@pytest.fixture(scope="session")
def aider_bin() -> str:
    """aider's executable, found once (before a test moves HOME, where ~/.local/bin/aider is looked up)."""
    from scientist.coder import aider_executable

    return aider_executable() or missing_tool("aider is not installed: run scientist/install_aider.sh")


@pytest.fixture(scope="session")
def bwrap_works() -> None:
    """bubblewrap is installed and can start its sandbox here."""
    from scientist.sandbox import Sandbox, SandboxUnavailable

    try:
        Sandbox()
    except SandboxUnavailable as exc:
        missing_tool(str(exc))


@pytest.fixture(scope="session")
def latexmk_bin() -> str:
    """latexmk, which compiles the scientist's papers where it is installed (pdflatex runs directly elsewhere)."""
    import shutil

    return shutil.which("latexmk") or missing_tool("latexmk is not installed: pdflatex is run directly")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """Each test gets its own call cache and text cache."""
    monkeypatch.setenv("REVIEW_BENCH_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def fake_llm():
    """Start a fake OpenAI/Anthropic server: ``server = fake_llm(responder, **options)``."""
    from fakes.llm_server import FakeLLMServer

    servers = []

    def start(responder, **options):
        server = FakeLLMServer(responder=responder, **options).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
