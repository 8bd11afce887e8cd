"""Published review CSVs become run folders that score like the published numbers."""

from __future__ import annotations

import csv
import json

import pytest
import typer
from fakes.reviews import review_dict
from typer.testing import CliRunner

from benchmarks import score_cli
from benchmarks.compare import incomparable, paired_comparison
from benchmarks.metrics import write_metrics
from benchmarks.replay import config_from_name, import_run
from benchmarks.report import summarise
from benchmarks.store import read_manifest, read_records

FEWSHOT_RUN = "gpt-4o-2024-05-13_temp_0_1_fewshot_1_reflect_5_ensemble_5_pages_all"


@pytest.fixture(scope="module")
def fewshot_run(shared_datasets, tmp_path_factory):
    csv_path = shared_datasets / "published_runs" / "ai-scientist" / f"{FEWSHOT_RUN}.csv"
    return import_run(csv_path, "gpt-4o-fewshot", tmp_path_factory.mktemp("runs") / "r", shared_datasets)


def test_the_published_gpt4o_run_reproduces_its_numbers(fewshot_run):
    metrics = write_metrics(fewshot_run)
    assert (metrics["n"], metrics["n_failed"]) == (500, 0)
    assert round(metrics["balanced_accuracy"], 2) == 0.65
    assert round(metrics["own_decision"]["balanced_accuracy"], 2) == 0.60
    assert round(metrics["auc"], 2) == 0.69
    assert round(metrics["pearson"], 2) == 0.42
    assert metrics["baselines"]["always_reject"]["accuracy"] == pytest.approx(316 / 500)


def test_the_imported_run_records_where_it_came_from(fewshot_run):
    manifest = read_manifest(fewshot_run)
    assert (manifest.kind, manifest.status, manifest.name) == ("import", "imported", "gpt-4o-fewshot")
    assert manifest.dataset.text_mode == "raw" and manifest.dataset.n_papers == 500
    config = manifest.config
    assert config["model"] == "openai/gpt-4o-2024-05-13"
    assert (config["fewshot"], config["reflections"], config["ensemble"]) == (1, 5, 5)
    assert config["temperature"] == 0.1 and config["max_pages"] is None
    first = read_records(fewshot_run)[0]
    assert first.paper_id == "tDirSp3pczB" and first.human.decision == "Reject"
    assert first.review["Questions"][0].startswith("Can you provide more details")
    assert first.overall == 6 and first.own_decision == "Reject"


def test_config_from_file_names():
    plain = config_from_name("gpt-4o-2024-05-13_temp_0_1_pages_all")
    assert (plain["fewshot"], plain["reflections"], plain["ensemble"]) == (0, 1, 1)
    claude = config_from_name("claude-3-5-sonnet-20240620_temp_0_1_reflect_5_ensemble_5_pages_all")
    assert claude["model"] == "anthropic/claude-3-5-sonnet-20240620"
    assert config_from_name("my_reviews") == {}


def write_csv(path, rows):
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def csv_row(paper_id, **changes):
    row = {"paper_id": paper_id, **review_dict(6, **changes)}
    for key in ("Strengths", "Weaknesses", "Questions", "Limitations"):
        if not isinstance(row[key], str):
            row[key] = repr(row[key])
    return row


def test_invalid_rows_become_failed_records_with_the_reason(tmp_path, shared_datasets):
    rows = [
        csv_row("tDirSp3pczB"),
        csv_row("YDud6vPh2V", Significance=5),
        csv_row("unknown-paper", Strengths="['unterminated"),
        csv_row("another", **{"Ethical Concerns": "Some discussion of misuse"}),
    ]
    run = import_run(write_csv(tmp_path / "mine.csv", rows), "mine", tmp_path / "run", shared_datasets)
    records = {r.paper_id: r for r in read_records(run)}
    assert records["tDirSp3pczB"].ok and records["tDirSp3pczB"].review["Strengths"] == ["Clear motivation"]
    assert "Significance" in records["YDud6vPh2V"].failure["message"]
    assert "Strengths: not a list literal" in records["unknown-paper"].failure["message"]
    assert "Ethical Concerns" in records["another"].failure["message"]
    assert records["YDud6vPh2V"].human.ratings == [5.0, 5.0, 5.0, 5.0]
    assert records["unknown-paper"].human is None
    manifest = read_manifest(run)
    assert manifest.config == {} and any("no human label" in note for note in manifest.notes)
    metrics = write_metrics(run)
    assert (metrics["n"], metrics["n_failed"], metrics["n_labelled"]) == (4, 3, 2)


