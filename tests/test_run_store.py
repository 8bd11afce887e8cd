"""The run store (durable, resumable, one writer) and the runner, with a fake reviewer."""

from __future__ import annotations

import asyncio
import json

import pytest
from fakes.reviews import review_dict

from benchmarks.records import CodeIdentity, DatasetInfo, PaperRecord, RunManifest, record_from_outcome
from benchmarks.runner import run_papers
from benchmarks.store import RECORDS, RunStore, RunStoreError, find_unfinished, read_manifest, read_records
from corpus.dataset import Dataset, DatasetPaper, HumanLabel
from corpus.paper import Paper, PaperInputError
from reviewer.form import ReviewForm
from reviewer.outcome import ReviewFailure, ReviewMeta, ReviewOutcome


def manifest(config_hash="cfg1", fingerprint="fp1", text_mode="raw") -> RunManifest:
    return RunManifest(
        config={"model": "fake"},
        config_hash=config_hash,
        dataset=DatasetInfo(name="toy", split="eval", fingerprint=fingerprint, text_mode=text_mode),
    )


def record(paper_id: str, ok: bool = True) -> PaperRecord:
    if ok:
        return PaperRecord(paper_id=paper_id, ok=True, overall=6, cost_usd=0.01)
    return PaperRecord(paper_id=paper_id, ok=False, failure={"kind": "provider", "message": "boom"})


def test_new_store_writes_manifest_and_records(tmp_path):
    store = RunStore.open(tmp_path / "run", manifest())
    store.append(record("a"))
    store.append(record("b", ok=False))
    assert read_manifest(tmp_path / "run").status == "running"
    assert [r.paper_id for r in store.records()] == ["a", "b"]
    assert store.done_ids() == {"a", "b"}
    assert store.done_ids(retry_failed=True) == {"a"}
    store.finish("complete")
    saved = read_manifest(tmp_path / "run")
    assert saved.status == "complete" and saved.started_at and saved.finished_at
    lines = (tmp_path / "run" / RECORDS).read_text().splitlines()
    assert [json.loads(line)["paper_id"] for line in lines] == ["a", "b"]


def test_reopen_resumes_keeps_start_time_and_newer_record_supersedes(tmp_path):
    store = RunStore.open(tmp_path / "run", manifest())
    store.append(record("a", ok=False))
    store.finish("interrupted")
    first_start = read_manifest(tmp_path / "run").started_at

    store = RunStore.open(tmp_path / "run", manifest())
    assert store.manifest.status == "running" and store.manifest.started_at == first_start
    assert store.manifest.notes and store.manifest.notes[-1].startswith("resumed at")
    store.append(record("a", ok=True))
    store.finish("complete")
    (only,) = read_records(tmp_path / "run")
    assert only.ok and only.paper_id == "a"


