"""The run record: a manifest and one line per paper. Everything downstream (resume,
scores, reports) is recomputed from these, without calling a model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from benchmarks.transcript_file import TranscriptLocation
from benchmarks.cutoff import CutoffCheck
from corpus.dataset import HumanLabel
from reviewer.transcript import Transcript

if TYPE_CHECKING:
    from reviewer.outcome import ReviewOutcome

SCHEMA_VERSION = 1


class DatasetInfo(BaseModel):
    name: str
    split: str | None = None
    path: str | None = None
    fingerprint: str | None = None
    n_papers: int = 0
    #: "raw" (the texts as served) or "blind" (leakage removed), prefixed "pdf-" when the
    #: papers were read from PDFs.
    text_mode: str = "raw"


class CodeIdentity(BaseModel):
    """The code that decides a run's reviews besides its config: a resume under other code
    would mix two reviewers in one run."""

    package_version: str = ""
    #: Hash of the prompt templates (``reviewer.prompts.templates_fingerprint``).
    prompts: str = ""
    #: Hash of the blinding rules (``corpus.blind.rules_fingerprint``); empty when the text is not blinded.
    blinding: str = ""


AttackKind = Literal["visible", "hidden"]


class AttackInfo(BaseModel):
    """An attacked run (``run --attack``): which papers got which instruction, how."""

    kind: AttackKind
    share: float
    instruction: str
    paper_ids: list[str] = Field(default_factory=list)


class SubsetInfo(BaseModel):
    """A fixed subset of the split, chosen by a rule before any review (``--length-matched``)."""

    rule: str
    description: str = ""
    paper_ids: list[str] = Field(default_factory=list)
    #: AUC of the text length alone for the human decision on the subset (0.5: length tells nothing).
    length_auc: float | None = None


class RunManifest(BaseModel):
    schema_version: int = SCHEMA_VERSION
    kind: Literal["benchmark", "import", "score", "probe"] = "benchmark"
    name: str = ""
    config: dict = Field(default_factory=dict)
    config_hash: str = ""
    dataset: DatasetInfo
    package_version: str = ""
    code: CodeIdentity | None = None
    git_revision: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    #: "budget": stopped at --max-cost; "quota": the provider's quota ran out (both resumable).
    status: Literal["running", "complete", "interrupted", "budget", "quota", "imported"] = "running"
    limit: int | None = None
    subset: SubsetInfo | None = None
    #: A contamination probe of the same model (``review-bench probe``), shown beside the run.
    probe: str | None = None
    #: Whether each paper's model calls are kept (``--no-transcript`` turns it off).
    transcripts: bool = True
    #: Whether the papers predate the model's training cutoff (``benchmarks.cutoff``).
    training_cutoff: CutoffCheck | None = None
    notes: list[str] = Field(default_factory=list)
    #: Set when a share of the papers carried an instruction to the reviewer (``run --attack``).
    attack: AttackInfo | None = None


class PaperRecord(BaseModel):
    paper_id: str
    ok: bool
    #: The review form with its original field names, or None when the review failed.
    review: dict | None = None
    decision_by_threshold: Literal["Accept", "Reject"] | None = None
    own_decision: Literal["Accept", "Reject"] | None = None
    overall: float | None = None
    #: Mean Overall of the ensemble before rounding, when there was one.
    overall_mean: float | None = None
    human: HumanLabel | None = None
    usage: dict = Field(default_factory=dict)
    #: None ("unknown") when the model's price was not known.
    cost_usd: float | None = 0.0
    calls: int = 0
    latency_s: float = 0.0
    failure: dict | None = None  # {"kind": ..., "message": ...}
    #: Characters of the paper text the reviewer was given (before fitting it to a context window).
    text_chars: int | None = None
    meta: dict = Field(default_factory=dict)
    #: Every model call of the review. Not part of the record's line: the store writes it to
    #: the run's transcripts file and records where (``transcript_at``); read it back with
    #: ``benchmarks.store.read_transcript``.
    transcript: Transcript | None = Field(default=None, exclude=True)
    transcript_at: TranscriptLocation | None = None

    @property
    def score(self) -> float | None:
        """The continuous score used for AUC and correlations."""
        return self.overall_mean if self.overall_mean is not None else self.overall


def record_from_outcome(
    outcome: ReviewOutcome, human: HumanLabel | None = None, text_chars: int | None = None
) -> PaperRecord:
    """One paper's line in a run: the review and both decisions, or the failure and its reason."""
    meta = outcome.meta
    review = outcome.review
    decision = meta.decision_by_threshold
    if decision is None and review is not None and meta.threshold is not None:
        decision = review.decision_at(meta.threshold)
    return PaperRecord(
        paper_id=outcome.paper_id,
        ok=outcome.ok,
        review=review.to_json_dict() if review else None,
        decision_by_threshold=decision,
        own_decision=review.Decision if review else None,
        overall=review.Overall if review else None,
        overall_mean=meta.overall_mean,
        human=human,
        usage=meta.usage,
        cost_usd=meta.cost_usd,
        calls=meta.calls,
        latency_s=meta.latency_s,
        failure=outcome.failure.model_dump() if outcome.failure else None,
        text_chars=text_chars,
        transcript=outcome.transcript,
        meta=meta.model_dump(
            mode="json",
            include={"model", "cached_calls", "threshold", "truncated", "truncation", "failures",
                     "hidden_text", "injection", "extra"},
        ),
    )
