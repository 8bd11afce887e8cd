"""The coder that edits experiment code and LaTeX: aider-chat (pinned, in its own environment, run
in the experiments' sandbox behind our LLM gateway) or a built-in SEARCH/REPLACE coder. Either
changes nothing outside the idea folder."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, Protocol

from reviewer.models.wrapper import Model
from scientist.edit_blocks import EditError, OutsideFolder, apply_blocks, confined, parse_blocks
from scientist.gateway import GATEWAY_MODEL, serve
from scientist.llm import Chat, render
from scientist.sandbox import Sandbox, SandboxLimits

AIDER_VERSION = "0.86.2"
#: --yes-always answers aider's questions (create a file? edit one not in the chat?); shell commands and
#: URL fetching, which it would also offer, are switched off.
AIDER_FLAGS = [
    "--yes-always", "--no-git", "--no-auto-commits", "--no-check-update", "--analytics-disable",
    "--no-show-model-warnings", "--no-show-release-notes", "--no-stream", "--no-pretty",
    "--no-fancy-input", "--edit-format", "diff", "--map-tokens", "0", "--no-restore-chat-history",
    "--no-suggest-shell-commands", "--no-detect-urls",
]
AIDER_ENV = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "AIDER_ANALYTICS": "false"}
#: aider with litellm: a few hundred MB and a few dozen threads (counted as tasks by a pids cgroup).
CODER_LIMITS = SandboxLimits(memory_mb=4096, max_procs=128)
RELAY = str(Path(__file__).with_name("coder_relay.py"))
CoderKind = Literal["aider", "builtin"]


class CoderError(Exception):
    """The coder cannot run (aider missing, a model aider cannot reach)."""


@dataclass
class CoderResult:
    changed: list[str]
    reply: str
    error: str | None = None
    #: What was kept from outside the folder: edits named outside it, symlinks that led out of it.
    refused: list[str] = field(default_factory=list)


class Coder(Protocol):
    folder: Path
    files: list[str]

    async def edit(self, instruction: str) -> CoderResult: ...


@dataclass
class BuiltinCoder:
    """Asks the model for SEARCH/REPLACE blocks over the current files and applies them."""

    model: Model
    folder: Path
    files: list[str]
    max_attempts: int = 3
    chat: Chat = field(init=False)

    def __post_init__(self):
        self.chat = Chat(self.model, render("coder_system"), temperature=0.2)

    async def edit(self, instruction: str) -> CoderResult:
        try:
            listing = "\n\n".join(f"{name}\n```\n{confined(self.folder, name).read_text()}\n```"
                                  for name in self.files)
        except OutsideFolder as exc:
            return CoderResult([], "", str(exc), [str(exc)])
        message = render("coder_request", files=listing, instruction=instruction)
        reply, error, refused = "", None, []
        for _ in range(self.max_attempts):
            reply = await self.chat.ask(message)
            blocks = parse_blocks(reply)
            if not blocks:
                return CoderResult([], reply, refused=refused)
            try:
                return CoderResult(apply_blocks(self.folder, blocks, set(self.files)), reply, refused=refused)
            except EditError as exc:
                error = str(exc)
                refused += [error] if isinstance(exc, OutsideFolder) else []
                message = render("coder_fix_blocks", error=error)
        return CoderResult([], reply, error, refused)


def aider_executable() -> str | None:
    candidates = [os.environ.get("AIDER_BIN"), shutil.which("aider"), str(Path.home() / ".local/bin/aider")]
    return next((c for c in candidates if c and Path(c).is_file() and os.access(c, os.X_OK)), None)


def aider_python(executable: str) -> str:
    """The interpreter of the ``aider`` script: its environment's (``bin/python`` beside it), else its shebang's."""
    script = Path(executable).resolve()
    beside = script.parent / "python"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    with script.open("rb") as handle:
        words = handle.readline().decode(errors="replace").removeprefix("#!").split()
    found = shutil.which(words[-1]) if words else None
    if not found or "python" not in Path(found).name:
        raise CoderError(f"{executable}: cannot tell which Python runs aider (no bin/python beside it, no "
                         "Python in its first line); install it with scientist/install_aider.sh")
    return found


def describe_editor(kind: CoderKind, sandboxed: bool) -> str:
    """What confines the code editor, for the run's isolation record."""
    if kind == "builtin":
        return ("the built-in coder: edits only the listed files, resolved inside the idea folder "
                "(paths and symlinks leading out refused)")
    if sandboxed:
        return ("aider in bubblewrap: writes only the idea folder and a private /tmp and HOME; no network but "
                "the model gateway, reached through a Unix socket")
    return "aider UNSANDBOXED (--unsafe-no-sandbox): it writes wherever you can and has your network"


