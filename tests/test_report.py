"""Reports: markdown + PNGs, and a self-contained HTML page with the same table."""

from __future__ import annotations

import base64
import re

import typer
from fakes.runs import paper_record, write_run
from typer.testing import CliRunner

from benchmarks import score_cli
from benchmarks.metrics import write_metrics
from benchmarks.report import write_report

PNG = b"\x89PNG\r\n\x1a\n"


def make_runs(tmp_path):
    papers = [
        paper_record(f"p{i}", 3 + i % 6, i % 3 == 0, ratings=[float(2 + i % 7), 5.0])
        for i in range(30)
    ]
    good = write_run(tmp_path / "good", papers, name="good-run")
    worse = write_run(
        tmp_path / "worse",
        [paper_record(p.paper_id, 9 - p.overall, p.human.accepted) for p in papers[:-2]]
        + [paper_record("p28", None, True), paper_record("p29", None, False)],
        name="worse-run",
    )
    return good, worse


def test_report_files_hold_the_table_and_embedded_plots(tmp_path):
    good, worse = make_runs(tmp_path)
    metrics = write_metrics(good)
    md_path, html_path = write_report([good, worse], tmp_path / "out")

    page = html_path.read_text(encoding="utf-8")
    images = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", page)
    assert len(images) == 3  # each run's figure and the ROC of both
    assert all(base64.b64decode(image).startswith(PNG) for image in images)
    assert "http" not in page  # nothing to fetch
    assert "good-run" in page and "worse-run" in page
    balanced, (low, high) = metrics["balanced_accuracy"], metrics["ci"]["balanced_accuracy"]
    assert f"{balanced:.2f} [{low:.2f}, {high:.2f}]" in page
    assert "always reject" in page and "one human reviewer" in page
    assert "leaks the decision" in page
    assert "2 failed reviews (parse: 2)" in page

    markdown = md_path.read_text(encoding="utf-8")
    assert f"| balanced accuracy | {balanced:.2f} [{low:.2f}, {high:.2f}] |" in markdown
    linked = re.findall(r"\]\(([^)]+\.png)\)", markdown)
    assert len(linked) == 3
    assert all((md_path.parent / name).read_bytes().startswith(PNG) for name in linked)


def test_report_keeps_a_calibrated_threshold(tmp_path):
    good, _ = make_runs(tmp_path)
    write_metrics(good, threshold=8)
    md_path, _ = write_report([good], tmp_path / "out")
    assert "| threshold | 8 (given (--threshold)) |" in md_path.read_text(encoding="utf-8")


def test_compare_prints_side_by_side_and_writes_the_report(tmp_path):
    good, worse = make_runs(tmp_path)
    app = typer.Typer()
    score_cli.register(app)
    out = tmp_path / "cmp"
    done = CliRunner(env={"COLUMNS": "200"}).invoke(
        app, ["compare", str(good), str(worse), "--out", str(out)]
    )
    assert done.exit_code == 0, done.output
    assert "#1 good-run" in done.output and "#2 worse-run" in done.output
    assert "balanced accuracy" in done.output
    assert (out / "report.html").exists() and (out / "report.md").exists()
    done = CliRunner().invoke(app, ["report", str(good)])
    assert done.exit_code == 0, done.output
    assert (good / "report" / "report.html").exists() and (good / "report" / "index.html").exists()
