"""The NeurIPS review form as a typed model, with the original system's field names."""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


def _as_list(value):
    """Models write list fields as one string now and then; keep them as lists."""
    if isinstance(value, str):
        return [value] if value.strip() else []
    return value


def _as_decision(value):
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered.startswith("accept"):
            return "Accept"
        if lowered.startswith("reject"):
            return "Reject"
    return value


TextList = Annotated[list[str], BeforeValidator(_as_list)]
Score4 = Annotated[int, Field(ge=1, le=4)]

SCORE_FIELDS: dict[str, tuple[int, int]] = {
    "Originality": (1, 4),
    "Quality": (1, 4),
    "Clarity": (1, 4),
    "Significance": (1, 4),
    "Soundness": (1, 4),
    "Presentation": (1, 4),
    "Contribution": (1, 4),
    "Overall": (1, 10),
    "Confidence": (1, 5),
}

SUB_SCORES = ("Originality", "Quality", "Clarity", "Significance", "Soundness", "Presentation", "Contribution")


def form_score(name: str, value: float) -> int:
    """A continuous value as the form's integer for ``name``: halves round up, and the result
    is clipped to the field's range."""
    low, high = SCORE_FIELDS[name]
    return int(min(high, max(low, math.floor(value + 0.5))))


def sub_score_for_rating(rating: float) -> int:
    """The 1-4 sub-score a 1-10 overall rating maps onto (linearly)."""
    return form_score("Soundness", 1 + 3 * (rating - 1) / 9)


class ReviewForm(BaseModel):
    """One review. Field names are exactly those of the original system's JSON."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    Summary: str
    Strengths: TextList
    Weaknesses: TextList
    Originality: Score4
    Quality: Score4
    Clarity: Score4
    Significance: Score4
    Questions: TextList
    Limitations: TextList
    Ethical_Concerns: bool = Field(alias="Ethical Concerns")
    Soundness: Score4
    Presentation: Score4
    Contribution: Score4
    Overall: Annotated[int, Field(ge=1, le=10)]
    Confidence: Annotated[int, Field(ge=1, le=5)]
    Decision: Annotated[Literal["Accept", "Reject"], BeforeValidator(_as_decision)]

    def decision_at(self, threshold: float) -> Literal["Accept", "Reject"]:
        """The decision implied by ``Overall >= threshold``."""
        return "Accept" if self.Overall >= threshold else "Reject"

    def to_json_dict(self) -> dict:
        """The form with the original field names (``Ethical Concerns`` with a space)."""
        return self.model_dump(by_alias=True)


FIELD_NAMES: list[str] = [
    (info.alias or name) for name, info in ReviewForm.model_fields.items()
]
