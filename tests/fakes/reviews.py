"""Review answers as a model would write them, and a responder that plays every step."""

from __future__ import annotations

import json
import re

from fakes.llm_server import SeenRequest


def review_dict(overall: int = 6, decision: str | None = None, **changes) -> dict:
    review = {
        "Summary": "The paper proposes a method and evaluates it.",
        "Strengths": ["Clear motivation"],
        "Weaknesses": ["Limited baselines"],
        "Originality": 3,
        "Quality": 3,
        "Clarity": 3,
        "Significance": 2,
        "Questions": ["How does it scale?"],
        "Limitations": ["Small datasets"],
        "Ethical Concerns": False,
        "Soundness": 3,
        "Presentation": 3,
        "Contribution": 2,
        "Overall": overall,
        "Confidence": 4,
        "Decision": decision or ("Accept" if overall >= 6 else "Reject"),
    }
    review.update(changes)
    return review


def answer(review: dict, thought: str = "The paper is fine.") -> str:
    return f"THOUGHT:\n{thought}\n\nREVIEW JSON:\n```json\n{json.dumps(review, indent=2)}\n```"


ROUND = re.compile(r"Round (\d+)/(\d+)")


def classify(seen: SeenRequest) -> str:
    """Which step of the pipeline a request is: review, meta, reflection or repair."""
    last = seen.last_user
    if "could not be used" in last:
        return "repair"
    if ROUND.search(last):
        return "reflection"
    if "Area Chair" in seen.system:
        return "meta"
    return "review"


def scripted_reviewer(overalls=(6, 5, 7, 4, 8), done_at_round: int | None = 3, tag=None):
    """A responder for the whole pipeline: k different reviews, a meta-review, and
    reflections that say "I am done" from round ``done_at_round`` on. ``tag(seen)``, when
    given, is appended to every Summary (e.g. to tell which paper a request was for)."""

    def summary(seen: SeenRequest, text: str) -> dict:
        return {"Summary": text + (f" {tag(seen)}" if tag else "")}

    def respond(seen: SeenRequest):
        kind = classify(seen)
        if kind == "review":
            wanted = seen.n
            default = review_dict()["Summary"]
            return [answer(review_dict(overalls[i % len(overalls)], **summary(seen, default))) for i in range(wanted)]
        if kind == "meta":
            return answer(review_dict(5, **summary(seen, "Meta-review of the ensemble.")))
        if kind == "reflection":
            current = int(ROUND.search(seen.last_user).group(1))
            done = done_at_round is not None and current >= done_at_round
            thought = "I am done" if done else "Sharpening the weaknesses."
            return answer(review_dict(5, **summary(seen, f"Reflected in round {current}.")), thought)
        return answer(review_dict(5, **summary(seen, review_dict()["Summary"])))

    return respond


def one_member_never_parses(seen: SeenRequest):
    """Three drafts (Overall 8, garbage, 4) whose garbage stays garbage when repaired; every
    other request gets a valid review."""
    kind = classify(seen)
    if kind == "review":
        return [answer(review_dict(8)), "garbage", answer(review_dict(4))]
    if kind == "repair":
        return "still garbage"
    return answer(review_dict(5))
