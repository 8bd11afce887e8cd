"""``review-bench run --batch`` through the real SDKs against a local server playing the OpenAI
Batch API and Anthropic's Message Batches: one batch per pipeline step for all papers, answers
parsed like live ones at half price, failed requests retried in a later batch, and a killed
run that re-attaches to its batches instead of submitting them again."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
from fakes.batch_server import FakeBatchServer
from fakes.reviews import ROUND, distinct_reviewer
from fakes.venues import tiny_venue
from typer.testing import CliRunner

from benchmarks.store import read_manifest, read_records

OPENAI = "openai/gpt-4o-2024-05-13"
ANTHROPIC = "anthropic/claude-3-5-sonnet-20240620"


@pytest.fixture(scope="module")
def app():
    from review_bench.cli import build_app

    return build_app()


@pytest.fixture
def fake_batch():
    servers = []

    def start(responder, **options):
        server = FakeBatchServer(responder=responder, **options).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def run_args(root, model, url, run_dir, *extra):
    return ["run", "--dataset", str(root), "--text", "raw", "--model", model, "--base-url", url,
            "--ensemble", "3", "--reflections", "3", "--run-dir", str(run_dir), *extra]


def url_for(server, model):
    return server.openai_base_url if model == OPENAI else server.url


def body_text(line: dict) -> str:
    return json.dumps(line.get("body") or line.get("params"))


def step(line: dict) -> str:
    text = body_text(line)
    rounds = ROUND.findall(text)
    if rounds:  # the conversation holds the earlier rounds too
        return "Round {}/{}".format(*rounds[-1])
    return "meta" if "Area Chair" in text else "review"


@pytest.mark.parametrize("model", [OPENAI, ANTHROPIC])
def test_each_step_is_one_batch_for_all_papers_at_half_the_live_cost(app, fake_batch, fake_llm, tmp_path, model):
    root = tiny_venue(tmp_path / "venue")
    server = fake_batch(distinct_reviewer())
    result = CliRunner().invoke(app, run_args(root, model, url_for(server, model), tmp_path / "batch",
                                              "--batch", "--batch-poll", "0.01"))
    assert result.exit_code == 0, result.output
    batches = list(server.batches.values())
    assert [{step(line) for line in b.lines} for b in batches] == [{"review"}, {"meta"}, {"Round 2/3"},
                                                                  {"Round 3/3"}]
    # OpenAI asks for the three drafts in one request (n=3); Anthropic needs three.
    assert [len(b.lines) for b in batches] == [3 if model == OPENAI else 9, 3, 3, 3]
    assert "4 batches, 12 requests" in result.output if model == OPENAI else "4 batches, 18 requests" in result.output
    if model == OPENAI:
        assert all(b.looks >= 3 for b in batches)  # validating, in_progress, finalizing, completed
    batch_records = {r.paper_id: r for r in read_records(tmp_path / "batch")}
    assert len(batch_records) == 3 and all(r.ok for r in batch_records.values())

    live = fake_llm(distinct_reviewer())
    result = CliRunner().invoke(app, run_args(root, model, url_for(live, model), tmp_path / "live", "--no-cache"))
    assert result.exit_code == 0, result.output
    live_records = {r.paper_id: r for r in read_records(tmp_path / "live")}
    for paper_id, record in live_records.items():
        assert batch_records[paper_id].review == record.review
        assert batch_records[paper_id].usage == record.usage
        assert batch_records[paper_id].cost_usd == pytest.approx(record.cost_usd / 2)


@pytest.mark.parametrize("model", [OPENAI, ANTHROPIC])
def test_failed_and_expired_requests_go_out_again_and_fatal_ones_fail_the_paper(app, fake_batch, tmp_path, model):
    root = tiny_venue(tmp_path / "venue")
    first_failure = {}

    def error_for(line):
        text = body_text(line)
        if "problem 0" in text and "Round 2/3" in text:  # a server error, once: asked again
            if first_failure.setdefault("id", line["custom_id"]) == line["custom_id"]:
                return (500, "api_error" if model == ANTHROPIC else "server_error")
        if "problem 2" in text and step(line) == "review":  # rejected: the paper fails
            return (400, "invalid_request_error")
        return None

    server = fake_batch(distinct_reviewer(), error_for=error_for, expire_next_after=1)
    result = CliRunner().invoke(app, run_args(root, model, url_for(server, model), tmp_path / "run",
                                              "--batch", "--batch-poll", "0.01"))
    assert result.exit_code == 0, result.output
    records = {r.paper_id: r for r in read_records(tmp_path / "run")}
    assert records["v0"].ok and records["v1"].ok
    assert not records["v2"].ok and records["v2"].failure["kind"] == "provider"
    assert "400" in records["v2"].failure["message"]
    first = list(server.batches.values())[0]
    assert first.ending == "expired"
    # What expired unanswered went out again in the next batch, with the meta-review that was ready.
    expired = {line["custom_id"] for line in first.lines[1:]}
    second = list(server.batches.values())[1]
    assert {step(line) for line in second.lines} >= {"review"}
    assert not expired & {line["custom_id"] for line in second.lines}
    submitted = [line["custom_id"] for b in server.batches.values() for line in b.lines]
    assert len(submitted) == len(set(submitted))  # a retry is a new request, never the same one twice
    journal = [json.loads(line) for line in (tmp_path / "run" / "batches.jsonl").read_text().splitlines()]
    # OpenAI expires the batch; Anthropic ends it with the requests that did not run marked expired.
    assert {entry["status"] for entry in journal if "ended" in entry} >= {"expired" if model == OPENAI else "ended"}


def test_a_killed_batch_run_reattaches_and_submits_nothing_twice(fake_batch, tmp_path):
    root = tiny_venue(tmp_path / "venue")
    server = fake_batch(distinct_reviewer())
    run_dir = tmp_path / "run"
    journal = run_dir / "batches.jsonl"
    command = [sys.executable, "-m", "review_bench", *run_args(root, OPENAI, server.openai_base_url, run_dir,
                                                              "--batch", "--batch-poll", "0.3")]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:  # the meta-reviews' batch is out
        if journal.exists() and journal.read_text().count('"submitted"') >= 2:
            break
        time.sleep(0.02)
    assert process.poll() is None, process.stderr.read()
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    entries = [json.loads(line) for line in journal.read_text().splitlines()]
    ended = {entry["ended"] for entry in entries if "ended" in entry}
    pending = [entry["submitted"] for entry in entries if "submitted" in entry and entry["submitted"] not in ended]
    assert len(pending) == 1 and read_records(run_dir) == [] and len(server.batches) == 2
    looks_at_kill = server.batches[pending[0]].looks

    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "re-attaching to batch" in done.stdout + done.stderr  # the log goes to stdout
    submitted = [line["custom_id"] for b in server.batches.values() for line in b.lines]
    assert len(submitted) == len(set(submitted)) and len(server.batches) == 4
    assert server.batches[pending[0]].looks > looks_at_kill  # the resumed run polled the batch it found
    assert len(read_records(run_dir)) == 3 and read_manifest(run_dir).status == "complete"
