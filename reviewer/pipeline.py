"""The LLM review pipeline: the form prompt with optional few-shot examples, an ensemble
of k reviews merged by an area-chair meta-review, then reflection rounds.

Nothing here raises for a model's misbehaviour: every paper ends as a ``ReviewOutcome``,
either a validated review or a typed failure with the reason.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

from corpus.paper import Paper
from reviewer.config import ReviewConfig
from reviewer.fewshot import FewshotExample
from reviewer.form import SCORE_FIELDS, ReviewForm, form_score
from reviewer.models.base import ChatMessage, Completion, GenerateConfig, ProviderError, Usage
from reviewer.models.pricing import add_costs
from reviewer.models.wrapper import Model
from reviewer.outcome import ReviewFailure, ReviewMeta, ReviewOutcome
from reviewer.parsing import ReviewParseError, parse_review, says_done
from reviewer.prompts import as_data, render
from reviewer.tokens import Fitted, fit_text
from reviewer.transcript import AnswerRef, TranscriptRecorder

SYSTEM_TEMPLATES = {"critical": "system_critical", "neutral": "system_neutral", "lenient": "system_lenient"}
# Room kept for each reflection round's answer, on top of the first answer's max_tokens.
REFLECTION_ANSWER_TOKENS = 1500
# Chat templates wrap each message in role markers; a generous allowance per message.
TEMPLATE_TOKENS_PER_MESSAGE = 16
MIN_PAPER_TOKENS = 256


class ContextTooSmall(ValueError):
    pass


@dataclass
class ReviewPrompt:
    messages: list[ChatMessage]
    #: The paper as fitted into the prompt.
    fitted: Fitted
    #: The few-shot block of the prompt ("" without examples): the same for every paper.
    examples: str


def build_review_messages(
    paper_text: str,
    config: ReviewConfig,
    examples: list[FewshotExample],
    *,
    context_window: int,
    count_tokens: Callable[[str], int],
) -> tuple[list[ChatMessage], Fitted]:
    """The review request, with the paper (and few-shot papers) fitted to the context
    window, leaving room for the answer and the reflection rounds."""
    prompt = review_prompt(paper_text, config, examples, context_window=context_window, count_tokens=count_tokens)
    return prompt.messages, prompt.fitted


def review_prompt(
    paper_text: str,
    config: ReviewConfig,
    examples: list[FewshotExample],
    *,
    context_window: int,
    count_tokens: Callable[[str], int],
) -> ReviewPrompt:
    """``build_review_messages``, with the parts a transcript stores once."""
    system = render(SYSTEM_TEMPLATES[config.system_prompt])
    form = render("review_form")
    skeleton = render("review_request", form=form, examples="", paper="")
    reflection = render("reflection", current_round=config.reflections, num_reflections=config.reflections)
    # Room for the longest conversation this config makes: the answer, every reflection
    # round, a repair turn quoting the bad answer (when repairs are allowed), and
    # chat-template tokens.
    repair = render("repair", error="x" * 300)
    reserve = (
        config.max_tokens
        + (config.reflections - 1) * (min(config.max_tokens, REFLECTION_ANSWER_TOKENS) + count_tokens(reflection))
        + (config.max_tokens + count_tokens(repair) if config.repair_attempts else 0)
        + TEMPLATE_TOKENS_PER_MESSAGE * (2 * config.reflections + 4)
    )
    available = context_window - count_tokens(system) - count_tokens(skeleton) - reserve
    if examples:
        available -= count_tokens(render("fewshot_intro"))
        share = available // (len(examples) + 1)
        blocks = []
        for index, example in enumerate(examples, 1):
            room = share - count_tokens(example.review_json) - 50
            if room < MIN_PAPER_TOKENS:
                raise ContextTooSmall(f"no room for few-shot example {example.name} in {context_window} tokens")
            fitted_example = fit_text(example.paper_text, room, count_tokens)
            blocks.append(render("fewshot_example", index=index, paper=fitted_example.text,
                                 review=example.review_json))
        examples_block = render("fewshot_intro") + "\n" + "\n".join(blocks) + "\n"
        available -= count_tokens(examples_block)
    else:
        examples_block = ""
    if available < MIN_PAPER_TOKENS:
        raise ContextTooSmall(
            f"the prompt leaves {available} tokens for the paper in a {context_window}-token window; "
            "use fewer few-shot examples, fewer reflections or a smaller --max-tokens"
        )
    fitted = fit_text(as_data(paper_text), available, count_tokens)
    user = render("review_request", form=form, examples=examples_block, paper=fitted.text)
    return ReviewPrompt([ChatMessage("system", system), ChatMessage("user", user, cache_prefix=True)], fitted,
                        examples_block)


@dataclass
class CallTally:
    """What some calls cost: usage, cost and counts (a cache hit costs nothing)."""

    usage: Usage = field(default_factory=Usage)
    cost_usd: float | None = 0.0
    calls: int = 0
    cached_calls: int = 0
    failures: Counter = field(default_factory=Counter)

    def add(self, completion: Completion) -> Completion:
        if completion.cached:
            self.cached_calls += 1
        else:
            self.usage = self.usage + completion.usage
            self.cost_usd = add_costs((self.cost_usd, completion.cost_usd))
            self.calls += completion.calls
        return completion


@dataclass
class _Session:
    """One paper's review: every call goes through here, to be counted and recorded."""

    model: Model
    recorder: TranscriptRecorder
    tally: CallTally = field(default_factory=CallTally)

    async def generate(self, messages: list[ChatMessage], config: GenerateConfig, **role) -> tuple[int, Completion]:
        """The completion, and its call's index in the transcript."""
        started = self.recorder.start()
        try:
            completion = await self.model.generate(messages, config)
        except ProviderError as exc:
            self.recorder.failed(started, messages, config, exc, **role)
            raise
        self.tally.add(completion)
        return self.recorder.completed(started, messages, config, completion, **role), completion


