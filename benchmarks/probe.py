"""Contamination probe: has a model seen the benchmark's papers, or their decisions?

Per paper, two requests through the same model wrapper as a review (cache, retries, cost):
from the title alone, whether the model knows the paper and what the venue decided; and,
from the first half of the abstract, its continuation, scored by ROUGE-L F1 against the
true second half. A model that knows the decisions, or recites abstracts, has its benchmark
numbers inflated by memory rather than reviewing.

The probe is a run-like folder (``manifest.json`` of kind ``probe`` + ``records.jsonl``);
its scores are recomputed from the records, like a run's.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field, ValidationError

from benchmarks.records import RunManifest
from benchmarks.stats import BOOTSTRAP_RESAMPLES, binary_metrics, point_and_interval
from benchmarks.store import RunStoreError, read_manifest, read_records
from corpus.abstract import abstract_of, title_of
from corpus.dataset import Dataset, HumanLabel, paper_loader, read_titles
from corpus.paper import PaperInputError
from reviewer.models.base import ChatMessage, GenerateConfig, ProviderError, Usage
from reviewer.models.pricing import add_costs
from reviewer.parsing import ReviewParseError, extract_json, validation_summary
from reviewer.pipeline import CallTally
from reviewer.prompts import render, templates_fingerprint

TEMPLATES = Path(__file__).parent / "templates"
TITLE_CONFIG = GenerateConfig(temperature=0.0, max_tokens=200)
#: Room for the continuation: the true second half's words, at about 1.4 tokens a word, and some more.
CONTINUATION_TOKENS_PER_WORD = 2
MIN_ABSTRACT_WORDS = 20
REPAIRS = 1
_WORD = re.compile(r"\w+")


class TitleAnswer(BaseModel):
    knows_paper: bool
    decision: Literal["Accept", "Reject", "Unknown"]


class ProbeRecord(BaseModel):
    paper_id: str
    ok: bool
    title: str = ""
    human: HumanLabel | None = None
    knows_paper: bool | None = None
    #: The decision the model named from the title; None when it said it does not know.
    decision: Literal["Accept", "Reject"] | None = None
    title_answer: str = ""
    prefix: str = ""
    #: The true second half of the abstract.
    reference: str = ""
    continuation: str = ""
    rouge_l: float | None = None
    usage: dict = Field(default_factory=dict)
    #: None ("unknown") when the model's price is not known.
    cost_usd: float | None = 0.0
    calls: int = 0
    failure: dict | None = None


@dataclass(frozen=True)
class ProbeItem:
    paper_id: str
    title: str
    human: HumanLabel
    prefix: str
    reference: str


# ---- the papers -----------------------------------------------------------------------------


def venue_name(data: Dataset) -> str:
    """"ICLR 2022" from the dataset card's OpenReview venue id, else the dataset's name."""
    venue = (data.card or {}).get("venue", "")
    parts = venue.split("/")
    return f"{parts[0].split('.')[0]} {parts[1]}" if len(parts) >= 2 else data.name


def halves(abstract: str) -> tuple[str, str]:
    """The abstract cut in two at its middle word."""
    words = abstract.split()
    middle = len(words) // 2
    return " ".join(words[:middle]), " ".join(words[middle:])


def probe_items(data: Dataset, limit: int | None = None) -> tuple[list[ProbeItem], list[str]]:
    """The split's papers (the first ``limit`` in the dataset's fixed order) with a title and
    an abstract; and one line for each paper left out, saying why."""
    titles = read_titles(data.folder)
    load = paper_loader("raw")
    items, skipped = [], []
    for paper in data.subset(limit):
        try:
            text = load(paper).text
        except PaperInputError as exc:
            skipped.append(f"{paper.paper_id}: {exc}")
            continue
        abstract = abstract_of(text)
        title = titles.get(paper.paper_id, "").strip() or title_of(text)
        if not title or not abstract or len(abstract.split()) < MIN_ABSTRACT_WORDS:
            skipped.append(f"{paper.paper_id}: no {'title' if not title else 'abstract'} found in its text")
            continue
        prefix, reference = halves(abstract)
        items.append(ProbeItem(paper.paper_id, title, paper.human, prefix, reference))
    return items, skipped


# ---- asking the model -----------------------------------------------------------------------


def title_messages(item: ProbeItem, venue: str) -> list[ChatMessage]:
    return [ChatMessage("user", render("probe_title", TEMPLATES, venue=venue, title=item.title))]


def continuation_messages(item: ProbeItem, venue: str) -> list[ChatMessage]:
    return [ChatMessage("user", render("probe_continue", TEMPLATES, venue=venue, prefix=item.prefix))]


def continuation_config(item: ProbeItem) -> GenerateConfig:
    return GenerateConfig(temperature=0.0, max_tokens=CONTINUATION_TOKENS_PER_WORD * len(item.reference.split()) + 32)


def parse_title_answer(text: str) -> TitleAnswer:
    try:
        return TitleAnswer.model_validate(extract_json(text))
    except ValidationError as exc:
        raise ReviewParseError(validation_summary(exc)) from None


async def probe_paper(model, item: ProbeItem, venue: str) -> ProbeRecord:
    """Both questions for one paper; a provider error or an answer that never parses is a
    failed record with the reason."""
    record = ProbeRecord(paper_id=item.paper_id, ok=False, title=item.title, human=item.human,
                         prefix=item.prefix, reference=item.reference)
    tally = CallTally()
    count = tally.add
    try:
        conversation = title_messages(item, venue)
        for attempt in range(REPAIRS + 1):
            completion = count(await model.generate(conversation, TITLE_CONFIG))
            record.title_answer = completion.texts[0]
            try:
                answer = parse_title_answer(record.title_answer)
                break
            except ReviewParseError as exc:
                if attempt == REPAIRS:
                    record.failure = {"kind": "parse", "message": str(exc)}
                    return record
                conversation = [*conversation, ChatMessage("assistant", record.title_answer),
                                ChatMessage("user", render("probe_repair", TEMPLATES, error=str(exc)))]
        completion = count(await model.generate(continuation_messages(item, venue), continuation_config(item)))
    except ProviderError as exc:
        record.failure = {"kind": "provider", "message": str(exc)}
        return record
    finally:
        record.usage, record.cost_usd, record.calls = tally.usage.to_dict(), tally.cost_usd, tally.calls
    record.continuation = completion.texts[0].strip()
    record.knows_paper = answer.knows_paper
    record.decision = None if answer.decision == "Unknown" else answer.decision
    record.rouge_l = rouge_l(record.continuation, item.reference)
    record.ok = True
    return record


def request_estimate(model, items: list[ProbeItem], venue: str) -> dict:
    """Requests, input tokens, the most output tokens the probe can spend and their most cost
    (None when the price is unknown), before repairs and cache hits."""
    requests = [
        Usage(sum(model.count_tokens(m.content) for m in messages), config.max_tokens)
        for item in items
        for messages, config in ((title_messages(item, venue), TITLE_CONFIG),
                                 (continuation_messages(item, venue), continuation_config(item)))
    ]
    return {"requests": len(requests), "input_tokens": sum(u.input_tokens for u in requests),
            "max_output_tokens": sum(u.output_tokens for u in requests),
            "max_cost_usd": add_costs(model.provider.cost_usd(usage) for usage in requests)}


# ---- ROUGE-L --------------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def lcs_length(a: list[str], b: list[str]) -> int:
    """Length of the longest common subsequence (dynamic programming, one row at a time)."""
    previous = [0] * (len(b) + 1)
    for word in a:
        current = [0]
        for j, other in enumerate(b, start=1):
            current.append(previous[j - 1] + 1 if word == other else max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F1 over lower-cased words, with the candidate cut to the reference's length
    (a continuation that runs on past the abstract is not penalised for it)."""
    reference_words = _words(reference)
    candidate_words = _words(candidate)[: len(reference_words)]
    if not reference_words or not candidate_words:
        return 0.0
    common = lcs_length(candidate_words, reference_words)
    if common == 0:
        return 0.0
    precision, recall = common / len(candidate_words), common / len(reference_words)
    return 2 * precision * recall / (precision + recall)


