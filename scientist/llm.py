"""A conversation with one model through the reviewer's wrapper (retries, cache, cost)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from reviewer.models.base import ChatMessage, GenerateConfig
from reviewer.models.wrapper import Model
from reviewer.prompts import render as render_in

PROMPT_DIR = Path(__file__).parent / "prompts"


def render(name: str, **values) -> str:
    """A prompt of ``scientist/prompts`` rendered strictly."""
    return render_in(name, PROMPT_DIR, **values)


@dataclass
class Chat:
    model: Model
    system: str
    temperature: float = 0.75
    max_tokens: int = 4096
    history: list[ChatMessage] = field(default_factory=list)

    async def ask(self, text: str) -> str:
        self.history.append(ChatMessage("user", text))
        messages = [ChatMessage("system", self.system), *self.history]
        config = GenerateConfig(temperature=self.temperature, max_tokens=self.max_tokens)
        answer = (await self.model.generate(messages, config)).texts[0]
        self.history.append(ChatMessage("assistant", answer))
        return answer