@dataclass
class _Candidate:
    review: ReviewForm
    text: str


class LLMReviewer:
    def __init__(self, model: Model, config: ReviewConfig, examples: list[FewshotExample], *,
                 transcript: bool = True):
        self.model = model
        self.config = config
        self.examples = examples
        self.form = render("review_form")
        self.keep_transcript = transcript

    def _generate_config(self, n: int = 1) -> GenerateConfig:
        return GenerateConfig(temperature=self.config.temperature, max_tokens=self.config.max_tokens, n=n,
                              reasoning_effort=self.config.reasoning_effort)

    async def review(self, paper: Paper) -> ReviewOutcome:
        started = time.monotonic()
        session = _Session(self.model, TranscriptRecorder(self.model.name))
        meta = ReviewMeta.for_paper(paper, model=self.model.name, config=self.config.model_dump(mode="json"),
                                    threshold=self.config.threshold)
        review: ReviewForm | None = None
        failure: ReviewFailure | None = None
        try:
            prompt = self.prompt(paper.text)
            session.recorder.add_block("paper", prompt.fitted.text)
            session.recorder.add_block("few-shot examples", prompt.examples, shared=True)
            session.recorder.add_block("review form", self.form, shared=True)
            meta.truncated = prompt.fitted.truncated
            meta.truncation = prompt.fitted.to_dict()
            review = await self._review(prompt.messages, session, meta)
            if review is None:
                failure = ReviewFailure(kind="parse", message="no ensemble member gave a valid review")
        except ContextTooSmall as exc:
            failure = ReviewFailure(kind="context", message=str(exc))
        except ProviderError as exc:
            failure = ReviewFailure(kind="provider", message=f"{type(exc).__name__}: {exc}")
        tally = session.tally
        meta.usage = tally.usage.to_dict()
        meta.cost_usd = tally.cost_usd
        meta.calls = tally.calls
        meta.cached_calls = tally.cached_calls
        meta.failures = dict(tally.failures)
        meta.notes = self.notes
        meta.latency_s = round(time.monotonic() - started, 3)
        if review is not None:
            meta.decision_by_threshold = review.decision_at(self.config.threshold)
            if meta.overall_mean is None:
                meta.overall_mean = float(review.Overall)
        return ReviewOutcome(paper_id=paper.paper_id, review=review, failure=failure, meta=meta,
                             transcript=session.recorder.transcript if self.keep_transcript else None)

    def prompt(self, paper_text: str) -> ReviewPrompt:
        """The review request for a paper, fitted to the model's window (or the config's cap)."""
        window = self.model.context_window
        if self.config.context_window:
            window = min(window, self.config.context_window)
        return review_prompt(paper_text, self.config, self.examples, context_window=window,
                             count_tokens=self.model.count_tokens)

    async def _review(self, messages: list[ChatMessage], session: _Session, meta: ReviewMeta) -> ReviewForm | None:
        k = self.config.ensemble
        call, completion = await session.generate(messages, self._generate_config(n=k), step="draft")
        parsed = await asyncio.gather(*(
            self._until_valid(messages, text, AnswerRef(call=call, answer=index), session)
            for index, text in enumerate(completion.texts[:k])
        ))
        members = [candidate for candidate in parsed if candidate is not None]
        if len(members) < k:
            session.tally.failures["dropped_members"] += k - len(members)
        if not members:
            return None
        meta.extra["ensemble_overall"] = [m.review.Overall for m in members]
        if k > 1:
            current = await self._meta_review(members, session, meta)
            opening = ChatMessage("assistant", render(
                "start_from_meta", review=json.dumps(current.to_json_dict(), indent=2)))
        else:
            current = members[0].review
            opening = ChatMessage("assistant", members[0].text)
        return await self._reflect(messages + [opening], current, session, meta)

    async def _until_valid(self, conversation: list[ChatMessage], text: str, origin: AnswerRef,
                           session: _Session) -> _Candidate | None:
        """Parse an answer; on failure ask the model to fix it, a bounded number of times."""
        repairs = 0
        while True:
            try:
                return _Candidate(parse_review(text), text)
            except ReviewParseError as exc:
                session.recorder.parse_failed(origin, exc)
                if repairs >= self.config.repair_attempts:
                    return None
                repairs += 1
                session.tally.failures["repairs"] += 1
                repair = conversation + [
                    ChatMessage("assistant", text),
                    ChatMessage("user", render("repair", error=str(exc))),
                ]
                call, completion = await session.generate(
                    repair, self._generate_config(), step="repair", repair_of=origin, attempt=repairs)
                origin, text = AnswerRef(call=call, answer=0), completion.texts[0]

    async def _meta_review(self, members: list[_Candidate], session: _Session, meta: ReviewMeta) -> ReviewForm:
        """The area chair's merge; its numeric scores are set to the ensemble mean."""
        count = len(members)
        reviews = "\n".join(
            render("meta_member", index=i, count=count, review=json.dumps(m.review.to_json_dict(), indent=2))
            for i, m in enumerate(members, 1)
        )
        conversation = [
            ChatMessage("system", render("meta_system")),
            ChatMessage("user", render("meta_request", form=self.form, count=count, reviews=reviews)),
        ]
        call, completion = await session.generate(conversation, self._generate_config(), step="meta_review")
        candidate = await self._until_valid(conversation, completion.texts[0], AnswerRef(call=call, answer=0), session)
        if candidate is None:
            session.tally.failures["meta_review_unparsed"] += 1
            base = members[0].review
        else:
            base = candidate.review
        means = {name: statistics.fmean(getattr(m.review, name) for m in members) for name in SCORE_FIELDS}
        meta.overall_mean = round(means["Overall"], 4)
        return base.model_copy(update={name: form_score(name, value) for name, value in means.items()})

    async def _reflect(self, conversation: list[ChatMessage], review: ReviewForm, session: _Session,
                       meta: ReviewMeta) -> ReviewForm:
        rounds = self.config.reflections
        completed = 0
        stopped_early = False
        for current_round in range(2, rounds + 1):
            conversation = conversation + [ChatMessage("user", render(
                "reflection", current_round=current_round, num_reflections=rounds))]
            try:
                call, completion = await session.generate(
                    conversation, self._generate_config(), step="reflection", round=current_round)
                candidate = await self._until_valid(
                    conversation, completion.texts[0], AnswerRef(call=call, answer=0), session)
            except ProviderError as exc:  # keep the review we have; earlier rounds were valid
                session.tally.failures["reflection_provider_error"] += 1
                meta.extra["reflection_error"] = str(exc)
                break
            if candidate is None:
                session.tally.failures["reflection_unparsed"] += 1
                break
            if candidate.review.Overall != review.Overall:
                meta.overall_mean = None  # the reflection overrode the ensemble's score
            review = candidate.review
            completed += 1
            conversation = conversation + [ChatMessage("assistant", candidate.text)]
            if says_done(candidate.text):
                stopped_early = current_round < rounds
                break
        meta.extra["reflection_rounds"] = completed
        meta.extra["stopped_early"] = stopped_early
        return review

    @property
    def notes(self) -> list[str]:
        """What the run should record about the model: its pricing, parameters not applied or dropped."""
        return self.model.notes

    async def aclose(self) -> None:
        await self.model.aclose()