def cli():
    app = typer.Typer()
    score_cli.register(app)
    return app


def test_import_run_and_score_commands(tmp_path, shared_datasets):
    source = write_csv(tmp_path / "x.csv", [csv_row("tDirSp3pczB"), csv_row("YDud6vPh2V", Overall=4)])
    run = tmp_path / "run"
    runner = CliRunner(env={"COLUMNS": "200"})
    done = runner.invoke(
        cli(), ["import-run", str(source), "--name", "x", "--out", str(run), "--data-dir", str(shared_datasets)]
    )
    assert done.exit_code == 0, done.output
    assert "balanced accuracy" in done.output and "raw text" in done.output
    # both papers are rejects; Overall 6 accepts one of them, Overall 7 none
    done = runner.invoke(cli(), ["score", str(run), "--threshold", "7"])
    assert done.exit_code == 0, done.output
    saved = json.loads((run / "metrics.json").read_text())
    assert saved["threshold"] == 7.0 and saved["accuracy"] == 1.0


def test_bad_input_is_one_line_and_exit_code_2(tmp_path, shared_datasets):
    runner = CliRunner()
    done = runner.invoke(cli(), ["score", str(tmp_path / "nothing")])
    assert done.exit_code == 2 and done.output.startswith("review-bench: ") and "Traceback" not in done.output
    done = runner.invoke(
        cli(), ["import-run", str(tmp_path / "none.csv"), "--name", "n", "--data-dir", str(shared_datasets)]
    )
    assert done.exit_code == 2 and "no such file" in done.output


def test_the_published_gpt4o_run_against_counting_characters(fewshot_run):
    metrics = write_metrics(fewshot_run)
    assert all(r.text_chars for r in read_records(fewshot_run))  # recorded at import, from the raw texts
    baseline = metrics["length_baseline"]
    assert baseline["auc"] == pytest.approx(0.70, abs=0.01)
    assert metrics["auc_length_stratified"] == pytest.approx(0.65, abs=0.01)
    assert metrics["auc_length_stratified"] < metrics["auc"]
    assert baseline["threshold_source"] == "train split of iclr2022 (400 papers, raw)"
    assert 0.55 < baseline["balanced_accuracy"] < 0.70
    assert 0 < metrics["pearson_partial_log_length"] < metrics["pearson"]


def test_compare_the_published_gpt4o_and_claude_runs(fewshot_run, shared_datasets, tmp_path):
    claude_csv = shared_datasets / "published_runs" / "ai-scientist" / (
        "claude-3-5-sonnet-20240620_temp_0_1_reflect_5_ensemble_5_pages_all.csv")
    claude = import_run(claude_csv, "claude", tmp_path / "claude", shared_datasets)
    gpt4o, claude = summarise(fewshot_run), summarise(claude)
    assert incomparable(gpt4o, claude) == []
    result = paired_comparison(gpt4o, claude)
    assert (result["n_common"], result["n_a"], result["n_b"]) == (495, 500, 495)
    auc = result["metrics"]["auc"]
    assert auc["difference"] == pytest.approx(auc["a"] - auc["b"]) and auc["ci"][0] > 0
    stratified = result["metrics"]["auc_length_stratified"]
    assert stratified["a"] < auc["a"] and stratified["b"] < auc["b"]
