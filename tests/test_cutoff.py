"""The training-cutoff check: a run warns when the venue's papers were public before the
reviewing model's knowledge cutoff, records it in the manifest, and reports show it."""

from __future__ import annotations

import json

from fakes.reviews import scripted_reviewer
from typer.testing import CliRunner

from benchmarks.cutoff import check_cutoff
from benchmarks.report import comparison_table, summarise
from benchmarks.store import read_manifest
from corpus.dataset import load_benchmark, load_folder


def venue(tmp_path, first_submission: str | None):
    folder = tmp_path / "venue2026"
    (folder / "texts").mkdir(parents=True)
    (folder / "ratings_eval.tsv").write_text("paper_id\t0\tdecision\np1\t6\tAccept\np2\t3\tReject\n")
    for paper_id in ("p1", "p2"):
        (folder / "texts" / f"{paper_id}.txt").write_text(f"# Paper {paper_id}\n\nWe study things.\n")
    if first_submission:
        (folder / "dataset.json").write_text(json.dumps({"dates": {"first_submission": first_submission}}))
    return load_folder(folder, "eval")


def test_iclr2022_predates_gpt4o_and_a_later_venue_does_not(shared_datasets, tmp_path):
    iclr = load_benchmark("iclr2022", "eval", shared_datasets)
    check = check_cutoff("openai/gpt-4o-2024-05-13", iclr)
    # models.dev gives gpt-4o's cutoff as 2023-09; ICLR 2022's deadline was 2021-10-05 (data/iclr2022.json).
    assert (check.model_cutoff, check.papers_public_since, check.predates_cutoff) == ("2023-09", "2021-10-05", True)
    later = check_cutoff("openai/gpt-4o-2024-05-13", venue(tmp_path, "2026-01-15T00:00:00+00:00"))
    assert later.predates_cutoff is False and "after" in later.message


def test_unknown_dates_say_unknown_and_trained_here_reviewers_are_not_checked(shared_datasets, tmp_path):
    iclr = load_benchmark("iclr2022", "eval", shared_datasets)
    local = check_cutoff("openai/my-local-model", iclr)
    assert local.model_cutoff is None and local.predates_cutoff is None and "unknown" in local.message
    undated = check_cutoff("openai/gpt-4o-2024-05-13", venue(tmp_path, None))
    assert undated.papers_public_since is None and undated.predates_cutoff is None
    assert check_cutoff("embedded", iclr) is None and check_cutoff("mock/accept", iclr) is None


def test_run_warns_records_and_reports_the_cutoff(fake_llm, shared_datasets, tmp_path):
    from review_bench.cli import build_app

    server = fake_llm(scripted_reviewer())
    run_dir = tmp_path / "run"
    result = CliRunner().invoke(build_app(), [
        "run", "iclr2022", "--data-dir", str(shared_datasets), "--model", "openai/gpt-4o-2024-05-13",
        "--base-url", server.openai_base_url, "--limit", "2", "--run-dir", str(run_dir), "--no-cache"])
    assert result.exit_code == 0, result.output
    assert "before openai/gpt-4o-2024-05-13's training cutoff (2023-09)" in result.output
    assert read_manifest(run_dir).training_cutoff.predates_cutoff is True
    headers, rows = comparison_table([summarise(run_dir)])
    row = dict((cells[0], cells[1]) for cells in rows)
    assert row["training cutoff"] == "papers BEFORE the cutoff (papers 2021-10-05, cutoff 2023-09)"
