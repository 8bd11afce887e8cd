"""Supervised chat examples for LoRA fine-tuning: the reviewer's own prompt -> a review.

Each example is the system prompt and review request the pipeline sends (paper text fitted
to a token budget), answered by a target review. Targets come from human data only (the
mean rating and the real decision, plus human review text where the corpus has it) or,
with ``teacher_run``, from a benchmark run's reviews. The eval split is never used.

The output is a Hugging Face ``datasets`` dataset on disk in TRL's conversational
prompt-completion format (``prompt``: the system and user turns, ``completion``: the
assistant turn), memory-mapped by the trainer rather than read into a list.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from pydantic import BaseModel, Field, ValidationError

from benchmarks.store import read_manifest, read_records
from corpus.dataset import Dataset, DatasetPaper, HumanLabel, data_root, load_benchmark, paper_loader
from reviewer.config import ReviewConfig, SystemPrompt
from reviewer.form import SUB_SCORES, ReviewForm, form_score, sub_score_for_rating
from reviewer.models.base import MissingDependencyError
from reviewer.tokens import estimate_tokens

EVAL_SPLIT = "eval"
CARD_FILE = "data_card.json"
#: Chat-template tokens (role headers, bos/eos) not counted by the estimate.
TEMPLATE_MARGIN_TOKENS = 64
#: Subscores and confidence of a human target are not in the ratings; see the README.
HUMAN_CONFIDENCE = 3


class BuildDataError(Exception):
    """Input that cannot make training data. The message is one line."""


class BuildDataOptions(BaseModel):
    benchmark: str = "iclr2022"
    data_dir: str | None = None
    split: str = "train"
    text: str = "blind"
    max_tokens: int = Field(default=16_000, ge=512)
    tokenizer: str | None = None
    teacher: str | None = None
    reviews: str | None = None
    system_prompt: SystemPrompt = "critical"
    limit: int | None = Field(default=None, ge=1)


class TokenStats(BaseModel):
    count: int
    min: int
    median: float
    mean: float
    max: int
    total: int

    @classmethod
    def of(cls, values: list[int]) -> "TokenStats":
        return cls(count=len(values), min=min(values), median=statistics.median(values),
                   mean=round(statistics.fmean(values), 1), max=max(values), total=sum(values))


class DataCard(BaseModel):
    created_at: str
    options: BuildDataOptions
    dataset_fingerprint: str
    target_source: str
    token_counter: str
    n_examples: int
    accept: int
    reject: int
    truncated: int
    skipped: dict[str, int]
    paper_tokens_before_fit: TokenStats
    example_tokens: TokenStats
    answer_tokens: TokenStats
    eval_papers_checked: int


@dataclass
class Example:
    paper_id: str
    prompt: list[dict]
    completion: list[dict]
    target_source: str
    tokens: int
    answer_tokens: int
    truncated: bool


def review_answer(review: dict) -> str:
    """The assistant turn: the form's JSON in the block the reviewer's parser reads."""
    return f"REVIEW JSON:\n```json\n{json.dumps(review, indent=2, ensure_ascii=False)}\n```"


def human_target(label: HumanLabel, reviews: list[dict] | None = None) -> dict | None:
    """Overall = rounded mean rating, Decision = the real decision; the 1-4 subscores are
    the mean rating mapped onto 1-4. Text comes from the human review whose
    recommendation is closest to the mean, when there are review texts."""
    if label.mean_rating is None or label.accepted is None:
        return None
    mean = label.mean_rating
    review = {name: sub_score_for_rating(mean) for name in SUB_SCORES}
    review.update(
        Summary="", Strengths=[], Weaknesses=[], Questions=[], Limitations=[],
        Overall=form_score("Overall", mean), Confidence=HUMAN_CONFIDENCE,
        Decision="Accept" if label.accepted else "Reject",
    )
    review["Ethical Concerns"] = False
    closest = _closest_review(reviews or [], mean)
    if closest:
        review["Summary"] = str(closest.get("comments", "")).strip()
        confidence = _number(closest.get("REVIEWER_CONFIDENCE"))
        if confidence is not None:
            review["Confidence"] = form_score("Confidence", confidence)
    return ReviewForm.model_validate(review).to_json_dict()


def _closest_review(reviews: list[dict], mean: float) -> dict | None:
    with_text = [r for r in reviews if str(r.get("comments", "")).strip()]
    scored = [(abs(_number(r.get("RECOMMENDATION")) - mean), i, r) for i, r in enumerate(with_text)
              if _number(r.get("RECOMMENDATION")) is not None]
    if scored:
        return min(scored)[2]
    return with_text[0] if with_text else None


def _number(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def read_peerread_reviews(folder: Path | None, paper_id: str) -> list[dict]:
    """``<folder>/<paper_id>.json`` holding ``{"reviews": [{"comments": ..., "RECOMMENDATION": ...}]}``."""
    if folder is None:
        return []
    path = folder / f"{paper_id}.json"
    if not path.is_file():
        return []
    try:
        reviews = json.loads(path.read_text(encoding="utf-8")).get("reviews", [])
    except (json.JSONDecodeError, AttributeError):
        raise BuildDataError(f"{path}: not PeerRead-style review JSON ({{\"reviews\": [...]}})") from None
    return [r for r in reviews if isinstance(r, dict)]


def teacher_reviews(run_dir: Path, eval_ids: set[str]) -> dict[str, dict]:
    """The valid reviews of a benchmark run; a run that touched the eval split is refused."""
    manifest = read_manifest(run_dir)
    if manifest.dataset.split == EVAL_SPLIT:
        raise BuildDataError(f"{run_dir}: the teacher run reviewed the eval split; distil a run over train")
    records = read_records(run_dir)
    overlap = sorted({r.paper_id for r in records} & eval_ids)
    if overlap:
        raise BuildDataError(
            f"{run_dir}: {len(overlap)} of the teacher's papers are in the eval split (e.g. {overlap[0]})"
        )
    reviews = {}
    for record in records:
        if record.ok and record.review:
            try:
                reviews[record.paper_id] = ReviewForm.model_validate(record.review).to_json_dict()
            except ValidationError:
                continue
    return reviews


def token_counter(tokenizer_dir: str | None) -> tuple[str, Callable[[str], int], Callable[[list[dict]], int]]:
    """(name, count text, count a whole chat). Without a tokenizer: the project's estimate
    plus a margin for the chat template."""
    if tokenizer_dir is None:
        def count_chat(messages: list[dict]) -> int:
            return sum(estimate_tokens(m["content"]) for m in messages) + TEMPLATE_MARGIN_TOKENS
        return "estimate (chars/3.6)", estimate_tokens, count_chat
    from reviewer.models.hf_provider import load_tokenizer, render_chat

    tokenizer = load_tokenizer(Path(tokenizer_dir))

    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    def count_chat(messages: list[dict]) -> int:
        return count(render_chat(tokenizer, messages, add_generation_prompt=False))
    return f"tokenizer {tokenizer_dir}", count, count_chat


def build_examples(options: BuildDataOptions, out_dir: Path, *, progress: Callable[[int, int], None] = lambda done, total: None) -> DataCard:
    """Write the dataset and ``data_card.json`` to ``out_dir``."""
    datasets = import_datasets()
    if options.split == EVAL_SPLIT:
        raise BuildDataError("refusing to build training data from the eval split: use --split train")
    dataset = load_benchmark(options.benchmark, options.split, options.data_dir)
    eval_ids = _eval_ids(options)
    leaked = sorted({p.paper_id for p in dataset.papers} & eval_ids)
    if leaked:
        raise BuildDataError(f"split {options.split!r} shares {len(leaked)} papers with the eval split (e.g. {leaked[0]})")
    teacher = teacher_reviews(Path(options.teacher), eval_ids) if options.teacher else None
    reviews_dir = _reviews_dir(options, dataset)
    counter_name, count, count_chat = token_counter(options.tokenizer)
    config = ReviewConfig(model="finetune", system_prompt=options.system_prompt)
    load = paper_loader(options.text)

    papers = dataset.subset(options.limit)
    source = "teacher" if teacher is not None else "human"
    examples: list[Example] = []
    decisions: list[str] = []
    paper_tokens: list[int] = []
    skipped: Counter[str] = Counter()
    for done, item in enumerate(papers, start=1):
        target = _target(item, teacher, reviews_dir)
        if target is None:
            skipped["no teacher review" if teacher is not None else "no human rating or decision"] += 1
        else:
            example, original = _example(item, target, source, load(item).text, config, options.max_tokens,
                                         count, count_chat)
            paper_tokens.append(original)
            if example is None:
                skipped["no room for the paper under --max-tokens"] += 1
            else:
                examples.append(example)
                decisions.append(target["Decision"])
        progress(done, len(papers))
    if not examples:
        raise BuildDataError(f"no training examples from {len(papers)} papers ({dict(skipped)})")

    out_dir.mkdir(parents=True, exist_ok=True)
    datasets.Dataset.from_list([asdict(e) for e in examples]).save_to_disk(str(out_dir))
    card = DataCard(
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        options=options,
        dataset_fingerprint=dataset.fingerprint(),
        target_source=f"teacher run {options.teacher}" if teacher is not None else "human ratings and decisions",
        token_counter=counter_name,
        n_examples=len(examples),
        accept=decisions.count("Accept"),
        reject=decisions.count("Reject"),
        truncated=sum(e.truncated for e in examples),
        skipped=dict(skipped),
        paper_tokens_before_fit=TokenStats.of(paper_tokens),
        example_tokens=TokenStats.of([e.tokens for e in examples]),
        answer_tokens=TokenStats.of([e.answer_tokens for e in examples]),
        eval_papers_checked=len(eval_ids),
    )
    (out_dir / CARD_FILE).write_text(card.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return card


def _eval_ids(options: BuildDataOptions) -> set[str]:
    """The eval split's papers; none for a benchmark that has no eval split."""
    root = data_root(options.data_dir)
    if not (root / options.benchmark / f"ratings_{EVAL_SPLIT}.tsv").is_file():
        return set()
    return {p.paper_id for p in load_benchmark(options.benchmark, EVAL_SPLIT, root).papers}