@dataclass
class AiderCoder:
    """aider-chat as a subprocess in the folder, in the sandbox: the folder is all it can write, and its LLM
    calls go through a relay to a gateway (a Unix socket) in front of our Model, so they get our retries,
    cache and cost accounting. Without bubblewrap (``--unsafe-no-sandbox``) the same runs unconfined."""

    model: Model
    folder: Path
    files: list[str]
    sandbox: Sandbox
    timeout_s: float = 600.0
    executable: str | None = None
    #: Edits the model named outside the folder that the sandbox refused, told to it with its next instruction.
    refused: list[str] = field(default_factory=list, init=False)

    def __post_init__(self):
        self.executable = self.executable or aider_executable()
        if self.executable is None:
            raise CoderError(f"aider is not installed: run scientist/install_aider.sh (aider-chat=={AIDER_VERSION})")
        self.python = aider_python(self.executable)
        self.script = str(Path(self.executable).resolve())  # ~/.local/bin/aider links into its environment

    def _metadata(self, path: Path) -> Path:
        path.write_text(json.dumps({GATEWAY_MODEL: {
            "max_input_tokens": self.model.context_window, "max_output_tokens": 8192, "input_cost_per_token": 0.0,
            "output_cost_per_token": 0.0, "litellm_provider": "openai", "mode": "chat",
        }}))
        return path

    async def edit(self, instruction: str) -> CoderResult:
        if self.refused:
            instruction = render("coder_refused", refused="\n".join(self.refused)) + "\n\n" + instruction
        replies: list[str] = []
        with tempfile.TemporaryDirectory(prefix="aider-gateway-") as control:
            socket_path = Path(control) / "gateway.sock"
            async with serve(self.model, unix_socket=socket_path, replies=replies):
                args = [RELAY, str(socket_path), "--", self.python, self.script, *AIDER_FLAGS,
                        "--model", GATEWAY_MODEL, "--openai-api-key", "gateway",
                        "--model-metadata-file", str(self._metadata(Path(control) / "metadata.json")),
                        "--message", instruction, *self.files]
                return await asyncio.to_thread(self._run, args, [control, RELAY], replies)

    def _run(self, args: list[str], readable: list[str], replies: list[str]) -> CoderResult:
        before = {name: (self.folder / name).read_text() for name in self.files}
        done = self.sandbox.run(self.folder, args, readable=readable, python=self.python, env=AIDER_ENV,
                                limits=replace(CODER_LIMITS, timeout_s=self.timeout_s))
        changed = [name for name in self.files if (self.folder / name).read_text() != before[name]]
        # What the sandbox met (a symlink leading out, which it removed) and the paths named outside the folder.
        outside = done.blocked + _outside(self.folder, replies)
        self.refused = outside if self.sandbox.sandboxed else []
        error = None
        if done.status == "timeout":
            error = f"aider did not finish in {self.timeout_s:.0f} s"
        elif done.status not in ("ok", "blocked"):
            error = f"aider ended with {done.status} (exit code {done.returncode}): {done.stderr[-1000:]}"
        elif not replies:
            error = f"aider got no answer from the model: {done.stdout[-1000:]}"
        elif outside:
            verdict = "refused" if self.sandbox.sandboxed else "NOT refused (--unsafe-no-sandbox)"
            error = f"{verdict}: " + "; ".join(outside)
        return CoderResult(changed, "\n\n".join(replies), error, self.refused)


def _outside(folder: Path, replies: list[str]) -> list[str]:
    """Each edit the model named outside the folder, with why it may not be made there."""
    refused = []
    for block in (block for reply in replies for block in parse_blocks(reply)):
        try:
            confined(folder, block.file)
        except OutsideFolder as exc:
            refused.append(str(exc))
    return list(dict.fromkeys(refused))


def make_coder(kind: CoderKind, *, model: Model, folder: Path, files: list[str], sandbox: Sandbox) -> Coder:
    if kind == "aider":
        return AiderCoder(model, folder, files, sandbox)
    return BuiltinCoder(model, folder, files)
