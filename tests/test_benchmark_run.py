"""``review-bench run`` end to end against the fake OpenAI server: a run, a SIGKILL and a
resume, and faults that end as retried successes or recorded failures."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from fakes.llm_server import Fault
from fakes.reviews import classify, scripted_reviewer
from fakes.venues import tiny_venue
from typer.testing import CliRunner

from benchmarks.store import read_manifest, read_records

MODEL = "openai/gpt-4o-2024-05-13"


@pytest.fixture(scope="module")
def app():
    from review_bench.cli import build_app

    return build_app()


def invoke(app, *args):
    return CliRunner().invoke(app, ["run", *args], catch_exceptions=False)


def test_run_five_papers_writes_manifest_records_and_metrics(app, fake_llm, shared_datasets, tmp_path):
    server = fake_llm(scripted_reviewer())
    run_dir = tmp_path / "run"
    args = ["iclr2022", "--data-dir", str(shared_datasets), "--model", MODEL, "--base-url",
            server.openai_base_url, "--limit", "5", "--text", "raw", "--run-dir", str(run_dir)]
    result = invoke(app, *args)
    assert result.exit_code == 0, result.output
    manifest = read_manifest(run_dir)
    assert (manifest.status, manifest.limit, manifest.kind) == ("complete", 5, "benchmark")
    assert manifest.config["model"] == MODEL and manifest.config_hash
    assert (manifest.dataset.name, manifest.dataset.split, manifest.dataset.text_mode) == ("iclr2022", "eval", "raw")
    assert len(manifest.dataset.fingerprint) == 64 and manifest.package_version
    records = read_records(run_dir)
    assert len(records) == 5 and all(r.ok for r in records)
    assert all(r.human is not None and r.human.decision for r in records)
    assert all(r.overall == 6 and r.decision_by_threshold == "Accept" and r.calls == 1 for r in records)
    assert all(r.usage["input_tokens"] > 0 and r.cost_usd > 0 for r in records)
    assert len(server.requests) == 5
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert (metrics["n"], metrics["n_failed"]) == (5, 0)
    assert "balanced accuracy" in result.output

    again = invoke(app, *args)  # resumes: nothing left to review
    assert again.exit_code == 0 and len(server.requests) == 5
    assert "5 already done, 0 reviewed" in again.output


def test_a_different_config_refuses_the_run_dir(app, fake_llm, shared_datasets, tmp_path):
    server = fake_llm(scripted_reviewer())
    base = ["iclr2022", "--data-dir", str(shared_datasets), "--model", MODEL, "--base-url",
            server.openai_base_url, "--limit", "2", "--text", "raw", "--run-dir", str(tmp_path / "run")]
    assert invoke(app, *base).exit_code == 0
    result = invoke(app, *base, "--temperature", "0.1")
    assert result.exit_code == 2
    assert "holds a run with a different config" in result.output
    assert len(read_records(tmp_path / "run")) == 2


def test_blind_text_mode_is_the_default_and_recorded(app, fake_llm, tmp_path):
    server = fake_llm(scripted_reviewer())
    venue = tiny_venue(tmp_path / "venue", n=2)
    result = invoke(app, "--dataset", str(venue), "--model", MODEL, "--base-url", server.openai_base_url,
                    "--run-dir", str(tmp_path / "run"))
    assert result.exit_code == 0, result.output
    manifest = read_manifest(tmp_path / "run")
    assert (manifest.dataset.name, manifest.dataset.text_mode, manifest.limit) == ("venue", "blind", None)
    assert len(read_records(tmp_path / "run")) == 2
    assert any("We study problem 1 with care." in seen.last_user for seen in server.requests)


def test_bad_input_is_one_line_exit_2(app, tmp_path, monkeypatch):
    monkeypatch.delenv("REVIEW_BENCH_DATA", raising=False)
    result = invoke(app, "iclr2022", "--model", MODEL, "--text", "raw")
    assert result.exit_code == 2 and "no data folder" in result.output
    venue = tiny_venue(tmp_path / "venue", n=4)
    (venue / "ratings_v.tsv").write_text("paper_id\t0\tdecision\nv0\tgood\tAccept\n")
    result = invoke(app, "--dataset", str(venue), "--model", MODEL, "--text", "raw")
    assert result.exit_code == 2 and "ratings_v.tsv:2: a rating is not a number" in result.output
    result = invoke(app, "--dataset", str(venue), "--text", "raw", "--body-only")
    assert result.exit_code == 2 and "--body-only needs --text blind" in result.output


class HeldAnswers:
    """Answers like ``scripted_reviewer`` until the run has ``hold_at`` durable records, then
    holds every answer until released: the run cannot finish before the test's signal reaches
    it, however slowly the machine runs the test."""

    def __init__(self, records_path):
        self.records_path = records_path
        self.answer = scripted_reviewer()
        self.hold_at = 0
        self.released = threading.Event()

    def records(self) -> int:
        return self.records_path.read_bytes().count(b"\n") if self.records_path.exists() else 0

    def __call__(self, seen):
        if self.records() >= self.hold_at:
            self.released.wait(timeout=60)
        return self.answer(seen)

    def stop_after(self, command, n_records, sig):
        """Start a run, send ``sig`` once ``n_records`` records are durable, return the process."""
        self.hold_at = n_records
        self.released.clear()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None and self.records() < n_records:
            time.sleep(0.02)
        assert process.poll() is None, process.stderr.read()
        process.send_signal(sig)
        process.wait(timeout=30)
        self.released.set()
        return process


def test_interrupt_and_sigkill_mid_run_then_resume_gives_one_record_per_paper(fake_llm, shared_datasets, tmp_path):
    run_dir = tmp_path / "run"
    records_path = run_dir / "records.jsonl"
    answers = HeldAnswers(records_path)
    server = fake_llm(answers, latency=0.05)
    command = [sys.executable, "-m", "review_bench", "run", "iclr2022", "--data-dir", str(shared_datasets),
               "--model", MODEL, "--base-url", server.openai_base_url, "--limit", "12", "--concurrency", "2",
               "--text", "raw", "--run-dir", str(run_dir)]

    interrupted = answers.stop_after(command, 2, signal.SIGINT)
    assert interrupted.returncode == 130
    assert "resume with:" in interrupted.stderr.read()
    assert read_manifest(run_dir).status == "interrupted"
    after_interrupt = len(read_records(run_dir))

    answers.stop_after(command, after_interrupt + 2, signal.SIGKILL)
    killed_with = len(read_records(run_dir))
    assert after_interrupt + 2 <= killed_with < 12
    assert read_manifest(run_dir).status == "running"

    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    ids = [json.loads(line)["paper_id"] for line in records_path.read_text().splitlines()]
    assert len(ids) == 12 and len(set(ids)) == 12
    assert read_manifest(run_dir).status == "complete"
    assert f"{killed_with} already done" in done.stderr


def test_faults_end_as_retried_successes_or_recorded_failures(app, fake_llm, tmp_path):
    server = fake_llm(scripted_reviewer())
    run_dir = tmp_path / "run"
    venue = tiny_venue(tmp_path / "venue", n=4)

    def run(limit, *extra):
        result = invoke(app, "--dataset", str(venue), "--model", MODEL, "--base-url", server.openai_base_url,
                        "--text", "raw", "--concurrency", "1", "--timeout", "1", "--run-dir", str(run_dir),
                        "--limit", str(limit), *extra)
        assert result.exit_code == 0, result.output
        return {r.paper_id: r for r in read_records(run_dir)}

    # 1st paper: a body that is not JSON, a 429 with retry-after, a 500: retried, then ok.
    server.faults[:] = [Fault(200, body="not json"), Fault(429, retry_after=0.05), Fault(500, retry_after=0.05)]
    first = run(1)
    assert len(server.requests) == 4 and [r.ok for r in first.values()] == [True]
    # 2nd paper: the server hangs past the client's timeout once.
    server.faults[:] = [Fault(200, delay=2.5)]
    assert all(r.ok for r in run(2).values()) and len(server.requests) == 6
    # 3rd paper: rate limited on every try (6 = the first call and 5 retries): a provider failure.
    server.faults[:] = [Fault(429, retry_after=0)] * 6
    third = run(3)
    (failed,) = [r for r in third.values() if not r.ok]
    assert failed.failure["kind"] == "provider" and "429" in failed.failure["message"]
    assert failed.human is not None and failed.review is None
    # 4th paper: answers that never hold a review (repairs included): a parse failure.
    server.responder = lambda seen: "I would rather not fill the form."
    fourth = run(4)
    assert sorted(r.failure["kind"] for r in fourth.values() if not r.ok) == ["parse", "provider"]
    assert any(classify(seen) == "repair" for seen in server.requests)

    # Resuming without --retry-failed keeps the failures; with it, they are reviewed again.
    before = len(server.requests)
    assert sum(not r.ok for r in run(4).values()) == 2 and len(server.requests) == before
    server.responder = scripted_reviewer()
    final = run(4, "--retry-failed")  # the cached bad answers are asked again, not replayed
    assert len(final) == 4 and all(r.ok for r in final.values())
    assert len((run_dir / "records.jsonl").read_text().splitlines()) == 6
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert (metrics["n"], metrics["n_failed"]) == (4, 0)
    assert os.path.getsize(run_dir / "manifest.json") > 0
