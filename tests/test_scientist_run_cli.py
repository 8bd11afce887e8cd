"""``review-bench scientist run`` itself, against the fake LLM: one idea, two rounds, the built-in
coder, a fast template; the first review asks for another seed, so the revision runs one more
experiment before it rewrites the paper. The writer and the reviewer are on two servers, each
named by its own base URL. Running the same command again resumes with no new call."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from scientist_fakes import IDEA, SEED_WEAKNESS, scientist_responder, tiny_template
from typer.testing import CliRunner

from review_bench.cli import build_app
from scientist.latex import require_tex
from scientist.loop import Scientist

MODEL = "openai/gpt-4o-2024-05-13"
REVIEWER_SYSTEM = "reviewing a paper submitted to a top-tier ML conference"


def test_scientist_run_writes_the_run_folder_and_resumes(bwrap_works, tmp_path, fake_llm, shared_datasets):
    require_tex()
    server = fake_llm(scientist_responder(review_overall=(3, 5), ask_for_seed=True))
    review_server = fake_llm(server.responder)
    out = tmp_path / "run"
    command = [
        "scientist", "run", "--template", str(tiny_template(tmp_path / "tiny")), "--out", str(out),
        "--model", MODEL, "--review-model", MODEL, "--base-url", server.openai_base_url,
        "--review-base-url", review_server.openai_base_url,
        "--num-ideas", "1", "--rounds", "2", "--coder", "builtin", "--literature", "offline",
        "--data-dir", str(shared_datasets), "--max-runs", "2", "--run-timeout", "60",
        "--price", "in=2,out=8", "--reasoning-effort", "high", "--review-reasoning-effort", "low",
    ]
    result = CliRunner().invoke(build_app(), command)
    assert result.exit_code == 0, result.output
    assert "higher_lr: Overall by round [3, 5]" in result.output
    (isolation_line,) = [line for line in result.output.splitlines() if line.startswith("sandbox: ")]
    assert isolation_line.startswith("sandbox: bubblewrap, namespaces user, pid, net, ipc")
    cost = float(re.search(r"total cost \$([\d.]+)", result.output).group(1))
    assert cost > 0

    idea_dir = out / IDEA["Name"]
    state = json.loads((idea_dir / "state.json").read_text())
    assert state["done"] == ["novelty", "experiments", "writeup", "review"] and state["skipped"] is None
    (isolation,) = state["isolation"]  # the run record says what held the experiments and the code editor
    assert (isolation["mechanism"], isolation["network"], isolation["timeout_s"]) == ("bubblewrap", "none", 60)
    assert isolation["editor"].startswith("the built-in coder") and "code editor: the built-in" in isolation_line
    # The writer's notes: who priced its calls (--price), the effort its model does not take.
    assert f"{MODEL} priced by --price" in state["notes"]
    assert any(n.startswith(f"reasoning effort high not applied: {MODEL} takes none") for n in state["notes"])
    round0, round1 = state["rounds"]
    assert SEED_WEAKNESS in round0["weaknesses"] and round1["experiment_run"] == 2
    for number in (0, 1):
        assert (idea_dir / f"rounds/round_{number}/paper.pdf").read_bytes()[:4] == b"%PDF"
        review = json.loads((idea_dir / f"rounds/round_{number}/review.json").read_text())
        assert review["Overall"] == (3, 5)[number]
        assert any(n.startswith("reasoning effort low not applied") for n in review["meta"]["notes"])
    assert (out / "scores.md").read_text().splitlines()[2:] == [
        f"| higher_lr | 0 | 3 | Reject | {round0['pdf']} |", f"| higher_lr | 1 | 5 | Reject | {round1['pdf']} |"]

    # The review asked for a second seed: run 2 ran in the sandbox, plots were redone over every run,
    # and the LaTeX revision was told about it with the notes holding its results.
    report = json.loads((idea_dir / "experiments.json").read_text())
    assert [(r["run"], r["status"]) for r in report["runs"]] == [(0, "ok"), (1, "ok"), (2, "ok")]
    assert "seed=1" in (idea_dir / "run_2" / "experiment.py").read_text()
    assert (idea_dir / "figures" / "runs.txt").read_text().split() == ["run_0", "run_1", "run_2"]
    (revision,) = [r for r in server.requests if "listed these weaknesses" in r.last_user]
    assert "Run 2 was made for this review (status ok)" in revision.last_user
    assert "## Run 2 (asked for by the review)" in revision.last_user
    assert json.dumps(report["runs"][2]["results"]) in revision.last_user
    assert "two small point sets only" in (idea_dir / "rounds/round_1/paper.tex").read_text()

    reviews = [r for r in review_server.requests if REVIEWER_SYSTEM in r.system]
    assert len(reviews) == len(review_server.requests) == 2, "every review, and only reviews, on the review server"
    assert not any(REVIEWER_SYSTEM in r.system for r in server.requests)

    calls = len(server.requests) + len(review_server.requests)
    again = CliRunner().invoke(build_app(), command)
    assert again.exit_code == 0, again.output
    assert len(server.requests) + len(review_server.requests) == calls
    assert "higher_lr: Overall by round [3, 5]" in again.output


def test_scientist_run_refuses_to_run_experiments_without_a_sandbox(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap
    command = ["scientist", "run", "--template", "diffusion_2d", "--out", str(tmp_path / "run"), "--model", MODEL,
               "--review-model", MODEL, "--base-url", "http://127.0.0.1:9/v1"]
    result = CliRunner().invoke(build_app(), command)
    assert result.exit_code == 2 and "the experiment sandbox cannot start (bwrap is not installed" in result.output
    assert "--unsafe-no-sandbox" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("option, message", [
    (["--revise-experiments", "sometimes"], "--revise-experiments must be auto, always or never"),
    (["--reasoning-effort", "extreme"], "--reasoning-effort must be one of low, medium, high"),
    (["--review-price", "in=1"], "--review-price: give at least in= and out="),
])
def test_scientist_run_rejects_bad_values_in_one_line(tmp_path, option, message):
    result = CliRunner().invoke(build_app(), [
        "scientist", "run", "--template", "diffusion_2d", "--out", str(tmp_path), "--model", "mock/x",
        "--review-model", "mock/x", *option])
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


@pytest.fixture
def recorded_settings(monkeypatch) -> list:
    """``scientist run`` parses its options into settings and stops there: the settings of each run."""
    from types import SimpleNamespace

    import scientist.loop

    seen = []

    class Recorder:
        def __init__(self, settings):
            seen.append(settings)
            self.cost_usd = 0.0
            self.isolation = SimpleNamespace(describe=lambda: "sandbox: recorded")

        async def run(self):
            return []

    monkeypatch.setattr(scientist.loop, "Scientist", Recorder)
    return seen


def test_the_review_model_does_not_inherit_the_writers_base_url(tmp_path, recorded_settings):
    base = ["scientist", "run", "--template", "diffusion_2d", "--out", str(tmp_path), "--model", MODEL,
            "--review-model", "anthropic/claude-sonnet-5", "--base-url", "http://127.0.0.1:9/v1"]
    assert CliRunner().invoke(build_app(), base).exit_code == 0
    assert CliRunner().invoke(build_app(), [*base, "--review-base-url", "http://127.0.0.1:8/"]).exit_code == 0
    assert [(s.base_url, s.review_base_url) for s in recorded_settings] == [
        ("http://127.0.0.1:9/v1", None), ("http://127.0.0.1:9/v1", "http://127.0.0.1:8/")]


def test_price_and_reasoning_effort_reach_the_writer_and_the_reviewer(tmp_path, recorded_settings, fake_llm):
    """--price/--reasoning-effort set the writing model's, --review-* the reviewer's: the writer's calls ask
    a reasoning model for that effort and cost that price, the reviewer's config carries its own."""
    from reviewer.models.base import ChatMessage, GenerateConfig
    from reviewer.models.pricing import Price

    server = fake_llm(lambda seen: "An idea.")
    writer = "openai/o4-mini"
    result = CliRunner().invoke(build_app(), [
        "scientist", "run", "--template", "diffusion_2d", "--out", str(tmp_path), "--model", writer,
        "--base-url", server.openai_base_url, "--review-model", "anthropic/claude-sonnet-5",
        "--price", "in=2,out=8", "--reasoning-effort", "high",
        "--review-price", "in=1,out=4,cached=0.5", "--review-reasoning-effort", "low", "--unsafe-no-sandbox"])
    assert result.exit_code == 0, result.output
    (settings,) = recorded_settings
    assert (settings.price, settings.reasoning_effort) == (Price(input=2, output=8), "high")
    assert (settings.review_price, settings.review_reasoning_effort) == (
        Price(input=1, output=4, cache_read=0.5), "low")

    scientist = Scientist(settings)  # the real one: recorded_settings replaced it in scientist.loop only
    review = scientist.review_config
    assert (review.model, review.price, review.reasoning_effort) == (
        "anthropic/claude-sonnet-5", settings.review_price, "low")

    async def two_calls():
        default = await scientist.model.generate([ChatMessage("user", "An idea, please.")], GenerateConfig())
        # A call that names its own effort keeps it.
        own = await scientist.model.generate([ChatMessage("user", "Again.")], GenerateConfig(reasoning_effort="low"))
        await scientist.model.aclose()
        return [default.usage, own.usage]

    usages = asyncio.run(two_calls())
    first, second = server.requests
    assert first.body["model"] == "o4-mini" and first.body["reasoning_effort"] == "high"
    assert second.body["reasoning_effort"] == "low"
    assert all(usage.input_tokens > 0 for usage in usages)
    assert scientist.model.stats.cost_usd == pytest.approx(sum(Price(input=2, output=8).cost(u) for u in usages))
    assert f"{writer} priced by --price" in scientist.model.notes
