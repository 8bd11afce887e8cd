"""``review-bench compare``: paired differences on the papers both runs scored, and refusals."""

from __future__ import annotations

import json
import shutil

import typer
from fakes.runs import paper_record, write_run
from typer.testing import CliRunner

from benchmarks import score_cli
from benchmarks.compare import paired_comparison
from benchmarks.records import DatasetInfo, SubsetInfo
from benchmarks.report import summarise


def app():
    app = typer.Typer()
    score_cli.register(app)
    return app


def invoke(*args):
    return CliRunner(env={"COLUMNS": "200"}).invoke(app(), ["compare", *map(str, args)])


def papers(flip=False):
    return [
        paper_record(f"p{i}", (9 - (3 + i % 6)) if flip else 3 + i % 6, i % 3 == 0,
                     ratings=[float(2 + i % 7), 5.0], text_chars=1000 + 37 * i)
        for i in range(80)
    ]


def test_identical_runs_differ_by_zero(tmp_path):
    first = write_run(tmp_path / "a", papers(), name="a")
    second = shutil.copytree(first, tmp_path / "b")
    done = invoke(first, second, "--out", tmp_path / "out")
    assert done.exit_code == 0, done.output
    assert "paired on the 80 papers both runs scored" in done.output
    (result,) = json.loads((tmp_path / "out" / "compare.json").read_text())
    for key in ("auc", "auc_length_stratified", "balanced_accuracy", "pearson"):
        entry = result["metrics"][key]
        assert entry["difference"] == 0.0 and entry["ci"] == [0.0, 0.0] and entry["p_value"] == 1.0
    assert "+0.000 [+0.000, +0.000]" in done.output
    assert (tmp_path / "out" / "report.html").exists()


def test_only_the_papers_both_runs_scored_are_paired(tmp_path):
    first = write_run(tmp_path / "a", papers())
    others = papers(flip=True)
    others[0] = paper_record("p0", None, True)  # failed in B
    second = write_run(tmp_path / "b", others[:-5])  # B never reached the last five papers
    result = paired_comparison(summarise(first), summarise(second))
    assert (result["n_common"], result["n_a"], result["n_b"]) == (74, 80, 74)
    auc = result["metrics"]["auc"]
    assert auc["difference"] < 0 and auc["ci"][1] < 0 and auc["p_value"] < 0.05


def test_runs_on_different_text_modes_or_subsets_are_refused_unless_forced(tmp_path):
    first = write_run(tmp_path / "a", papers())
    blind = write_run(tmp_path / "b", papers(flip=True),
                      dataset=DatasetInfo(name="test", n_papers=80, text_mode="blind"))
    done = invoke(first, blind)
    assert done.exit_code == 2 and "Traceback" not in done.output
    assert "text mode (raw vs blind)" in done.output and "--force" in done.output
    forced = invoke(first, blind, "--force")
    assert forced.exit_code == 0 and "warning: the runs differ in text mode (raw vs blind)" in forced.output
    matched = write_run(tmp_path / "c", papers(),
                        subset=SubsetInfo(rule="length-matched", paper_ids=[f"p{i}" for i in range(80)]))
    done = invoke(first, matched)
    assert done.exit_code == 2 and "subset (all papers vs length-matched (80 papers))" in done.output


def test_several_runs_side_by_side(tmp_path):
    runs = [write_run(tmp_path / name, papers(), name=f"run-{name}") for name in "abc"]
    done = invoke(*runs, "--side-by-side")
    assert done.exit_code == 0, done.output
    assert "#3 run-c" in done.output and "paired on" not in done.output
    done = invoke(runs[0])
    assert done.exit_code == 2 and "two runs" in done.output
