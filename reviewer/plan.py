"""What reviewing will cost, before anything is sent: the requests the pipeline makes for a
paper, and a ceiling on their tokens and price, from the exact prompt it would send.

The ceiling assumes the longest conversation the configuration allows: every reflection
round is run (none stops early), and every answer is ``answer_tokens`` long. Repair turns
(asked only when an answer does not parse) are not in it; ``repair_cost_usd`` says what one
would add. Discounts count only where the provider gives them for sure: the batch APIs'
half price, and Anthropic's explicit prompt cache (the ensemble writes the shared prefix,
the reflection rounds read it; not assumed in a batch, which may run after the cache
expired). OpenAI caches prompts on its own, without a guarantee: not assumed.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

from reviewer.models.base import GenerateConfig, Usage
from reviewer.models.pricing import add_costs
from reviewer.pipeline import REFLECTION_ANSWER_TOKENS, TEMPLATE_TOKENS_PER_MESSAGE, ContextTooSmall, LLMReviewer
from reviewer.prompts import render

#: Providers whose prompt cache the request marks itself (``ChatMessage.cache_prefix``).
EXPLICIT_PROMPT_CACHE = {"anthropic"}
#: A dry run builds the model's client but sends nothing: an address that cannot be reached
#: stands in for the server, so that no API key is needed to see what reviewing would cost.
DRY_RUN_URL = "http://dry-run.invalid"


def dry_run_options(options):
    """The reviewer options (``ReviewOptions``) for a dry run: the same, with no server needed."""
    if options.config.base_url:
        return options
    return dataclasses.replace(options, config=options.config.model_copy(update={"base_url": DRY_RUN_URL}))


@dataclass
class PaperPlan:
    paper_id: str
    requests: int = 0
    usage: Usage = field(default_factory=Usage)
    #: The ceiling; None when the model's price is unknown.
    cost_usd: float | None = 0.0
    #: What one repair turn would add at most.
    repair_cost_usd: float | None = 0.0
    #: Why the paper would not be reviewed (its prompt does not fit), if so.
    skipped: str | None = None

    def to_dict(self) -> dict:
        return {"paper_id": self.paper_id, "requests": self.requests, "input_tokens": self.usage.input_tokens,
                "output_tokens": self.usage.output_tokens, "estimated_cost_usd": _rounded(self.cost_usd),
                **({"skipped": self.skipped} if self.skipped else {})}


def plan_review(reviewer: LLMReviewer, paper_id: str, paper_text: str, *, batch: bool = False) -> PaperPlan:
    """The calls ``reviewer`` would make for this paper, with their ceiling."""
    config, model = reviewer.config, reviewer.model
    try:
        messages = reviewer.prompt(paper_text).messages
    except ContextTooSmall as exc:
        return PaperPlan(paper_id, skipped=str(exc))

    def tokens(text: str) -> int:
        return model.count_tokens(text) + TEMPLATE_TOKENS_PER_MESSAGE

    answer = min(config.max_tokens, REFLECTION_ANSWER_TOKENS)
    turn = answer + TEMPLATE_TOKENS_PER_MESSAGE
    written = answer + reasoning_tokens(reviewer)  # reasoning is paid as output, never sent back
    prompt = sum(tokens(m.content) for m in messages)
    explicit_cache = model.name.split("/", 1)[0] in EXPLICIT_PROMPT_CACHE
    # The marked prefix (system and paper) is written by the ensemble's calls, sent together,
    # and read by the later calls, or written again by each of them in a batch.
    first = Usage(prompt, 0, cache_write_tokens=prompt if explicit_cache else 0)
    later = Usage(prompt, 0, cache_read_tokens=prompt if explicit_cache and not batch else 0,
                  cache_write_tokens=prompt if explicit_cache and batch else 0)

    k = config.ensemble
    calls = [_with(first, output=k * written)] if k > 1 and model.supports_n else [_with(first, output=written)] * k
    if k > 1:
        skeleton = tokens(render("meta_system")) + tokens(render("meta_request", form=reviewer.form, count=k,
                                                                   reviews=""))
        member = model.count_tokens(render("meta_member", index=k, count=k, review="")) + answer
        calls.append(Usage(skeleton + k * member, written))
        opening = tokens(render("start_from_meta", review="")) + answer
    else:
        opening = turn
    history = opening
    rounds = config.reflections
    for current in range(2, rounds + 1):
        history += tokens(render("reflection", current_round=current, num_reflections=rounds))
        calls.append(_with(later, extra_input=history, output=written))
        history += turn
    repair = _with(later, extra_input=history + tokens(render("repair", error="x" * 300)), output=written)

    usage = Usage()
    for call in calls:
        usage = usage + call
    return PaperPlan(
        paper_id,
        requests=len(calls),
        usage=usage,
        cost_usd=add_costs(model.provider.cost_usd(call, batch=batch) for call in calls),
        repair_cost_usd=model.provider.cost_usd(repair, batch=batch),
    )


def reasoning_tokens(reviewer: LLMReviewer) -> int:
    """The room for reasoning a model is given on top of each answer (0 for one that does not reason)."""
    parameters = reviewer.model.provider.parameters
    if parameters is None:
        return 0
    config = GenerateConfig(max_tokens=reviewer.config.max_tokens, reasoning_effort=reviewer.config.reasoning_effort)
    effort = config.reasoning_effort if parameters.effort is not None else None
    return max(0, parameters.answer_tokens(config, effort) - config.max_tokens)


def _with(base: Usage, *, extra_input: int = 0, output: int) -> Usage:
    return Usage(base.input_tokens + extra_input, output, base.cache_read_tokens, base.cache_write_tokens)


@dataclass
class RunPlan:
    """The plans of every paper of a run (or of one review)."""

    model: str
    papers: list[PaperPlan]
    answer_tokens: int
    batch: bool = False
    #: Reasoning tokens assumed on top of each answer.
    reasoning_tokens: int = 0

    @property
    def requests(self) -> int:
        return sum(p.requests for p in self.papers)

    @property
    def usage(self) -> Usage:
        usage = Usage()
        for paper in self.papers:
            usage = usage + paper.usage
        return usage

    @property
    def cost_usd(self) -> float | None:
        return add_costs(p.cost_usd for p in self.papers)

    def assumptions(self) -> str:
        if not self.requests:
            return "no model calls"
        repair = max((p.repair_cost_usd or 0.0 for p in self.papers), default=0.0)
        discounts = ["batch prices (half)"] if self.batch else []
        if self.model.split("/", 1)[0] in EXPLICIT_PROMPT_CACHE:
            discounts.append("prompt cache written by each call" if self.batch else
                             "prompt cache written by the ensemble, read by the reflections")
        reasoning = f" (+{self.reasoning_tokens} of reasoning)" if self.reasoning_tokens else ""
        return (f"ceiling: every reflection round, answers of {self.answer_tokens} tokens{reasoning}, no repair turns "
                f"(one adds up to ${repair:.4f})" + (f"; {', '.join(discounts)}" if discounts else ""))

    def to_json(self) -> dict:
        usage = self.usage
        return {
            "model": self.model,
            "papers": len(self.papers),
            "requests": self.requests,
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "estimated_cost_usd": _rounded(self.cost_usd),
            "batch": self.batch,
            "assumptions": self.assumptions(),
            "per_paper": [p.to_dict() for p in self.papers],
        }

    def line(self) -> str:
        """One line: the requests and the ceiling, in total and per paper."""
        usage, cost = self.usage, self.cost_usd
        counted = [p.cost_usd for p in self.papers if p.cost_usd is not None and not p.skipped]
        per_paper = (f"; per paper ${min(counted):.4f}-${max(counted):.4f}" if len(counted) > 1 else "")
        total = "unknown (no price for this model: --price sets one)" if cost is None else f"${cost:.4f}"
        skipped = sum(p.skipped is not None for p in self.papers)
        return (f"{self.model}: {len(self.papers)} paper(s), {self.requests} requests, "
                f"{usage.input_tokens:,} input + {usage.output_tokens:,} output tokens; cost ceiling {total}"
                f"{per_paper}{f'; {skipped} would not fit the context window' if skipped else ''}")


    def render(self, *, as_json: bool = False) -> str:
        """A dry run's output: the JSON, or the line and the assumptions behind it."""
        if as_json:
            return json.dumps(self.to_json(), indent=2)
        return self.line() + (f"\n{self.assumptions()}" if self.requests else "")


def run_plan(reviewer, papers: list[tuple[str, str]], *, batch: bool = False) -> RunPlan:
    """Plans for ``(paper_id, text)`` pairs; the offline reviewer makes no calls."""
    if not isinstance(reviewer, LLMReviewer):
        name = getattr(getattr(reviewer, "model", None), "name", None) or reviewer.config.model
        return RunPlan(name, [PaperPlan(pid) for pid, _ in papers], 0, batch)
    answer = min(reviewer.config.max_tokens, REFLECTION_ANSWER_TOKENS)
    return RunPlan(reviewer.model.name, [plan_review(reviewer, pid, text, batch=batch) for pid, text in papers],
                   answer, batch, reasoning_tokens(reviewer))


def _rounded(cost: float | None) -> float | None:
    return None if cost is None else round(cost, 6)
