"""Costs before they are spent: a dry run that sends nothing and bounds the real cost, a
budget that stops a run before a paper that could pass it, and an exhausted quota that stops a
run without retrying or recording the papers it interrupted; both resume."""

from __future__ import annotations

import asyncio
import json

import pytest
from fakes.llm_server import Fault
from fakes.reviews import distinct_reviewer
from fakes.venues import tiny_venue
from typer.testing import CliRunner

from benchmarks.store import read_manifest, read_records
from reviewer.cli_errors import EXIT_BUDGET, EXIT_QUOTA
from reviewer.config import ReviewConfig
from reviewer.models.base import ChatMessage, GenerateConfig, QuotaExhausted, RateLimitError
from reviewer.models.http_errors import error_for_status
from reviewer.models.mock_provider import MockProvider
from reviewer.models.wrapper import Model
from reviewer.pipeline import LLMReviewer
from reviewer.plan import plan_review

MODEL = "openai/gpt-4o-2024-05-13"
#: OpenAI's answer when the account's credit is spent: a 429 like a rate limit, told apart by the body.
QUOTA_BODY = {"error": {
    "message": "You exceeded your current quota, please check your plan and billing details. For more "
               "information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.",
    "type": "insufficient_quota", "param": None, "code": "insufficient_quota"}}


@pytest.fixture(scope="module")
def app():
    from review_bench.cli import build_app

    return build_app()


def invoke(app, *args):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def test_dry_run_sends_nothing_and_the_real_cost_stays_under_it(app, fake_llm, shared_datasets, tmp_path):
    server = fake_llm(distinct_reviewer())
    args = ["run", "iclr2022", "--data-dir", str(shared_datasets), "--model", MODEL, "--base-url",
            server.openai_base_url, "--fewshot", "1", "--ensemble", "5", "--reflections", "5", "--limit", "3",
            "--run-dir", str(tmp_path / "run")]
    dry = invoke(app, *args, "--dry-run", "--json")
    assert dry.exit_code == 0, dry.output
    estimate = json.loads(dry.stdout)
    assert server.requests == [] and not (tmp_path / "run").exists()
    assert (estimate["requests"], len(estimate["per_paper"])) == (18, 3)
    assert estimate["input_tokens"] > 3 * 20_000 and estimate["output_tokens"] == 3 * 10 * 1500

    real = invoke(app, *args)
    assert real.exit_code == 0, real.output
    assert "cost ceiling for the 3 papers to review" in real.output
    assert len(server.requests) == estimate["requests"]
    actual = sum(r.cost_usd for r in read_records(tmp_path / "run"))
    assert actual <= estimate["estimated_cost_usd"] <= 1.6 * actual


def test_review_dry_run_and_a_budget_below_the_ceiling_send_nothing(app, fake_llm, tmp_path):
    server = fake_llm(distinct_reviewer())
    paper = tmp_path / "paper.txt"
    paper.write_text("# A paper\n\nWe study things.\n")
    args = ["review", str(paper), "--model", MODEL, "--base-url", server.openai_base_url, "--ensemble", "3",
            "--reflections", "2"]
    dry = invoke(app, *args, "--dry-run", "--json")
    assert dry.exit_code == 0 and json.loads(dry.stdout)["requests"] == 3
    keyless = invoke(app, "review", str(paper), "--model", "anthropic/claude-3-5-sonnet-20240620", "--dry-run",
                     "--json")  # no key and no server: nothing is sent, so none is needed
    assert keyless.exit_code == 0 and json.loads(keyless.stdout)["estimated_cost_usd"] > 0
    refused = invoke(app, *args, "--max-cost", "0.001")
    assert refused.exit_code == EXIT_BUDGET and "over the --max-cost" in refused.output
    assert server.requests == []
    done = invoke(app, *args, "--max-cost", "5", "--json")
    assert done.exit_code == 0 and "cost ceiling: $" in done.stderr and len(server.requests) == 3


