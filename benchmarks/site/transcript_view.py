"""A transcript as a paper page shows it: each call with a title that says what it was, the
messages it sent (each in full where it first appears, later as a link back), its answers
and their parse errors."""

from __future__ import annotations

from dataclasses import dataclass

from reviewer.transcript import Block, ModelCall, Transcript

STEP_TITLES = {"meta_review": "Meta-review (area chair)"}


@dataclass
class Part:
    text: str | None = None
    block: Block | None = None


@dataclass
class MessageView:
    index: int
    role: str
    parts: list[Part]
    #: Where the message is shown in full: the anchor of its first appearance.
    anchor: str
    first: bool
    chars: int


@dataclass
class AnswerView:
    anchor: str
    label: str
    parts: list[Part]
    parse_error: str | None


@dataclass
class CallView:
    number: int
    title: str
    call: ModelCall
    messages: list[MessageView]
    answers: list[AnswerView]


def _parts(transcript: Transcript, index: int) -> list[Part]:
    return [Part(text=part) if isinstance(part, str) else Part(block=transcript.block(part.block))
            for part in transcript.messages[index].parts]


def _answer_labels(transcript: Transcript) -> dict[tuple[int, int], str]:
    """What each answer is: "draft 2", "meta-review", "reflection round 3", or a repair of one."""
    labels: dict[tuple[int, int], str] = {}
    for number, call in enumerate(transcript.calls):
        for answer in range(len(call.answers)):
            if call.step == "draft":
                labels[number, answer] = f"draft {answer + 1}"
            elif call.step == "meta_review":
                labels[number, answer] = "meta-review"
            elif call.step == "reflection":
                labels[number, answer] = f"reflection round {call.round}"
            else:
                labels[number, answer] = f"{_repaired(call, labels)} (repair {call.attempt})"
    return labels


def _repaired(call: ModelCall, labels: dict[tuple[int, int], str]) -> str:
    """The answer a repair chain began with, e.g. "draft 2"."""
    return labels.get((call.repair_of.call, call.repair_of.answer), "an answer").split(" (repair")[0]


def _title(call: ModelCall, labels: dict[tuple[int, int], str]) -> str:
    if call.step == "draft":
        return f"Drafts 1–{call.n} (one call, n={call.n})" if call.n > 1 else "Draft"
    if call.step == "reflection":
        return f"Reflection round {call.round}"
    if call.step == "repair":
        return f"Repair {call.attempt} of {_repaired(call, labels)}"
    return STEP_TITLES[call.step]


def transcript_view(transcript: Transcript, prefix: str) -> list[CallView]:
    """``prefix`` makes the anchors unique on a page that shows several transcripts."""
    labels = _answer_labels(transcript)
    shown: dict[int, str] = {}
    views = []

    def message(index: int) -> MessageView:
        first = index not in shown
        if first:
            shown[index] = f"{prefix}-m{index}"
        parts = _parts(transcript, index)
        chars = sum(len(p.text) if p.text is not None else p.block.chars for p in parts)
        return MessageView(index, transcript.messages[index].role, parts, shown[index], first, chars)

    for number, call in enumerate(transcript.calls):
        messages = [message(index) for index in call.input]
        answers = []
        for position, answer in enumerate(call.answers):
            # An answer is sent back in later calls: those link here instead of repeating it.
            anchor = shown.setdefault(answer.message, f"{prefix}-m{answer.message}")
            answers.append(AnswerView(anchor, labels[number, position], _parts(transcript, answer.message),
                                      answer.parse_error))
        views.append(CallView(number + 1, _title(call, labels), call, messages, answers))
    return views
