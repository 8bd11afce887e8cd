"""Transcripts: every model call of one review, in order, as typed events.

A call records its step (an ensemble draft, the area chair's meta-review, a reflection round,
the repair of an earlier answer), the messages it sent, the answers it got, whether each
answer parsed, and its usage, cost, latency and cache hit.

Nothing long is stored twice. Each distinct message is kept once in ``Transcript.messages``
and a call lists the indices of the messages it sent; an answer is an index too, since it
becomes the assistant message of the next turn. Long texts inside messages (the paper, the
few-shot examples) are ``Block``s kept once and referred to by id from a message's parts;
a block ``shared`` by every paper of a run is written once for the whole run by the store.
"""

from __future__ import annotations

import hashlib
import time
from typing import Literal

from pydantic import BaseModel, Field

from reviewer.models.base import ChatMessage, Completion, GenerateConfig, ProviderError

Step = Literal["draft", "meta_review", "reflection", "repair"]
MessageRole = Literal["system", "user", "assistant"]


class Block(BaseModel):
    """A long text that messages refer to by id instead of repeating it."""

    id: str
    label: str
    chars: int
    #: The same for every paper of a run (the few-shot examples): a run keeps it once, and a
    #: transcript read back without its run has ``text`` None.
    shared: bool = False
    text: str | None = None


class BlockRef(BaseModel):
    block: str


class Message(BaseModel):
    role: MessageRole
    #: The content, in order: literal text, and references to blocks.
    parts: list[str | BlockRef]


class AnswerRef(BaseModel):
    """One answer of one call (a call with ``n`` > 1 has several)."""

    call: int
    answer: int


class Answer(BaseModel):
    #: Index of the answer in ``Transcript.messages`` (an assistant message).
    message: int
    #: Why the answer was not a valid review, when it was parsed and was not.
    parse_error: str | None = None


class ModelCall(BaseModel):
    event: Literal["model"] = "model"
    step: Step
    #: Reflection round (2 .. reflections); the first answer is round 1.
    round: int | None = None
    #: For a repair: the answer it asks the model to fix, and which repair of that answer it is.
    repair_of: AnswerRef | None = None
    attempt: int | None = None
    model: str
    temperature: float
    max_tokens: int
    n: int = 1
    #: Indices in ``Transcript.messages`` of the messages sent, in order.
    input: list[int]
    answers: list[Answer] = Field(default_factory=list)
    #: The provider error that ended the call (after the wrapper's retries), if any.
    error: str | None = None
    usage: dict = Field(default_factory=dict)
    #: What the call charged the review: nothing for a cache hit (``usage`` is the original's);
    #: None when the model's price is unknown.
    cost_usd: float | None = 0.0
    cached: bool = False
    #: Requests that returned answers (a draft call without ``n`` support makes one per draft),
    #: and requests that failed: those the wrapper retried, and the last one of a failed call.
    requests: int = 0
    failed_requests: int = 0
    #: When the call began, in seconds since the review began, and how long the review waited
    #: for it: queueing, retries and the answer itself.
    started_s: float = 0.0
    latency_s: float = 0.0


class Transcript(BaseModel):
    blocks: list[Block] = Field(default_factory=list)
    messages: list[Message] = Field(default_factory=list)
    calls: list[ModelCall] = Field(default_factory=list)

    def block(self, block_id: str) -> Block:
        return next(block for block in self.blocks if block.id == block_id)

    def text(self, message: int | Message) -> str:
        """A message's content with its blocks filled in (a shared block must have its text)."""
        if isinstance(message, int):
            message = self.messages[message]
        texts = {block.id: block.text for block in self.blocks}
        return "".join(part if isinstance(part, str) else texts[part.block] for part in message.parts)

    def answer_text(self, ref: AnswerRef) -> str:
        return self.text(self.calls[ref.call].answers[ref.answer].message)

    @property
    def requests(self) -> int:
        """Every request the calls made to the server, failed ones included."""
        return sum(call.requests + call.failed_requests for call in self.calls)


def block_id(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class TranscriptRecorder:
    """Builds a transcript while a review runs: the pipeline reports each call and each answer
    that did not parse; messages are pooled as they arrive."""

    def __init__(self, model: str):
        self.model = model
        self.transcript = Transcript()
        self._began = time.monotonic()
        self._pool: dict[tuple[str, str], int] = {}

    def add_block(self, label: str, text: str, *, shared: bool = False) -> None:
        """Mark a text that messages contain, so that it is stored once."""
        if text and all(block.text != text for block in self.transcript.blocks):
            self.transcript.blocks.append(Block(id=block_id(text), label=label, chars=len(text), shared=shared,
                                                text=text))

    def start(self) -> float:
        return time.monotonic()

    def completed(self, started: float, messages: list[ChatMessage], config: GenerateConfig,
                  completion: Completion, **role) -> int:
        """Record a call that answered; returns its index (``AnswerRef.call``)."""
        call = self._call(started, messages, config, role)
        call.answers = [Answer(message=self._message("assistant", text)) for text in completion.texts]
        call.usage = completion.usage.to_dict()
        call.cost_usd = completion.cost_usd
        call.cached = completion.cached
        call.requests = completion.calls
        call.failed_requests = completion.retries
        return self._append(call)

    def failed(self, started: float, messages: list[ChatMessage], config: GenerateConfig, error: ProviderError,
               **role) -> None:
        call = self._call(started, messages, config, role)
        call.error = f"{type(error).__name__}: {error}"
        call.failed_requests = error.attempts
        self._append(call)

    def parse_failed(self, ref: AnswerRef, error: Exception) -> None:
        self.transcript.calls[ref.call].answers[ref.answer].parse_error = str(error)

    def _call(self, started: float, messages: list[ChatMessage], config: GenerateConfig, role: dict) -> ModelCall:
        return ModelCall(
            model=self.model,
            temperature=config.temperature,
            max_tokens=config.max_tokens,
            n=config.n,
            input=[self._message(m.role, m.content) for m in messages],
            started_s=round(started - self._began, 3),
            latency_s=round(time.monotonic() - started, 3),
            **role,
        )

    def _append(self, call: ModelCall) -> int:
        self.transcript.calls.append(call)
        return len(self.transcript.calls) - 1

    def _message(self, role: MessageRole, content: str) -> int:
        key = (role, content)
        index = self._pool.get(key)
        if index is None:
            index = self._pool[key] = len(self.transcript.messages)
            self.transcript.messages.append(Message(role=role, parts=self._parts(content)))
        return index

    def _parts(self, content: str) -> list[str | BlockRef]:
        parts: list[str | BlockRef] = [content]
        for block in self.transcript.blocks:
            split: list[str | BlockRef] = []
            for part in parts:
                if not isinstance(part, str) or block.text not in part:
                    split.append(part)
                    continue
                pieces = part.split(block.text)
                for number, piece in enumerate(pieces):
                    if number:
                        split.append(BlockRef(block=block.id))
                    if piece:
                        split.append(piece)
            parts = split
        return parts