# ---- scores -----------------------------------------------------------------------------


def _decision_scores(accepted, said_accept, said_reject, known) -> dict[str, np.ndarray]:
    correct = (said_accept & accepted) | (said_reject & ~accepted)
    answered = said_accept | said_reject
    base = accepted.mean(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "claims_known": known.mean(-1),
            "answered": answered.mean(-1),
            "decision_recall": correct.mean(-1),
            # What the model's answers would recall if they were unrelated to the truth.
            "decision_recall_chance": said_accept.mean(-1) * base + said_reject.mean(-1) * (1 - base),
            "decision_accuracy_answered": correct.sum(-1) / answered.sum(-1),
        }


def _overlap_scores(own, other) -> dict[str, np.ndarray]:
    return {"rouge_l": own.mean(-1), "rouge_l_other_paper": other.mean(-1), "rouge_l_excess": (own - other).mean(-1)}


def probe_metrics(records: list[ProbeRecord]) -> dict:
    """Decision recall against what the model's answers recall by chance and the majority
    base rate, and continuation overlap against the overlap with another paper's abstract,
    each with a percentile bootstrap 95% interval over papers."""
    done = sorted((r for r in records if r.ok and r.human and r.human.accepted is not None),
                  key=lambda r: hashlib.sha256(r.paper_id.encode()).hexdigest())
    accepted = np.array([r.human.accepted for r in done], dtype=bool)
    said_accept = np.array([r.decision == "Accept" for r in done], dtype=bool)
    said_reject = np.array([r.decision == "Reject" for r in done], dtype=bool)
    known = np.array([bool(r.knows_paper) for r in done], dtype=bool)
    decisions, decisions_ci = point_and_interval(_decision_scores, accepted, said_accept, said_reject, known)
    answered = said_accept | said_reject
    balanced = binary_metrics(accepted[answered], said_accept[answered])["balanced_accuracy"] if answered.any() else None
    # The baseline pairs each continuation with the next paper's true second half.
    own = np.array([r.rouge_l for r in done], dtype=float)
    other = np.array([rouge_l(r.continuation, done[(i + 1) % len(done)].reference) for i, r in enumerate(done)])
    overlap, overlap_ci = point_and_interval(_overlap_scores, own, other)
    base = float(accepted.mean()) if len(done) else None
    return {
        "n": len(records),
        "n_failed": sum(not r.ok for r in records),
        "n_scored": len(done),
        **decisions,
        "decision_balanced_accuracy_answered": balanced,
        "majority_base_rate": None if base is None else max(base, 1 - base),
        **overlap,
        "ci": {**decisions_ci, **overlap_ci},
        "bootstrap": {"resamples": BOOTSTRAP_RESAMPLES, "level": 0.95},
        "cost_usd": add_costs(r.cost_usd for r in records),
    }


