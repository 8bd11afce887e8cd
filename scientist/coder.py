"""The coder that edits experiment code and LaTeX: aider-chat (pinned, in its own
environment, run as a subprocess behind our LLM gateway) or a built-in SEARCH/REPLACE coder."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from reviewer.models.wrapper import Model
from scientist.edit_blocks import EditError, apply_blocks, parse_blocks
from scientist.gateway import GATEWAY_MODEL, serve
from scientist.llm import Chat, render

AIDER_VERSION = "0.86.2"
AIDER_FLAGS = [
    "--yes-always", "--no-git", "--no-auto-commits", "--no-check-update", "--analytics-disable",
    "--no-show-model-warnings", "--no-show-release-notes", "--no-stream", "--no-pretty",
    "--no-fancy-input", "--edit-format", "diff", "--map-tokens", "0", "--no-restore-chat-history",
]
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
    """aider-chat as a subprocess in the folder; its LLM calls go to a loopback gateway in
    front of our Model, so they get our retries, cache and cost accounting."""

    model: Model
    folder: Path
    files: list[str]
    timeout_s: float = 600.0
    executable: str | None = None

    def __post_init__(self):
        self.executable = self.executable or aider_executable()
        if self.executable is None:
            raise CoderError(f"aider is not installed: run scientist/install_aider.sh (aider-chat=={AIDER_VERSION})")

    def _metadata_file(self) -> Path:
        path = self.folder / ".aider.model.metadata.json"
        path.write_text(json.dumps({GATEWAY_MODEL: {
            "max_input_tokens": self.model.context_window, "max_output_tokens": 8192, "input_cost_per_token": 0.0,
            "output_cost_per_token": 0.0, "litellm_provider": "openai", "mode": "chat",
        }}))
        return path

    async def edit(self, instruction: str) -> CoderResult:
        async with serve(self.model) as base_url:
            return await asyncio.to_thread(self._run, instruction, base_url)

    def _run(self, instruction: str, base_url: str) -> CoderResult:
        before = {name: (self.folder / name).read_text() for name in self.files}
        command = [
            self.executable, *AIDER_FLAGS, "--model", GATEWAY_MODEL, "--openai-api-base", base_url,
            "--openai-api-key", "gateway", "--model-metadata-file", str(self._metadata_file()),
            "--message", instruction, *self.files,
        ]
        env = dict(os.environ, LITELLM_LOCAL_MODEL_COST_MAP="True", AIDER_ANALYTICS="false",
                   NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
        try:
            done = subprocess.run(command, cwd=self.folder, env=env, capture_output=True,
                                  text=True, timeout=self.timeout_s, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return CoderResult([], "", f"aider did not finish in {self.timeout_s:.0f} s")
        changed = [name for name in self.files if (self.folder / name).read_text() != before[name]]
        error = None if done.returncode == 0 else f"aider exited with {done.returncode}: {done.stderr[-1000:]}"
        return CoderResult(changed, done.stdout, error)


def make_coder(kind: CoderKind, *, model: Model, folder: Path, files: list[str]) -> Coder:
    if kind == "aider":
        return AiderCoder(model, folder, files)
    return BuiltinCoder(model, folder, files)