def test_a_budget_stops_the_run_and_a_larger_one_resumes_it(app, fake_llm, tmp_path):
    server = fake_llm(distinct_reviewer())
    root = tiny_venue(tmp_path / "venue", n=4)
    args = ["run", "--dataset", str(root), "--text", "raw", "--model", MODEL, "--base-url", server.openai_base_url,
            "--concurrency", "1", "--run-dir", str(tmp_path / "run")]
    ceilings = [p["estimated_cost_usd"] for p in json.loads(invoke(app, *args, "--dry-run", "--json").stdout)["per_paper"]]
    # Room for the first paper's ceiling only: after it, what it spent plus the next ceiling is over.
    stopped = invoke(app, *args, "--max-cost", str(ceilings[0]))
    assert stopped.exit_code == EXIT_BUDGET, stopped.output
    assert "stopped at the budget" in stopped.output and "1 of 4 papers done" in stopped.output
    assert read_manifest(tmp_path / "run").status == "budget"
    assert len(read_records(tmp_path / "run")) == 1 and len(server.requests) == 1

    resumed = invoke(app, *args, "--max-cost", "100")
    assert resumed.exit_code == 0, resumed.output
    lines = (tmp_path / "run" / "records.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["paper_id"] for line in lines) == ["v0", "v1", "v2", "v3"]
    assert len(server.requests) == 4 and read_manifest(tmp_path / "run").status == "complete"


@pytest.mark.parametrize("option", [["--dry-run"], ["--max-cost", "5"], ["--batch"]])
def test_an_attack_whose_baseline_no_ceiling_counts_is_refused(app, fake_llm, tmp_path, option):
    server = fake_llm(distinct_reviewer())
    result = invoke(app, "run", "--dataset", str(tiny_venue(tmp_path / "venue")), "--text", "raw", "--model", MODEL,
                    "--base-url", server.openai_base_url, "--attack", "visible", "--run-dir", str(tmp_path / "run"),
                    *option)
    assert result.exit_code == 2 and "--attack does not go with" in result.output
    assert server.requests == [] and not (tmp_path / "run").exists()


def test_an_exhausted_quota_stops_the_run_unretried_and_it_resumes(app, fake_llm, tmp_path):
    server = fake_llm(distinct_reviewer())
    root = tiny_venue(tmp_path / "venue", n=3)
    args = ["run", "--dataset", str(root), "--text", "raw", "--model", MODEL, "--base-url", server.openai_base_url,
            "--concurrency", "1", "--run-dir", str(tmp_path / "run")]
    assert invoke(app, *args, "--limit", "1").exit_code == 0
    server.faults.append(Fault(429, body=json.dumps(QUOTA_BODY)))
    stopped = invoke(app, *args)
    assert stopped.exit_code == EXIT_QUOTA, stopped.output
    assert "quota is spent" in stopped.output and "exceeded your current quota" in stopped.output
    assert len(server.requests) == 2  # the 429 was not retried
    assert [r.paper_id for r in read_records(tmp_path / "run")] == ["v0"]  # the interrupted paper is not failed
    assert read_manifest(tmp_path / "run").status == "quota"

    resumed = invoke(app, *args)
    assert resumed.exit_code == 0, resumed.output
    assert len(read_records(tmp_path / "run")) == 3 and len(server.requests) == 4


def test_review_stops_on_an_exhausted_quota_with_its_own_code(app, fake_llm, tmp_path):
    server = fake_llm(distinct_reviewer())
    server.faults.append(Fault(429, body=json.dumps(QUOTA_BODY)))
    paper = tmp_path / "paper.txt"
    paper.write_text("# A paper\n\nWe study things.\n")
    result = invoke(app, "review", str(paper), "--model", MODEL, "--base-url", server.openai_base_url, "--json")
    assert result.exit_code == EXIT_QUOTA and "quota is spent" in result.stderr
    assert len(server.requests) == 1


def test_quota_bodies_of_both_apis_are_told_from_rate_limits():
    assert isinstance(error_for_status(429, "x", body=QUOTA_BODY["error"]), QuotaExhausted)
    spend_limit = {"type": "error", "error": {"type": "rate_limit_error", "message": "spend limit",
                                              "details": {"error_code": "enforced_spend_limit_reached"}}}
    assert isinstance(error_for_status(429, "x", body=spend_limit), QuotaExhausted)
    billing = {"type": "error", "error": {"type": "billing_error", "message": "credit balance too low"}}
    assert isinstance(error_for_status(400, "x", body=billing), QuotaExhausted)
    rate = {"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}}
    assert isinstance(error_for_status(429, "x", body=rate), RateLimitError)


def test_ordinary_429s_halve_the_concurrency_which_recovers():
    in_flight, calls, starts = 0, 0, []

    class Busy(MockProvider):
        async def generate(self, messages, config):
            nonlocal in_flight, calls
            calls += 1
            if calls in (3, 4):  # two rate limits for calls both sent under the first limit
                await asyncio.sleep(0.005)
                raise RateLimitError("slow down", retry_after=0)
            in_flight += 1
            starts.append((in_flight, model.limit.limit))
            await asyncio.sleep(0.01)
            in_flight -= 1
            return await super().generate(messages, config)

    model = Model(Busy("mock/x", lambda m, c: "x"), max_concurrency=8, use_cache=False)

    async def many():
        await asyncio.gather(*(model.generate([ChatMessage("user", str(i))], GenerateConfig()) for i in range(60)))

    asyncio.run(many())
    assert model.stats.throttled == 2 and model.limit.lowest == 4  # halved once, not once per 429
    assert all(running <= limit for running, limit in starts)
    limits = [limit for _, limit in starts]
    after = limits[limits.index(4):]
    assert after == sorted(after) and after[-1] == 8  # won back one place per limit's worth of successes
    assert max(running for running, limit in starts if limit == 4) == 4


def test_a_retry_after_pauses_every_call():
    started = []

    class Paused(MockProvider):
        async def generate(self, messages, config):
            started.append((messages[0].content, asyncio.get_running_loop().time()))
            if len(started) == 1:
                raise RateLimitError("slow down", retry_after=0.3)
            return await super().generate(messages, config)

    model = Model(Paused("mock/x", lambda m, c: "x"), max_concurrency=8, use_cache=False)

    async def two():
        first = asyncio.create_task(model.generate([ChatMessage("user", "a")], GenerateConfig()))
        await asyncio.sleep(0.05)
        await asyncio.gather(first, model.generate([ChatMessage("user", "b")], GenerateConfig()))

    asyncio.run(two())
    begin = started[0][1]
    assert all(at - begin >= 0.29 for _, at in started[1:]) and {text for text, _ in started} == {"a", "b"}


@pytest.mark.parametrize("supports_n", [True, False])
@pytest.mark.parametrize("ensemble,reflections", [(1, 1), (3, 1), (1, 3), (3, 3)])
def test_the_plan_counts_the_calls_the_pipeline_makes(supports_n, ensemble, reflections):
    from fakes.reviews import answer, review_dict

    provider = MockProvider("mock/x", lambda m, c: answer(review_dict(5), "Sharpening."), supports_n=supports_n)
    reviewer = LLMReviewer(Model(provider, use_cache=False), ReviewConfig(model="mock/x", ensemble=ensemble,
                                                                          reflections=reflections), [])
    from corpus.paper import Paper

    plan = plan_review(reviewer, "p", "We study things. " * 500)
    outcome = asyncio.run(reviewer.review(Paper("p", "We study things. " * 500)))
    assert outcome.ok and plan.requests == len(provider.requests) == outcome.meta.calls
    assert plan.usage.input_tokens >= outcome.meta.usage["input_tokens"]
    assert plan.usage.output_tokens >= outcome.meta.usage["output_tokens"]