# ---- a probe on disk --------------------------------------------------------------------------


def read_probe(probe_dir: str | Path) -> tuple[RunManifest, list[ProbeRecord]]:
    manifest = read_manifest(probe_dir)
    if manifest.kind != "probe":
        raise RunStoreError(f"{probe_dir}: not a probe (its manifest is of kind {manifest.kind!r})")
    return manifest, read_records(probe_dir, ProbeRecord)


def find_probe(run_dir: Path, manifest: RunManifest) -> Path | None:
    """The probe a run points to, else the latest probe of the same model and dataset beside it."""
    if manifest.probe:
        path = Path(manifest.probe)
        return path if (path / "manifest.json").is_file() else None
    model = manifest.config.get("model")
    found = []
    for candidate in run_dir.parent.glob("*/manifest.json"):
        try:
            other = read_manifest(candidate.parent)
        except RunStoreError:
            continue
        if other.kind == "probe" and other.config.get("model") == model and other.dataset.name == manifest.dataset.name:
            found.append((other.started_at or "", candidate.parent))
    return max(found)[1] if found and model else None


def probe_summary(metrics: dict) -> str:
    """One line for a report."""
    def number(key):
        value = metrics.get(key)
        return "–" if value is None else f"{value:.2f}"

    return (f"decision recall {number('decision_recall')} (chance {number('decision_recall_chance')}), "
            f"claims to know {number('claims_known')}; abstract ROUGE-L {number('rouge_l')} "
            f"(another paper's {number('rouge_l_other_paper')}); {metrics['n_scored']} papers")


async def run_probe(items: list[ProbeItem], model, store, venue: str, *, concurrency: int, progress) -> None:
    """Probe the papers not yet recorded in ``store``, ``concurrency`` at a time."""
    done = {r.paper_id for r in read_records(store.run_dir, ProbeRecord) if r.ok}
    todo = iter([item for item in items if item.paper_id not in done])
    task = progress.add_task("probing", total=len(items), completed=len(done))

    async def worker() -> None:
        for item in todo:
            store.append(await probe_paper(model, item, venue))
            progress.update(task, advance=1)

    with progress:
        await asyncio.gather(*(worker() for _ in range(concurrency)))


def probe_code() -> str:
    return templates_fingerprint(TEMPLATES)
