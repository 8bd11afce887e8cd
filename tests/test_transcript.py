"""Transcripts: every model call of a review, in order, typed and with nothing long stored
twice; kept in a run beside its records, crash-safe, and read back on demand."""

from __future__ import annotations

import gzip
import json

import pytest
from fakes.llm_server import Fault
from fakes.reviews import one_member_never_parses, scripted_reviewer
from helpers_review import PAPER, review_with

from benchmarks.records import DatasetInfo, PaperRecord, RunManifest, record_from_outcome
from benchmarks.store import RECORDS, RunStore, read_records, read_transcript
from benchmarks.transcript_file import BLOCKS, TRANSCRIPTS
from reviewer.transcript import AnswerRef


def contents(seen) -> list[tuple[str, str]]:
    def text(content):
        return content if isinstance(content, str) else "".join(part["text"] for part in content)
    return [(message["role"], text(message["content"])) for message in seen.messages]


def json_count(haystack: str, needle: str) -> int:
    return haystack.count(json.dumps(needle)[1:-1])


def test_every_call_in_order_with_its_step_messages_answers_and_cost(fake_llm, shared_datasets):
    responder = scripted_reviewer(overalls=(6, 5, 7), done_at_round=3)
    server = fake_llm(responder)
    outcome = review_with(server, fewshot=1, ensemble=3, reflections=3, data_dir=shared_datasets)
    transcript = outcome.transcript
    assert [(c.step, c.round, c.n, len(c.answers)) for c in transcript.calls] == [
        ("draft", None, 3, 3), ("meta_review", None, 1, 1), ("reflection", 2, 1, 1), ("reflection", 3, 1, 1)]
    assert len(server.requests) == len(transcript.calls) == transcript.requests
    for call, seen in zip(transcript.calls, server.requests):
        # Exactly what the server was sent, and what it answered.
        assert [(transcript.messages[i].role, transcript.text(i)) for i in call.input] == contents(seen)
        assert [transcript.text(a.message) for a in call.answers] == (
            [answer] if isinstance(answer := responder(seen), str) else answer)
        assert all(a.parse_error is None for a in call.answers)
        assert call.usage["input_tokens"] > 0 and call.cost_usd > 0 and not call.cached
        assert (call.requests, call.failed_requests, call.model) == (1, 0, "openai/gpt-4o-2024-05-13")
        assert call.latency_s >= 0 and call.started_s >= 0
    assert sum(c.cost_usd for c in transcript.calls) == pytest.approx(outcome.meta.cost_usd)
    assert "Round 2/3" in transcript.text(transcript.calls[2].input[-1])

    # The paper, the few-shot examples and the form are blocks, each stored once.
    dumped = transcript.model_dump_json()
    labels = {block.label: block for block in transcript.blocks}
    assert set(labels) == {"paper", "few-shot examples", "review form"}
    assert labels["paper"].text == PAPER.text and not labels["paper"].shared
    assert labels["few-shot examples"].shared and labels["review form"].shared
    assert json_count(dumped, PAPER.text) == 1
    assert json_count(dumped, labels["few-shot examples"].text[:500]) == 1
    assert json_count(dumped, labels["review form"].text) == 1
    assert len(dumped) < len(json.dumps([contents(seen) for seen in server.requests])) / 2


def test_repairs_say_which_answer_they_fix_and_why(fake_llm):
    server = fake_llm(one_member_never_parses)
    transcript = review_with(server, ensemble=3, repair_attempts=2).transcript
    steps = [(c.step, c.repair_of, c.attempt) for c in transcript.calls]
    assert steps[0] == ("draft", None, None)
    assert steps[1:3] == [("repair", AnswerRef(call=0, answer=1), 1), ("repair", AnswerRef(call=1, answer=0), 2)]
    assert steps[3][0] == "meta_review"
    draft = transcript.calls[0]
    assert draft.answers[0].parse_error is None and draft.answers[2].parse_error is None
    assert "no JSON object" in draft.answers[1].parse_error
    assert transcript.calls[2].answers[0].parse_error  # the last repair failed too: the member is dropped
    assert transcript.answer_text(AnswerRef(call=1, answer=0)) == "still garbage"
    assert transcript.requests == len(server.requests) == 4


