"""The review pipeline's call graph, against a local server playing each provider's API
through the real SDKs."""

import pytest
from fakes.reviews import ROUND, classify, scripted_reviewer
from helpers_review import review_with


def kinds(server):
    return [classify(request) for request in server.requests]


def test_openai_call_graph_fewshot_ensemble_reflections(fake_llm, shared_datasets):
    server = fake_llm(scripted_reviewer(overalls=(6, 5, 7, 4, 8), done_at_round=3))
    outcome = review_with(server, fewshot=1, ensemble=5, reflections=5, data_dir=shared_datasets)
    assert outcome.ok, outcome.failure
    assert kinds(server) == ["review", "meta", "reflection", "reflection"]
    first = server.requests[0]
    assert first.n == 5
    assert "Example paper 1" in first.last_user and "Here is the paper to review" in first.last_user
    rounds = [ROUND.search(r.last_user).group(0) for r in server.requests[2:]]
    assert rounds == ["Round 2/5", "Round 3/5"]
    assert "{{" not in "".join(r.all_text for r in server.requests)
    # The meta-review sees the five reviews; numeric scores are set to the ensemble mean.
    assert "Review 5 of 5" in server.requests[1].last_user
    assert outcome.meta.extra["ensemble_overall"] == [6, 5, 7, 4, 8]
    assert outcome.meta.extra["reflection_rounds"] == 2 and outcome.meta.extra["stopped_early"]
    assert outcome.meta.calls == 4
    sent_in = sum(r.usage["prompt_tokens"] for r in server.requests)
    sent_out = sum(r.usage["completion_tokens"] for r in server.requests)
    assert (outcome.meta.usage["input_tokens"], outcome.meta.usage["output_tokens"]) == (sent_in, sent_out)
    # gpt-4o-2024-05-13 list prices: $5 in, $15 out per million tokens.
    assert outcome.meta.cost_usd == pytest.approx((sent_in * 5 + sent_out * 15) / 1e6)
    assert outcome.meta.decision_by_threshold == ("Accept" if outcome.review.Overall >= 6 else "Reject")


def test_reflections_stop_after_four_requests_without_done(fake_llm):
    server = fake_llm(scripted_reviewer(done_at_round=None))
    outcome = review_with(server, ensemble=5, reflections=5)
    assert kinds(server) == ["review", "meta"] + ["reflection"] * 4
    assert [ROUND.search(r.last_user).group(0) for r in server.requests[2:]] == [
        "Round 2/5", "Round 3/5", "Round 4/5", "Round 5/5"]
    assert outcome.meta.extra["reflection_rounds"] == 4 and not outcome.meta.extra["stopped_early"]


def test_meta_review_scores_are_the_ensemble_mean(fake_llm):
    server = fake_llm(scripted_reviewer(overalls=(6, 5, 7, 4, 8), done_at_round=None))
    outcome = review_with(server, ensemble=5, reflections=1)
    assert kinds(server) == ["review", "meta"]
    assert outcome.review.Overall == 6  # mean of 6, 5, 7, 4, 8; the meta-review itself said 5
    assert outcome.meta.overall_mean == 6.0
    assert outcome.review.Summary == "Meta-review of the ensemble."


def test_anthropic_ensemble_is_separate_calls_with_prompt_caching(fake_llm, shared_datasets):
    server = fake_llm(scripted_reviewer(done_at_round=2))
    outcome = review_with(server, model="anthropic/claude-3-5-sonnet-20240620", fewshot=1, ensemble=5,
                          reflections=5, data_dir=shared_datasets)
    assert outcome.ok, outcome.failure
    assert kinds(server) == ["review"] * 5 + ["meta", "reflection"]
    first = server.requests[0]
    assert first.path.endswith("/v1/messages")
    assert first.body["messages"][0]["content"][-1]["cache_control"] == {"type": "ephemeral"}
    assert "Be critical" in first.system
    assert outcome.meta.calls == 7


def test_server_that_refuses_n_gets_separate_calls(fake_llm):
    server = fake_llm(scripted_reviewer(done_at_round=None), reject_n=True)
    outcome = review_with(server, ensemble=3, reflections=1)
    assert outcome.ok
    assert [r.n for r in server.requests] == [3, 1, 1, 1, 1]
    assert kinds(server) == ["review"] * 4 + ["meta"]


def test_system_prompt_variants(fake_llm):
    server = fake_llm(scripted_reviewer())
    review_with(server, system_prompt="lenient")
    review_with(server, system_prompt="neutral")
    assert "accept it" in server.requests[0].system
    assert "honest assessment" in server.requests[1].system
