"""Turning a model's answer into a validated review form."""

from __future__ import annotations

import json
import re

from pydantic import ValidationError

from reviewer.form import ReviewForm

FENCED = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)
#: "I am done" as a statement of its own (the reflection prompt asks for exactly that): at the
#: start of a line or after a sentence, and ending the line or the sentence. "I am not sure I
#: am done yet" is not a declaration.
DONE_DECLARATION = re.compile(
    r"(?:^|[.!?:;]\s)[\s*_\"']*i am done[\s*_\"']*[.!]?[\s*_\"']*$", re.IGNORECASE | re.MULTILINE
)


class ReviewParseError(ValueError):
    """The answer holds no valid review; the message says why, for the repair prompt."""


def extract_json(text: str) -> dict:
    candidates = [block.strip() for block in FENCED.findall(text)]
    start, end = text.find("{"), text.rfind("}")
    if start != -1 and end > start:
        candidates.append(text[start : end + 1])
    if not candidates:
        raise ReviewParseError("the answer contains no JSON object")
    error = "no JSON object could be decoded"
    for candidate in reversed(candidates):  # the final block is the final answer
        for attempt in (candidate, re.sub(r",\s*([}\]])", r"\1", candidate)):
            try:
                value = json.loads(attempt)
            except json.JSONDecodeError as exc:
                error = f"invalid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
                continue
            if isinstance(value, dict):
                return value
            error = "the JSON is not an object"
    raise ReviewParseError(error)


def parse_review(text: str) -> ReviewForm:
    data = extract_json(text)
    try:
        return ReviewForm.model_validate(data)
    except ValidationError as exc:
        raise ReviewParseError(validation_summary(exc)) from None


def validation_summary(exc: ValidationError, limit: int = 8) -> str:
    """Pydantic's errors as one line: ``field: problem; ...``."""
    return "; ".join(
        f"{'.'.join(str(part) for part in err['loc']) or 'value'}: {err['msg']}" for err in exc.errors()[:limit]
    )


def says_done(text: str) -> bool:
    """Whether the model declared "I am done" in its thoughts (the text before the review JSON)."""
    thoughts = text.split("```", 1)[0]
    start = thoughts.find("{")
    return DONE_DECLARATION.search(thoughts if start == -1 else thoughts[:start]) is not None
