"""The result of reviewing one paper: a validated review, or a typed failure."""

from __future__ import annotations

from typing import Literal, Protocol

from pydantic import BaseModel, Field

from corpus.injection import InjectionReport, find_injections
from corpus.paper import HiddenText, Paper
from reviewer.form import ReviewForm
from reviewer.transcript import Transcript


class ReviewMeta(BaseModel):
    model: str
    config: dict = Field(default_factory=dict)
    usage: dict = Field(default_factory=dict)
    #: None ("unknown") when the model's price is not known.
    cost_usd: float | None = 0.0
    calls: int = 0
    cached_calls: int = 0
    latency_s: float = 0.0
    decision_by_threshold: Literal["Accept", "Reject"] | None = None
    threshold: float | None = None
    #: Mean Overall over the ensemble before rounding (a continuous score for AUC).
    overall_mean: float | None = None
    truncated: bool = False
    truncation: dict = Field(default_factory=dict)
    #: Ensemble members dropped because they never parsed, repairs asked for, etc.
    failures: dict = Field(default_factory=dict)
    hidden_text: HiddenText | None = None
    #: Instructions addressed to an LLM reviewer in the text the model was shown.
    injection: InjectionReport | None = None
    #: Free-form details a reviewer wants to keep (e.g. the offline model's evidence).
    extra: dict = Field(default_factory=dict)
    #: Who priced the calls, and what of the configuration the model did not take (a temperature
    #: not applied, a parameter dropped after the API rejected it).
    notes: list[str] = Field(default_factory=list)

    @classmethod
    def for_paper(cls, paper: Paper, **fields) -> ReviewMeta:
        """The meta of a review of ``paper``: what the reader kept out of it, and the
        instructions to an LLM reviewer left in it."""
        return cls(hidden_text=paper.hidden, injection=find_injections(paper.text), **fields)


class ReviewFailure(BaseModel):
    kind: Literal["provider", "parse", "input", "context", "internal"]
    message: str


class ReviewOutcome(BaseModel):
    paper_id: str
    review: ReviewForm | None = None
    failure: ReviewFailure | None = None
    meta: ReviewMeta
    #: Every model call of the review (None when not kept, or when no model was called).
    transcript: Transcript | None = None

    @property
    def ok(self) -> bool:
        return self.review is not None

    def to_json_dict(self) -> dict:
        """The ``--format json`` shape: the form's fields at top level, plus ``meta`` (and
        ``transcript`` when kept)."""
        body = self.review.to_json_dict() if self.review else {}
        body["meta"] = self.meta.model_dump(mode="json")
        if self.failure:
            body["meta"]["error"] = self.failure.model_dump()
        if self.transcript is not None:
            body["transcript"] = self.transcript.model_dump(mode="json")
        return body


class PaperReviewer(Protocol):
    """Anything that reviews papers: the LLM pipeline, the offline model."""

    async def review(self, paper: Paper) -> ReviewOutcome: ...

    @property
    def notes(self) -> list[str]:
        """For the run's manifest: who priced the calls, parameters not applied or dropped."""
        ...

    async def aclose(self) -> None: ...