def _reviews_dir(options: BuildDataOptions, dataset: Dataset) -> Path | None:
    if options.reviews:
        folder = Path(options.reviews).expanduser()
        if not folder.is_dir():
            raise BuildDataError(f"{folder}: reviews folder not found")
        return folder
    folder = dataset.folder / "reviews"
    return folder if folder.is_dir() else None


def _target(item: DatasetPaper, teacher: dict[str, dict] | None, reviews_dir: Path | None) -> dict | None:
    if teacher is not None:
        return teacher.get(item.paper_id)
    return human_target(item.human, read_peerread_reviews(reviews_dir, item.paper_id))


def _example(item: DatasetPaper, target: dict, source: str, paper_text: str, config: ReviewConfig,
             max_tokens: int, count: Callable[[str], int],
             count_chat: Callable[[list[dict]], int]) -> tuple[Example | None, int]:
    """The example with the paper fitted by the reviewer's own prompt builder into what
    the prompt and the answer leave of the budget, and the paper's tokens before fitting."""
    from reviewer.pipeline import ContextTooSmall, build_review_messages

    answer = review_answer(target)
    answer_tokens = count(answer)
    # One prompt and its answer: no repair or reflection turns to leave room for.
    config = config.model_copy(update={"max_tokens": max(64, answer_tokens), "repair_attempts": 0})
    try:
        messages, fitted = build_review_messages(
            paper_text, config, [], context_window=max_tokens - TEMPLATE_MARGIN_TOKENS, count_tokens=count
        )
    except ContextTooSmall:
        return None, count(paper_text)
    prompt = [{"role": m.role, "content": m.content} for m in messages]
    completion = [{"role": "assistant", "content": answer}]
    return Example(
        paper_id=item.paper_id,
        prompt=prompt,
        completion=completion,
        target_source=source,
        tokens=count_chat(prompt + completion),
        answer_tokens=answer_tokens,
        truncated=fitted.truncated,
    ), fitted.original_tokens


def import_datasets():
    try:
        import datasets
    except ImportError as exc:
        raise MissingDependencyError("datasets", "finetune") from exc
    datasets.disable_progress_bars()
    return datasets


def load_training_data(data_dir: Path):
    """The dataset written by :func:`build_examples`, memory-mapped from disk."""
    datasets = import_datasets()
    if not (data_dir / "dataset_info.json").is_file():
        raise BuildDataError(f"{data_dir}: no training data here (build it with: review-bench finetune build-data)")
    return datasets.load_from_disk(str(data_dir))
