"""Which request parameters a model takes, decided from its facts (``model_facts``) and, for
what no source knows, from what every model of its API accepts. Providers ask this; they hold
no per-model rules. A parameter the API still rejects (a 400 naming it) is dropped once and
for all here, and every change to what the configuration asked for is kept as a note that
reaches the run's record.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reviewer.models.base import GenerateConfig
from reviewer.models.model_facts import Api, EffortStyle, ModelFacts, api_baseline

#: Reasoning tokens per effort: Anthropic's thinking budget, and the room added to the answer
#: limit of a model whose reasoning counts against it.
THINKING_TOKENS = {"low": 2048, "medium": 8192, "high": 24576}
#: The effort a reasoning model uses when none is asked for.
DEFAULT_EFFORT = "medium"
MIN_THINKING_BUDGET = 1024
#: Parameters that may be dropped after a 400 names them, and what replaces them.
DROPPABLE: dict[str, str | None] = {
    "temperature": None, "top_p": None, "top_k": None, "reasoning_effort": None, "thinking": None,
    "output_config": None, "max_tokens": "max_completion_tokens", "max_completion_tokens": "max_tokens",
}


@dataclass
class RequestParameters:
    name: str
    api: Api
    temperature: bool
    token_limit: str
    effort: EffortStyle | None
    thinks_by_default: bool
    max_output: int | None
    #: Where the decisions come from, for notes: the facts' sources or the API's baseline.
    source: str
    effort_source: str
    #: Parameters the API rejected: name -> the parameter sent in its place, if any.
    dropped: dict[str, str | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def effort_for(self, config: GenerateConfig, styles: tuple[EffortStyle, ...]) -> str | None:
        """The reasoning effort to send, when the model takes one in a style of its provider's API
        (``styles``); None otherwise (noted when one was asked for)."""
        wanted = config.reasoning_effort
        if wanted is None:
            return None
        if self.effort not in styles:
            self.note(f"reasoning effort {wanted} not applied: {self.name} takes none "
                      f"(facts: {self.effort_source})")
            return None
        return wanted

    def temperature_for(self, config: GenerateConfig, *, thinking: bool = False) -> float | None:
        """The temperature to send, or None: the model then samples at its default, which is 1
        for OpenAI's and Anthropic's models (noted when the configuration asked for another)."""
        t = config.temperature
        if "temperature" in self.dropped:
            why = "the API rejected it"
        elif not self.temperature:
            why = f"the model takes none (facts: {self.source})"
        elif thinking:
            why = "the model takes none while thinking"
        else:
            return t
        if t != 1:
            self.note(f"temperature {t} not applied to {self.name}: {why}; the ensemble relies on the model's "
                      "default sampling")
        return None

    def answer_tokens(self, config: GenerateConfig, effort: str | None) -> int:
        """The answer limit: the configured answer plus room for reasoning, within the model's output."""
        if self.max_output and config.max_tokens > self.max_output:
            self.note(f"max_tokens {config.max_tokens} capped at {self.max_output}, the most {self.name} writes "
                      f"(facts: {self.source})")
        limit = config.max_tokens
        if effort is not None or self.thinks_by_default:
            limit += THINKING_TOKENS[effort or DEFAULT_EFFORT]
        return min(limit, self.max_output) if self.max_output else limit

    def thinking_budget(self, config: GenerateConfig, effort: str) -> int | None:
        """Anthropic's budget_tokens for ``effort``: at least 1024 and below the answer limit."""
        budget = min(THINKING_TOKENS[effort], self.answer_tokens(config, effort) - config.max_tokens)
        if budget < MIN_THINKING_BUDGET:
            self.note(f"reasoning effort {effort} not applied to {self.name}: no room for a thinking budget "
                      f"within its {self.max_output} output tokens")
            return None
        return budget

    def apply_drops(self, request: dict) -> dict:
        """The request without the parameters the API rejected (their replacements in their place)."""
        for name, replacement in self.dropped.items():
            if name in request:
                value = request.pop(name)
                if replacement is not None:
                    request[replacement] = value
        return request

    def drop(self, parameter: str, replacement: str | None, reason: str) -> bool:
        """Stop sending ``parameter`` (sending ``replacement`` instead); False when it may not be dropped."""
        if parameter not in DROPPABLE:
            return False
        if parameter in self.dropped:
            return True
        if replacement is None:
            replacement = DROPPABLE[parameter]
        if replacement is not None and replacement in self.dropped:
            return False  # both spellings refused: nothing left to try
        self.dropped[parameter] = replacement
        instead = f", {replacement} sent instead" if replacement else ""
        self.note(f"{parameter} dropped for {self.name} after the API rejected it{instead}: {reason}")
        return True


def request_parameters(name: str, facts: ModelFacts, api: Api) -> RequestParameters:
    """What ``facts`` say the model takes; what every model of ``api`` takes where they are silent."""
    baseline = api_baseline(api)
    temperature = facts.temperature if facts.temperature is not None else baseline["temperature"]
    source = facts.source if facts.temperature is not None else f"unknown model: the {api} API's baseline"
    return RequestParameters(
        name=name,
        api=api,
        temperature=temperature,
        token_limit=facts.token_limit or baseline["token_limit"],
        effort=facts.effort,
        thinks_by_default=facts.thinks_by_default,
        max_output=facts.max_output,
        source=source,
        effort_source=facts.source if facts.reasoning is not None else "not known to reason",
    )