def test_a_call_that_failed_after_retries_is_recorded_with_its_error(fake_llm):
    server = fake_llm(scripted_reviewer())
    server.faults += [Fault(429, retry_after=0)] * 6
    outcome = review_with(server)
    assert outcome.failure.kind == "provider"
    (call,) = outcome.transcript.calls
    assert call.error.startswith("RateLimitError") and call.answers == []
    assert (call.requests, call.failed_requests) == (0, 6)
    assert outcome.transcript.requests == len(server.requests) == 6


def test_retried_and_cached_calls(fake_llm):
    server = fake_llm(scripted_reviewer())
    server.faults.append(Fault(500, retry_after=0))
    first = review_with(server, use_cache=True).transcript
    assert [(c.requests, c.failed_requests, c.cached) for c in first.calls] == [(1, 1, False)]
    again = review_with(server, use_cache=True).transcript
    assert [(c.requests, c.failed_requests, c.cached) for c in again.calls] == [(0, 0, True)]
    assert again.calls[0].usage == first.calls[0].usage
    assert again.calls[0].cost_usd == 0 < first.calls[0].cost_usd  # a cache hit charges nothing
    assert len(server.requests) == 2 == first.requests + again.requests


def test_without_transcript_nothing_is_kept(fake_llm):
    server = fake_llm(scripted_reviewer())
    outcome = review_with(server, ensemble=2, transcript=False)
    assert outcome.ok and outcome.transcript is None
    assert "transcript" not in outcome.to_json_dict()


def manifest() -> RunManifest:
    return RunManifest(config={"model": "fake"}, config_hash="cfg", dataset=DatasetInfo(name="toy"))


def test_the_run_keeps_transcripts_beside_small_records_and_survives_a_kill(fake_llm, shared_datasets, tmp_path):
    server = fake_llm(scripted_reviewer())
    outcomes = [review_with(server, fewshot=1, ensemble=2, reflections=2, data_dir=shared_datasets)
                for _ in range(2)]
    run_dir = tmp_path / "run"
    store = RunStore.open(run_dir, manifest())
    for paper_id, outcome in zip(["a", "b"], outcomes):
        store.append(record_from_outcome(outcome).model_copy(update={"paper_id": paper_id}))
    store.append(PaperRecord(paper_id="c", ok=False, failure={"kind": "input", "message": "unreadable"}))
    store.close()

    lines = [json.loads(line) for line in (run_dir / RECORDS).read_text().splitlines()]
    assert all("transcript" not in line for line in lines)
    assert all(len(json.dumps(line)) < 3000 for line in lines)
    records = read_records(run_dir)
    assert [r.transcript for r in records] == [None] * 3
    for record, outcome in zip(records, outcomes):
        assert read_transcript(run_dir, record) == outcome.transcript
    assert read_transcript(run_dir, records[2]) is None
    # The few-shot examples and the form are written once for the run, not per paper.
    shared = sorted(p.name for p in (run_dir / BLOCKS).iterdir())
    assert shared == sorted(f"{b.id}.txt" for b in outcomes[0].transcript.blocks if b.shared)
    assert PAPER.text.encode() not in (run_dir / TRANSCRIPTS).read_bytes()  # compressed
    with gzip.open(run_dir / TRANSCRIPTS, "rt") as handle:  # and a plain gzip'd JSONL
        assert [json.loads(line)["paper_id"] for line in handle] == ["a", "b"]

    # A kill while writing leaves a transcript no record points at, and half a record line:
    # reopening cuts both, and the next paper's transcript is readable.
    size = (run_dir / TRANSCRIPTS).stat().st_size
    with (run_dir / TRANSCRIPTS).open("ab") as handle:
        handle.write(gzip.compress(b'{"paper_id": "d"')[:20])
    with (run_dir / RECORDS).open("ab") as handle:
        handle.write(b'{"paper_id": "d", "ok": tr')
    store = RunStore.open(run_dir, manifest())
    assert (run_dir / TRANSCRIPTS).stat().st_size == size
    store.append(record_from_outcome(outcomes[0]).model_copy(update={"paper_id": "d"}))
    store.close()
    (d,) = [r for r in read_records(run_dir) if r.paper_id == "d"]
    assert d.transcript_at.offset == size
    assert read_transcript(run_dir, d) == outcomes[0].transcript
