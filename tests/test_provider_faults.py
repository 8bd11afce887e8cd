"""Recovery from what real providers do: rate limits, server errors, hangs, broken bodies,
and answers that are not a valid review."""

import asyncio
import json

import pytest
from fakes.llm_server import Fault
from fakes.reviews import answer, classify, one_member_never_parses, review_dict, scripted_reviewer
from helpers_review import PAPER, base_url_for, review_and_close, review_with

from reviewer.build import build_reviewer
from reviewer.config import ReviewConfig

MODELS = ["openai/gpt-4o-2024-05-13", "anthropic/claude-3-5-sonnet-20240620"]


@pytest.mark.parametrize("model", MODELS)
def test_429_waits_for_retry_after_not_for_backoff(fake_llm, model):
    """The wait before the retry is the server's retry-after (0.4 s), not the backoff the
    wrapper would choose without the header (2.5-5 s here), so the gap tells the two apart."""
    server = fake_llm(scripted_reviewer())
    server.faults.append(Fault(status=429, retry_after=0.4))
    reviewer = build_reviewer(ReviewConfig(model=model, base_url=base_url_for(server, model)), use_cache=False)
    reviewer.model.base_delay = 5.0
    outcome = asyncio.run(review_and_close(reviewer, PAPER))
    assert outcome.ok
    first, second = server.requests[:2]
    assert 0.4 <= second.at - first.at < 2.0


@pytest.mark.parametrize("model", MODELS)
def test_500_and_broken_body_are_retried(fake_llm, model):
    server = fake_llm(scripted_reviewer())
    server.faults += [Fault(status=500, retry_after=0.01), Fault(status=200, body="{not json")]
    outcome = review_with(server, model=model)
    assert outcome.ok, outcome.failure
    assert len(server.requests) == 3


def test_timeout_is_retried(fake_llm):
    server = fake_llm(scripted_reviewer())
    server.faults.append(Fault(status=200, delay=2.0, body="{}"))
    outcome = review_with(server, timeout=0.5)
    assert outcome.ok, outcome.failure
    assert len(server.requests) == 2


def test_exhausted_retries_end_as_a_typed_failure(fake_llm):
    server = fake_llm(scripted_reviewer())
    server.faults += [Fault(status=503, retry_after=0.01)] * 6
    outcome = review_with(server)
    assert not outcome.ok
    assert outcome.failure.kind == "provider" and "503" in outcome.failure.message
    assert len(server.requests) == 6  # the first try and five retries


def test_fatal_error_is_not_retried(fake_llm):
    server = fake_llm(scripted_reviewer())
    server.faults.append(Fault(status=401))
    outcome = review_with(server)
    assert outcome.failure.kind == "provider" and "401" in outcome.failure.message
    assert len(server.requests) == 1


def bad_then_good(bad_answers):
    """The first review answers are broken in the given ways; repairs get a valid review."""
    queue = list(bad_answers)

    def respond(seen):
        if classify(seen) == "review" and queue:
            return queue.pop(0)
        return answer(review_dict(7))
    return respond


@pytest.mark.parametrize("bad", [
    answer(review_dict(6))[:300],  # truncated JSON
    answer(review_dict(6, Overall=12)),  # out of range
    answer({k: v for k, v in review_dict(6).items() if k != "Decision"}),  # a missing field
    "I cannot review this paper.",
])
def test_invalid_answers_are_repaired_by_asking_again(fake_llm, bad):
    server = fake_llm(bad_then_good([bad]))
    outcome = review_with(server)
    assert outcome.ok
    assert outcome.review.Overall == 7
    assert [classify(r) for r in server.requests] == ["review", "repair"]
    assert "could not be used" in server.requests[1].last_user
    assert outcome.meta.failures == {"repairs": 1}


def test_member_that_never_parses_is_dropped_and_counted(fake_llm):
    server = fake_llm(one_member_never_parses)
    outcome = review_with(server, ensemble=3, repair_attempts=2)
    assert outcome.ok
    assert outcome.meta.failures["dropped_members"] == 1
    assert outcome.meta.failures["repairs"] == 2
    assert outcome.meta.extra["ensemble_overall"] == [8, 4]
    assert outcome.review.Overall == 6


def test_review_that_never_parses_is_a_typed_failure(fake_llm):
    server = fake_llm(lambda seen: "no json here")
    outcome = review_with(server, repair_attempts=1)
    assert not outcome.ok
    assert outcome.failure.kind == "parse"
    assert json.loads(json.dumps(outcome.to_json_dict()))["meta"]["error"]["kind"] == "parse"
