"""``review-bench scientist score`` over the ten AI-Scientist PDFs, against a fake server."""

from __future__ import annotations

import json

from fakes.reviews import scripted_reviewer
from typer.testing import CliRunner

from benchmarks.store import read_manifest, read_records
from review_bench.cli import build_app


def test_score_reviews_all_ten_pdfs(tmp_path, fake_llm, shared_datasets):
    server = fake_llm(scripted_reviewer(overalls=(4,)))
    run_dir = tmp_path / "score"
    result = CliRunner().invoke(build_app(), [
        "scientist", "score", str(shared_datasets / "ai_scientist_papers" / "pdfs"),
        "--model", "openai/gpt-4o-2024-05-13", "--base-url", server.openai_base_url, "--run-dir", str(run_dir),
    ])
    assert result.exit_code == 0, result.output
    records = read_records(run_dir)
    assert len(records) == 10 and all(r.ok for r in records)
    assert read_manifest(run_dir).kind == "score" and read_manifest(run_dir).status == "complete"
    summary = json.loads((run_dir / "score_summary.json").read_text())
    assert summary["reviewed"] == 10 and summary["overall_distribution"] == {"4": 10}
    assert summary["decisions"] == {"Reject": 10} and "accuracy" not in json.dumps(summary)
    assert set(summary["sub_score_means"]) >= {"Soundness", "Presentation", "Contribution"}
    assert "| Overall |" in (run_dir / "report.md").read_text()


def test_score_rejects_a_folder_without_papers(tmp_path):
    result = CliRunner().invoke(build_app(), ["scientist", "score", str(tmp_path), "--model", "mock/x"])
    assert result.exit_code == 2 and "no papers" in result.output


def test_templates_lists_the_builtin_template():
    result = CliRunner().invoke(build_app(), ["scientist", "templates"])
    assert result.exit_code == 0 and "diffusion_2d" in result.output
