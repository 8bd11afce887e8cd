"""Whether a review asks for another experiment before the paper is revised, and what it is."""

from __future__ import annotations

from typing import Literal

from reviewer.models.wrapper import Model
from reviewer.parsing import ReviewParseError, extract_json
from scientist.llm import Chat, render

#: auto: the model reads the review and decides; always: one more run every revision; never: text only.
ReviseExperiments = Literal["auto", "always", "never"]
ANY_EXPERIMENT = "the one additional run that best answers the reviewer's weaknesses and questions"


def bullets(items: list[str]) -> str:
    return "\n".join(f"- {item}" for item in items) or "- none"


async def requested_experiment(model: Model, system: str, *, weaknesses: str, questions: str, notes: str,
                               mode: ReviseExperiments) -> str | None:
    """The experiment to run before the revision, in words, or None for a text-only revision."""
    if mode == "never":
        return None
    answer = await Chat(model, system, temperature=0.3).ask(render(
        "revision_experiment_decision", weaknesses=weaknesses, questions=questions, notes=notes))
    try:
        plan = str(extract_json(answer).get("Experiment") or "").strip()
    except ReviewParseError:
        plan = ""
    return plan or (ANY_EXPERIMENT if mode == "always" else None)
