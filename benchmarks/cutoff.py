"""Whether a benchmark's papers predate the reviewing model's training cutoff: a model that may
have read the papers, their reviews and their decisions can recall instead of review."""

from __future__ import annotations

from pydantic import BaseModel

from corpus.dataset import Dataset
from reviewer.models.registry import ModelStringError, model_facts_for


class CutoffCheck(BaseModel):
    #: The model's knowledge cutoff as its catalogue gives it ("2023-09", "2025-08-31"), None when unknown.
    model_cutoff: str | None = None
    #: The date from which the papers were public, None when the dataset does not say.
    papers_public_since: str | None = None
    #: True: the papers were public before the cutoff; None: one of the two dates is unknown.
    predates_cutoff: bool | None = None
    message: str


def check_cutoff(model: str, data: Dataset) -> CutoffCheck | None:
    """None for reviewers trained here (the offline model) and scripted ones (mock)."""
    if model == "embedded" or model.startswith("mock/"):
        return None
    try:
        cutoff = model_facts_for(model).knowledge
    except ModelStringError:
        cutoff = None
    public = data.public_since
    if cutoff is None or public is None:
        unknown = "the model's training cutoff" if cutoff is None else f"when {data.name}'s papers were public"
        return CutoffCheck(model_cutoff=cutoff, papers_public_since=public,
                           message=f"{unknown} is unknown: the model may have read {data.name}'s papers, reviews "
                                   "and decisions; `review-bench probe` measures what it recalls")
    # Month precision: catalogues give cutoffs as "YYYY-MM" or "YYYY-MM-DD".
    predates = public[:7] <= cutoff[:7]
    if predates:
        message = (f"{data.name}'s papers were public from {public}, before {model}'s training cutoff ({cutoff}): "
                   "the model may have read them, their reviews and decisions, so its reviews can be recall; "
                   "prefer a venue after the cutoff (`review-bench data download`), or measure recall with "
                   "`review-bench probe`")
    else:
        message = f"{data.name}'s papers were public from {public}, after {model}'s training cutoff ({cutoff})"
    return CutoffCheck(model_cutoff=cutoff, papers_public_since=public, predates_cutoff=predates, message=message)
