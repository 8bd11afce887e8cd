"""A scripted backend for tests and demos. It goes through the same wrapper, cache and
pipeline as the real ones; only the answer comes from a function instead of a server."""

from __future__ import annotations

import json
from typing import Callable

from reviewer.models.base import ChatMessage, Completion, GenerateConfig, Provider, Usage
from reviewer.models.pricing import LOCAL
from reviewer.tokens import estimate_tokens

Responder = Callable[[list[ChatMessage], GenerateConfig], "str | list[str]"]


def fixed_review(overall: int, decision: str) -> str:
    low = 2 if overall < 6 else 3
    review = {
        "Summary": "A scripted review from the mock backend.",
        "Strengths": ["(mock) none assessed"],
        "Weaknesses": ["(mock) none assessed"],
        "Originality": low, "Quality": low, "Clarity": low, "Significance": low,
        "Questions": [], "Limitations": [], "Ethical Concerns": False,
        "Soundness": low, "Presentation": low, "Contribution": low,
        "Overall": overall, "Confidence": 1, "Decision": decision,
    }
    return "THOUGHT:\nI am done\n\nREVIEW JSON:\n```json\n" + json.dumps(review) + "\n```"


BUILT_IN: dict[str, Responder] = {
    "accept": lambda messages, config: fixed_review(7, "Accept"),
    "reject": lambda messages, config: fixed_review(3, "Reject"),
}


class MockProvider(Provider):
    supports_n = True
    pricing = LOCAL

    def __init__(self, name: str = "mock/test", responder: Responder | None = None, *,
                 supports_n: bool = True, context_window: int = 128_000):
        script = name.split("/", 1)[-1]
        if responder is None and script not in BUILT_IN:
            raise ValueError(f"unknown mock script {script!r}; built in: {sorted(BUILT_IN)}")
        self.name = name
        self.responder = responder or BUILT_IN[script]
        self.supports_n = supports_n
        self.context_window = context_window
        self.requests: list[tuple[list[ChatMessage], GenerateConfig]] = []

    async def generate(self, messages: list[ChatMessage], config: GenerateConfig) -> Completion:
        self.requests.append((messages, config))
        answer = self.responder(messages, config)
        texts = [answer] if isinstance(answer, str) else list(answer)
        wanted = config.n if self.supports_n else 1
        texts = (texts * wanted)[:wanted]
        prompt = sum(estimate_tokens(m.content) for m in messages)
        return Completion(texts=texts, usage=Usage(prompt, sum(estimate_tokens(t) for t in texts)), model=self.name)