def test_truncated_last_line_is_ignored_then_cut_before_appending(tmp_path):
    store = RunStore.open(tmp_path / "run", manifest())
    store.append(record("a"))
    store.close()
    path = tmp_path / "run" / RECORDS
    whole = record("b").model_dump_json().encode()
    with path.open("ab") as handle:
        handle.write(whole[: len(whole) // 2])  # a kill in the middle of a write
    assert [r.paper_id for r in read_records(tmp_path / "run")] == ["a"]

    store = RunStore.open(tmp_path / "run", manifest())
    store.append(record("b"))
    store.finish("complete")
    assert [json.loads(line)["paper_id"] for line in path.read_text().splitlines()] == ["a", "b"]


def test_corrupt_line_in_the_middle_names_file_and_line(tmp_path):
    run = tmp_path / "run"
    RunStore.open(run, manifest()).close()
    (run / RECORDS).write_text(record("a").model_dump_json() + "\n{oops\n" + record("b").model_dump_json() + "\n")
    with pytest.raises(RunStoreError, match=r"records.jsonl:2: not a valid record"):
        read_records(run)


@pytest.mark.parametrize(
    ("other", "what"),
    [
        (manifest(config_hash="cfg2"), "config"),
        (manifest(fingerprint="fp2"), "dataset"),
        (manifest(text_mode="blind"), "text mode"),
    ],
)
def test_a_different_run_refuses_the_run_dir(tmp_path, other, what):
    RunStore.open(tmp_path / "run", manifest()).finish("complete")
    with pytest.raises(RunStoreError, match=f"holds a run with a different {what}"):
        RunStore.open(tmp_path / "run", other)
    assert read_manifest(tmp_path / "run").status == "complete"  # untouched


def with_code(prompts="p1", transcripts=True) -> RunManifest:
    code = CodeIdentity(package_version="0.1.0", prompts=prompts, blinding="b1")
    return manifest().model_copy(update={"code": code, "transcripts": transcripts})


def test_resuming_under_other_code_refuses_unless_allowed_and_then_records_it(tmp_path):
    RunStore.open(tmp_path / "run", with_code("p1")).close()
    with pytest.raises(RunStoreError, match=r"other code \(prompts p1 -> p2\).*--allow-code-change"):
        RunStore.open(tmp_path / "run", with_code("p2"))
    RunStore.open(tmp_path / "run", with_code("p2"), allow_code_change=True).close()
    notes = read_manifest(tmp_path / "run").notes
    assert any("code changed" in note and "prompts p1 -> p2 (--allow-code-change)" in note for note in notes)
    assert read_manifest(tmp_path / "run").code.prompts == "p2"


def test_a_changed_transcript_setting_is_noted_on_resume(tmp_path):
    RunStore.open(tmp_path / "run", with_code(transcripts=True)).close()
    RunStore.open(tmp_path / "run", with_code(transcripts=False)).close()
    notes = read_manifest(tmp_path / "run").notes
    assert any("transcripts are not kept (--no-transcript)" in note for note in notes)


def test_the_threshold_is_not_part_of_the_run_identity():
    from reviewer.config import ReviewConfig

    base = ReviewConfig(model="openai/gpt-4o-2024-05-13", fewshot=1)
    assert base.fingerprint() == base.model_copy(update={"threshold": 5.0}).fingerprint()
    assert base.fingerprint() != base.model_copy(update={"fewshot": 2}).fingerprint()


def test_one_writer_at_a_time(tmp_path):
    store = RunStore.open(tmp_path / "run", manifest())
    with pytest.raises(RunStoreError, match="another process is writing"):
        RunStore.open(tmp_path / "run", manifest())
    store.close()
    RunStore.open(tmp_path / "run", manifest()).close()


def test_find_unfinished_picks_the_latest_matching_run(tmp_path):
    runs = tmp_path / "runs"
    RunStore.open(runs / "20240101T000000Z-cfg1", manifest()).finish("interrupted")
    RunStore.open(runs / "20240102T000000Z-cfg1", manifest()).finish("interrupted")
    RunStore.open(runs / "20240103T000000Z-cfg1", manifest()).finish("complete")
    RunStore.open(runs / "20240104T000000Z-cfg1", manifest(fingerprint="other")).finish("interrupted")
    assert find_unfinished(runs, manifest()) == runs / "20240102T000000Z-cfg1"
    assert find_unfinished(runs, manifest(config_hash="cfg9")) is None


def test_record_from_outcome_keeps_both_decisions_usage_and_meta():
    form = ReviewForm.model_validate(review_dict(5, decision="Accept"))
    meta = ReviewMeta(
        model="fake", usage={"input_tokens": 10}, cost_usd=0.5, calls=3, latency_s=1.5,
        threshold=6.0, overall_mean=5.4, truncated=True, failures={"dropped_members": 1},
    )
    human = HumanLabel(ratings=[6.0], mean_rating=6.0, decision="Accept (Poster)", accepted=True)
    rec = record_from_outcome(ReviewOutcome(paper_id="p", review=form, meta=meta), human)
    assert (rec.ok, rec.overall, rec.overall_mean, rec.score) == (True, 5, 5.4, 5.4)
    assert (rec.decision_by_threshold, rec.own_decision) == ("Reject", "Accept")
    assert (rec.usage, rec.cost_usd, rec.calls, rec.latency_s) == ({"input_tokens": 10}, 0.5, 3, 1.5)
    assert rec.review["Ethical Concerns"] is False and rec.human == human
    assert rec.meta["truncated"] is True and rec.meta["failures"] == {"dropped_members": 1}

    failed = ReviewOutcome(paper_id="q", failure=ReviewFailure(kind="parse", message="no JSON"), meta=meta)
    rec = record_from_outcome(failed)
    assert (rec.ok, rec.review, rec.decision_by_threshold) == (False, None, None)
    assert rec.failure == {"kind": "parse", "message": "no JSON"}


class FakeReviewer:
    """Reviews after a short sleep; counts how many papers are in flight at once."""

    def __init__(self, fail_ids=(), crash_ids=()):
        self.fail_ids, self.crash_ids = set(fail_ids), set(crash_ids)
        self.in_flight = self.most_in_flight = 0
        self.seen: list[str] = []
        self.closed = False

    async def review(self, paper: Paper) -> ReviewOutcome:
        self.seen.append(paper.paper_id)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await asyncio.sleep(0.01)
        self.in_flight -= 1
        if paper.paper_id in self.crash_ids:
            raise RuntimeError("reviewer bug")
        meta = ReviewMeta(model="fake", cost_usd=0.25, calls=1, threshold=6.0)
        if paper.paper_id in self.fail_ids:
            return ReviewOutcome(paper_id=paper.paper_id, failure=ReviewFailure(kind="provider", message="429"),
                                 meta=meta)
        form = ReviewForm.model_validate(review_dict(7))
        return ReviewOutcome(paper_id=paper.paper_id, review=form, meta=meta)

    async def aclose(self):
        self.closed = True


def toy_papers(tmp_path, n=10) -> list[DatasetPaper]:
    return [DatasetPaper(f"p{i}", HumanLabel(accepted=i % 2 == 0), tmp_path / f"p{i}.txt") for i in range(n)]


def load_or_fail(item: DatasetPaper) -> Paper:
    if item.paper_id == "p3":
        raise PaperInputError(f"{item.path}: the file is empty")
    return Paper(paper_id=item.paper_id, text="text")


def test_runner_bounds_concurrency_records_failures_and_resumes(tmp_path):
    papers = toy_papers(tmp_path)
    store = RunStore.open(tmp_path / "run", manifest())
    reviewer = FakeReviewer(fail_ids={"p5"}, crash_ids={"p7"})
    summary = asyncio.run(run_papers(papers, reviewer, store, load_or_fail, concurrency=3))
    assert reviewer.most_in_flight == 3 and reviewer.closed
    assert (summary.total, summary.skipped, summary.reviewed, summary.failed) == (10, 0, 10, 3)
    assert summary.cost_usd == pytest.approx(0.25 * 8)  # the crash and the unreadable file cost nothing
    failures = {r.paper_id: r.failure["kind"] for r in store.records() if not r.ok}
    assert failures == {"p3": "input", "p5": "provider", "p7": "internal"}
    assert all(r.human is not None for r in store.records())

    again = FakeReviewer()
    summary = asyncio.run(run_papers(papers, again, store, load_or_fail, concurrency=3))
    assert again.seen == [] and (summary.skipped, summary.reviewed, summary.failed) == (10, 0, 3)

    retried = FakeReviewer()
    summary = asyncio.run(run_papers(papers, retried, store, load_or_fail, concurrency=3, retry_failed=True))
    assert sorted(retried.seen) == ["p5", "p7"]  # p3 fails again while loading
    assert (summary.skipped, summary.reviewed, summary.failed) == (7, 3, 1)
    latest = {r.paper_id: r.ok for r in store.records()}
    assert len(latest) == 10 and [pid for pid, ok in latest.items() if not ok] == ["p3"]
    store.finish("complete")


def test_dataset_subset_used_by_runner_is_stable(tmp_path):
    data = Dataset("toy", "eval", tmp_path, tmp_path / "r.tsv", "text", toy_papers(tmp_path, 30))
    assert [p.paper_id for p in data.subset(4)] == [p.paper_id for p in data.subset(10)[:4]]
