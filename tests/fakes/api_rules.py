"""What the real OpenAI and Anthropic APIs reject, per model, with their error bodies.

The fake server consults these in strict mode. The messages and JSON shapes are the ones
the APIs return (as reported in public bug reports and the vendors' docs); the model lists
are the models the project is tested against, kept apart from the reviewer's own model
facts so that a wrong fact shows up as a failing request.
"""

from __future__ import annotations

from dataclasses import dataclass

# Rule kinds a model can follow.
OPENAI_REASONING = "openai-reasoning"  # gpt-5.x, o-series: max_completion_tokens, temperature 1 only
ANTHROPIC_NO_SAMPLING = "anthropic-no-sampling"  # Opus 4.7+, Sonnet 5: no temperature/top_p/top_k, adaptive thinking
ANTHROPIC_BUDGET_THINKING = "anthropic-budget-thinking"  # Claude 3.7-4.6: extended thinking with budget_tokens

#: model -> (rule kind, most output tokens in one answer, None where not enforced)
MODELS: dict[str, tuple[str, int | None]] = {
    "gpt-5.4": (OPENAI_REASONING, 128_000),
    "gpt-5-mini": (OPENAI_REASONING, 128_000),
    "o4-mini": (OPENAI_REASONING, 100_000),
    "claude-opus-4-8": (ANTHROPIC_NO_SAMPLING, None),
    "claude-sonnet-5": (ANTHROPIC_NO_SAMPLING, None),
    "claude-opus-4-7": (ANTHROPIC_NO_SAMPLING, 128_000),
    "claude-sonnet-4-6": (ANTHROPIC_BUDGET_THINKING, 64_000),
    "claude-sonnet-4-5": (ANTHROPIC_BUDGET_THINKING, 64_000),
}
REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")
ADAPTIVE_EFFORTS = ("low", "medium", "high", "xhigh", "max")


@dataclass(frozen=True)
class Rejection:
    status: int
    body: dict


def openai_error(message: str, param: str | None, code: str | None) -> Rejection:
    return Rejection(400, {"error": {"message": message, "type": "invalid_request_error", "param": param,
                                     "code": code}})


def anthropic_error(message: str) -> Rejection:
    return Rejection(400, {"type": "error", "error": {"type": "invalid_request_error", "message": message},
                           "request_id": "req_011fake"})


def check(api: str, body: dict, models: dict[str, tuple[str, int | None]]) -> Rejection | None:
    """The error the real API answers to this request, or None when it accepts it."""
    kind, max_output = models.get(body.get("model", ""), (None, None))
    if kind == OPENAI_REASONING and api == "openai":
        return _openai_reasoning(body, max_output)
    if kind == ANTHROPIC_NO_SAMPLING and api == "anthropic":
        return _anthropic_no_sampling(body, max_output)
    if kind == ANTHROPIC_BUDGET_THINKING and api == "anthropic":
        return _anthropic_budget_thinking(body, max_output)
    return None


def _openai_reasoning(body: dict, max_output: int | None) -> Rejection | None:
    if "max_tokens" in body:
        return openai_error("Unsupported parameter: 'max_tokens' is not supported with this model. "
                            "Use 'max_completion_tokens' instead.", "max_tokens", "unsupported_parameter")
    temperature = body.get("temperature")
    if temperature is not None and temperature != 1:
        return openai_error(f"Unsupported value: 'temperature' does not support {temperature} with this model. "
                            "Only the default (1) value is supported.", "temperature", "unsupported_value")
    top_p = body.get("top_p")
    if top_p is not None and top_p != 1:
        return openai_error(f"Unsupported value: 'top_p' does not support {top_p} with this model. "
                            "Only the default (1) value is supported.", "top_p", "unsupported_value")
    effort = body.get("reasoning_effort")
    if effort is not None and effort not in REASONING_EFFORTS:
        return openai_error(f"Unsupported value: 'reasoning_effort' does not support '{effort}' with this model. "
                            "Supported values are: 'low', 'medium', and 'high'.", "reasoning_effort",
                            "unsupported_value")
    limit = body.get("max_completion_tokens")
    if max_output is not None and limit is not None and limit > max_output:
        return openai_error(f"max_tokens is too large: {limit}. This model supports at most {max_output} "
                            f"completion tokens, whereas you provided {limit}.", "max_tokens", "invalid_value")
    return None


def _anthropic_no_sampling(body: dict, max_output: int | None) -> Rejection | None:
    for name in ("temperature", "top_p", "top_k"):
        if name in body:
            return anthropic_error(f"`{name}` is deprecated for this model.")
    thinking = body.get("thinking") or {}
    if thinking.get("type") == "enabled":
        return anthropic_error('"thinking.type.enabled" is not supported for this model. Use '
                               '"thinking.type.adaptive" and "output_config.effort" to control thinking behavior.')
    effort = (body.get("output_config") or {}).get("effort")
    if effort is not None and effort not in ADAPTIVE_EFFORTS:
        return anthropic_error(f"output_config.effort: Input should be {', '.join(map(repr, ADAPTIVE_EFFORTS))}")
    return _anthropic_max_tokens(body, max_output)


def _anthropic_budget_thinking(body: dict, max_output: int | None) -> Rejection | None:
    thinking = body.get("thinking") or {}
    if thinking.get("type") == "enabled":
        budget = thinking.get("budget_tokens", 0)
        if budget < 1024:
            return anthropic_error("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
        if body.get("max_tokens", 0) <= budget:
            return anthropic_error("`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our "
                                   "documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking")
        if body.get("temperature", 1) != 1:
            return anthropic_error("`temperature` may only be set to 1 when thinking is enabled. Please consult our "
                                   "documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking")
    return _anthropic_max_tokens(body, max_output)


def _anthropic_max_tokens(body: dict, max_output: int | None) -> Rejection | None:
    requested = body.get("max_tokens", 0)
    if max_output is not None and requested > max_output:
        return anthropic_error(f"max_tokens: {requested} > {max_output}, which is the maximum allowed number of "
                               f"output tokens for {body['model']}")
    return None


def thinks(api: str, body: dict, models: dict[str, tuple[str, int | None]]) -> bool:
    """Whether the answer carries reasoning: a thinking block (Anthropic) or reasoning tokens (OpenAI)."""
    if api == "anthropic":
        return (body.get("thinking") or {}).get("type") in ("enabled", "adaptive")
    return models.get(body.get("model", ""), (None,))[0] == OPENAI_REASONING
