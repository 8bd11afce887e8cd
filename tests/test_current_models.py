"""Today's models through the real SDKs against a loopback server that rejects what the real
APIs reject (``fakes.api_rules``): reasoning models, Claude without sampling parameters,
extended and adaptive thinking, a 400 naming a parameter, unknown prices, Gemini, and two
models on two servers."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from fakes.api_rules import OPENAI_REASONING
from fakes.llm_server import THINKING_TEXT
from fakes.reviews import scripted_reviewer
from typer.testing import CliRunner

from benchmarks.store import read_manifest
from review_bench.cli import build_app

PAPER_TEXT = "Title: A Study of Things\n\nAbstract\nWe study things.\n\n1 Introduction\nThings matter.\n"
TODAY = ["openai/gpt-5.4", "openai/gpt-5-mini", "openai/o4-mini", "anthropic/claude-opus-4-8",
         "anthropic/claude-sonnet-5"]


@pytest.fixture(scope="module")
def app():
    return build_app()


@pytest.fixture
def strict(fake_llm):
    return fake_llm(scripted_reviewer(done_at_round=None), strict=True)


def review(app, server, model, tmp_path, *options, env=None):
    paper = tmp_path / "paper.txt"
    paper.write_text(PAPER_TEXT)
    url = server.url if model.startswith("anthropic/") else server.openai_base_url
    result = CliRunner().invoke(app, ["review", str(paper), "--model", model, "--base-url", url, "--format", "json",
                                      "--ensemble", "3", "--reflections", "3", "--no-cache", *options], env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), result.stderr


def list_price(model: str, requests) -> float:
    """What genai-prices itself charges for the tokens the server said it used."""
    from genai_prices import Usage, calc_price

    provider, name = model.split("/", 1)
    spent = [(u.get("prompt_tokens", u.get("input_tokens")), u.get("completion_tokens", u.get("output_tokens")))
             for u in (r.usage for r in requests)]
    usage = Usage(input_tokens=sum(i for i, _ in spent), output_tokens=sum(o for _, o in spent))
    return float(calc_price(usage, model_ref=name, provider_id=provider).total_price)


@pytest.mark.parametrize("model", TODAY)
def test_todays_models_review_and_report_a_priced_cost(app, strict, model, tmp_path):
    review_json, stderr = review(app, strict, model, tmp_path)
    meta = review_json["meta"]
    assert review_json["Overall"] in range(1, 11) and meta["calls"] == (4 if model.startswith("openai/") else 6)
    assert all(r.status == 200 for r in strict.requests), "nothing the real API would reject was sent"
    assert meta["cost_usd"] == pytest.approx(list_price(model, strict.requests))
    assert any(note.startswith(f"{model} priced by genai-prices ") for note in meta["notes"])
    assert any("temperature 0.75 not applied" in note for note in meta["notes"]), "the run says so"
    assert "temperature 0.75 not applied" in stderr
    for request in strict.requests:
        assert not {"temperature", "top_p", "top_k"} & request.body.keys()
        if model.startswith("openai/"):
            assert "max_tokens" not in request.body and request.body["max_completion_tokens"] > 4096


@pytest.mark.parametrize("model, thinking", [
    ("anthropic/claude-sonnet-4-6", {"type": "enabled", "budget_tokens": 24576}),
    ("anthropic/claude-opus-4-8", {"type": "adaptive"}),
    ("openai/o4-mini", None),
])
def test_reasoning_effort_reaches_the_api_and_thinking_stays_out_of_the_review(app, strict, model, thinking,
                                                                                tmp_path):
    review_json, _ = review(app, strict, model, tmp_path, "--reasoning-effort", "high")
    assert review_json["meta"]["config"]["reasoning_effort"] == "high"
    assert review_json["Overall"] != 1, "the thinking block's JSON must not be parsed"
    first = strict.requests[0].body
    if thinking:
        assert first["thinking"] == thinking and first["max_tokens"] == 4096 + 24576
        assert "temperature" not in first
    else:
        assert first["reasoning_effort"] == "high" and first["max_completion_tokens"] == 4096 + 24576
    assert all(r.status == 200 for r in strict.requests)
    assert not any(THINKING_TEXT in r.all_text for r in strict.requests), "thinking went back into the conversation"


def test_a_400_naming_a_parameter_drops_it_retries_once_and_reaches_the_manifest(app, strict, tmp_path):
    """A model the tables misjudge: the facts say gpt-4o-2024-05-13 takes max_completion_tokens and
    a temperature; this server answers for it as a reasoning model does. The first request (n=3) is
    refused for temperature, which must not be taken for a refusal of n."""
    strict.rules["gpt-4o-2024-05-13"] = (OPENAI_REASONING, None)
    venue = tmp_path / "venue"
    (venue / "texts").mkdir(parents=True)
    (venue / "ratings_venue.tsv").write_text("paper_id\t0\t1\tdecision\nv0\t6\t7\tAccept\n")
    (venue / "texts" / "v0.txt").write_text(PAPER_TEXT)
    run_dir = tmp_path / "run"
    result = CliRunner().invoke(app, [
        "run", "--dataset", str(venue), "--model", "openai/gpt-4o-2024-05-13", "--base-url", strict.openai_base_url,
        "--ensemble", "3", "--reflections", "2", "--run-dir", str(run_dir), "--no-cache"])
    assert result.exit_code == 0, result.output
    statuses = [(r.status, r.n, "temperature" in r.body) for r in strict.requests]
    assert statuses[:2] == [(400, 3, True), (200, 3, False)], "one drop, one retry, n kept"
    assert all(status == 200 and not sent for status, _, sent in statuses[1:])
    notes = read_manifest(run_dir).notes
    assert any(n.startswith("temperature dropped for openai/gpt-4o-2024-05-13 after the API rejected it")
               for n in notes), notes
    assert any(n.startswith("openai/gpt-4o-2024-05-13 priced by genai-prices ") for n in notes)


def test_an_unknown_model_gets_its_apis_baseline_and_renamed_limits(app, strict, tmp_path):
    """Unknown to every table, on an OpenAI-compatible server: max_tokens and a temperature are what
    such servers take; this one is a reasoning model that refuses both, each once."""
    strict.rules["house-reasoner"] = (OPENAI_REASONING, None)
    review_json, _ = review(app, strict, "openai/house-reasoner", tmp_path, "--price", "in=1,out=2")
    assert [r.status for r in strict.requests[:3]] == [400, 400, 200]
    assert strict.requests[2].body.keys() >= {"max_completion_tokens"}
    assert not {"max_tokens", "temperature"} & strict.requests[-1].body.keys()
    notes = review_json["meta"]["notes"]
    assert any("max_tokens dropped" in n and "max_completion_tokens sent instead" in n for n in notes)
    assert review_json["meta"]["cost_usd"] > 0 and "openai/house-reasoner priced by --price" in notes


def test_an_unknown_claude_gets_no_sampling_parameters(app, strict, tmp_path):
    strict.rules["claude-next"] = ("anthropic-no-sampling", None)
    review_json, _ = review(app, strict, "anthropic/claude-next", tmp_path, "--price", "in=3,out=15")
    assert all(r.status == 200 for r in strict.requests)
    assert review_json["meta"]["cost_usd"] > 0


def test_an_unknown_price_is_null_warned_once_and_set_by_price(app, fake_llm, tmp_path):
    server = fake_llm(scripted_reviewer(done_at_round=None))
    paper = tmp_path / "paper.txt"
    paper.write_text(PAPER_TEXT)
    # As a user runs it, so the warning shows as the command's logging prints it.
    done = subprocess.run([sys.executable, "-m", "review_bench", "review", str(paper), "--model", "openai/house-model",
                           "--base-url", server.openai_base_url, "--ensemble", "3", "--reflections", "3",
                           "--format", "json"], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    meta = json.loads(done.stdout)["meta"]
    assert meta["cost_usd"] is None and meta["calls"] == 4
    assert " ".join(done.stderr.split()).count("no price is known for openai/house-model") == 1
    assert any("cost_usd is null" in note for note in meta["notes"])
    markdown = CliRunner().invoke(app, ["review", str(tmp_path / "paper.txt"), "--model", "openai/house-model",
                                        "--base-url", server.openai_base_url, "--format", "md"])
    assert markdown.exit_code == 0 and "· unknown ·" in markdown.stdout
    priced, _ = review(app, server, "openai/house-model", tmp_path, "--price", "in=2,out=8,cached=1")
    usage = priced["meta"]["usage"]
    expected = (usage["input_tokens"] * 2 + usage["output_tokens"] * 8) / 1e6
    assert priced["meta"]["cost_usd"] == pytest.approx(expected)
    assert priced["meta"]["config"]["price"] == {"input": 2.0, "output": 8.0, "cache_read": 1.0, "cache_write": None}


def test_price_option_errors_are_one_line(app, tmp_path):
    (tmp_path / "paper.txt").write_text(PAPER_TEXT)
    result = CliRunner().invoke(app, ["review", str(tmp_path / "paper.txt"), "--model", "mock/accept",
                                      "--price", "in=1"])
    assert result.exit_code == 2 and "--price:" in result.output and "Traceback" not in result.output


def test_gemini_goes_to_googles_openai_endpoint_with_its_key(app, fake_llm, tmp_path):
    server = fake_llm(scripted_reviewer(done_at_round=None))
    review_json, _ = review(app, server, "gemini/gemini-2.5-flash", tmp_path, env={"GEMINI_API_KEY": "gk-test"})
    first = server.requests[0]
    headers = {name.lower(): value for name, value in first.headers.items()}
    assert first.path == "/v1/chat/completions" and headers["authorization"] == "Bearer gk-test"
    assert first.body["model"] == "gemini-2.5-flash" and first.body["temperature"] == 0.75
    assert "max_tokens" in first.body and "max_completion_tokens" not in first.body
    assert review_json["meta"]["cost_usd"] > 0
    assert any(n.startswith("gemini/gemini-2.5-flash priced by genai-prices ") for n in review_json["meta"]["notes"])
    missing = CliRunner().invoke(app, ["review", str(tmp_path / "paper.txt"), "--model", "gemini-2.5-flash"],
                                 env={"GEMINI_API_KEY": ""})
    assert missing.exit_code == 2 and "set GEMINI_API_KEY" in missing.output


def test_models_command_lists_facts_and_prices(app):
    result = CliRunner().invoke(app, ["models", "--json", "openai/gpt-5.4", "anthropic/claude-sonnet-5",
                                      "openai/house-model"])
    assert result.exit_code == 0, result.output
    gpt, sonnet, house = [json.loads(line) for line in result.stdout.splitlines()]
    assert (gpt["temperature"], gpt["reasoning"], gpt["token_limit"]) == (False, True, "max_completion_tokens")
    assert gpt["input_usd_per_mtok"] == 2.5 and gpt["priced_by"].startswith("genai-prices ")
    assert sonnet["temperature"] is False and sonnet["facts_from"].endswith("model_overrides.json")
    assert house["known"] is False and house["priced_by"] == "unknown"
