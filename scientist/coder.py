"""The coder that edits experiment code and LaTeX: aider-chat (pinned, in its own
environment, run as a subprocess) or a built-in SEARCH/REPLACE coder."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from reviewer.models.wrapper import Model
from scientist.edit_blocks import EditError, apply_blocks, parse_blocks
from scientist.llm import Chat, render

AIDER_VERSION = "0.86.2"
AIDER_FLAGS = [
    "--yes-always", "--no-git", "--no-auto-commits", "--no-check-update", "--analytics-disable",
    "--no-show-model-warnings", "--no-show-release-notes", "--no-stream", "--no-pretty",
    "--no-fancy-input", "--edit-format", "diff", "--map-tokens", "0", "--no-restore-chat-history",
]
AIDER_USAGE = re.compile(r"Tokens: ([\d.]+)(k?) sent, ([\d.]+)(k?) received")
CoderKind = Literal["aider", "builtin"]


class CoderError(Exception):
    """The coder cannot run (aider missing, a model aider cannot reach)."""


@dataclass
class CoderResult:
    changed: list[str]
    reply: str
    error: str | None = None


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
        listing = "\n\n".join(f"{name}\n```\n{(self.folder / name).read_text()}\n```" for name in self.files)
        message = render("coder_request", files=listing, instruction=instruction)
        reply, error = "", None
        for _ in range(self.max_attempts):
            reply = await self.chat.ask(message)
            blocks = parse_blocks(reply)
            if not blocks:
                return CoderResult([], reply)
            try:
                return CoderResult(apply_blocks(self.folder, blocks, set(self.files)), reply)
            except EditError as exc:
                error = str(exc)
                message = render("coder_fix_blocks", error=error)
        return CoderResult([], reply, error)


def aider_executable() -> str | None:
    candidates = [os.environ.get("AIDER_BIN"), shutil.which("aider"), str(Path.home() / ".local/bin/aider")]
    return next((c for c in candidates if c and Path(c).is_file() and os.access(c, os.X_OK)), None)


@dataclass
class AiderCoder:
    """aider-chat as a subprocess, in the folder, pointed at the configured model's server."""

    model_string: str
    folder: Path
    files: list[str]
    base_url: str | None = None
    timeout_s: float = 600.0
    executable: str | None = None
    tokens: dict = field(default_factory=lambda: {"sent": 0, "received": 0})

    def __post_init__(self):
        self.executable = self.executable or aider_executable()
        if self.executable is None:
            raise CoderError(f"aider is not installed: run scientist/install_aider.sh (aider-chat=={AIDER_VERSION})")
        provider, _, name = self.model_string.partition("/")
        if provider not in ("openai", "anthropic") or not name:
            raise CoderError(f"aider cannot use {self.model_string!r}: give an openai/ or anthropic/ model, or --coder builtin")

    def _metadata_file(self) -> Path:
        path = self.folder / ".aider.model.metadata.json"
        path.write_text(json.dumps({self.model_string: {
            "max_input_tokens": 128000, "max_output_tokens": 8192, "input_cost_per_token": 0.0,
            "output_cost_per_token": 0.0, "litellm_provider": self.model_string.split("/")[0], "mode": "chat",
        }}))
        return path

    def _environment(self) -> dict[str, str]:
        env = dict(os.environ, LITELLM_LOCAL_MODEL_COST_MAP="True", AIDER_ANALYTICS="false")
        if self.model_string.startswith("openai/"):
            env.setdefault("OPENAI_API_KEY", "no-key-needed")
            if self.base_url:
                env["OPENAI_API_BASE"] = self.base_url
        elif self.base_url:
            env["ANTHROPIC_API_BASE"] = self.base_url
        return env

    async def edit(self, instruction: str) -> CoderResult:
        import asyncio

        return await asyncio.to_thread(self._run, instruction)

    def _run(self, instruction: str) -> CoderResult:
        before = {name: (self.folder / name).read_text() for name in self.files}
        command = [
            self.executable, *AIDER_FLAGS, "--model", self.model_string,
            "--model-metadata-file", str(self._metadata_file()), "--message", instruction, *self.files,
        ]
        try:
            done = subprocess.run(command, cwd=self.folder, env=self._environment(), capture_output=True,
                                  text=True, timeout=self.timeout_s, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return CoderResult([], "", f"aider did not finish in {self.timeout_s:.0f} s")
        self._count_tokens(done.stdout)
        changed = [name for name in self.files if (self.folder / name).read_text() != before[name]]
        error = None if done.returncode == 0 else f"aider exited with {done.returncode}: {done.stderr[-1000:]}"
        return CoderResult(changed, done.stdout, error)

    def _count_tokens(self, output: str) -> None:
        for match in AIDER_USAGE.finditer(output):
            sent, ksent, received, kreceived = match.groups()
            self.tokens["sent"] += int(float(sent) * (1000 if ksent else 1))
            self.tokens["received"] += int(float(received) * (1000 if kreceived else 1))


def make_coder(kind: CoderKind, *, model: Model, model_string: str, base_url: str | None,
               folder: Path, files: list[str]) -> Coder:
    if kind == "aider":
        return AiderCoder(model_string, folder, files, base_url=base_url)
    return BuiltinCoder(model, folder, files)
