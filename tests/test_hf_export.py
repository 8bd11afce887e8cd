"""`review-bench data export-hf`: the benchmark as a Hugging Face DatasetDict, and back."""

from __future__ import annotations

import csv

import datasets
import pytest
import typer
from typer.testing import CliRunner

from benchmarks.download_cli import export_hf_command
from corpus.dataset import DatasetError, read_ratings
from corpus.hf_dataset import load_saved_dataset


def export(*args: str):
    app = typer.Typer()
    app.command()(export_hf_command)
    return CliRunner().invoke(app, [*map(str, args)])


def test_export_saves_eval_and_train_and_loads_back(shared_datasets, tmp_path):
    folder = shared_datasets / "iclr2022"
    out = tmp_path / "hf"

    result = export(folder, out, "--limit", "5")

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"{out}: eval (5 papers), train (5 papers)"
    saved = datasets.load_from_disk(str(out))
    assert sorted(saved) == ["eval", "train"]
    with (folder / "metadata.tsv").open(newline="", encoding="utf-8") as handle:
        titles = {row["paper_id"]: row["title"] for row in csv.DictReader(handle, delimiter="\t")}
    for split in ("eval", "train"):
        assert saved[split].column_names == ["id", "title", "text", "ratings", "mean_rating", "decision", "accepted"]
        expected = list(read_ratings(folder / f"ratings_{split}.tsv").items())[:5]
        assert saved[split]["id"] == [paper_id for paper_id, _ in expected]
        for row, (paper_id, (_, human)) in zip(saved[split], expected):
            assert row["ratings"] == human.ratings and row["ratings"]
            assert row["mean_rating"] == pytest.approx(sum(human.ratings) / len(human.ratings))
            assert row["decision"] == human.decision
            assert row["accepted"] is human.decision.startswith("Accept")
            assert row["title"] == titles[paper_id]
            assert row["text"] == (folder / "texts" / f"{paper_id}.txt").read_text(encoding="utf-8")

        papers = load_saved_dataset(out, split)

        assert [paper["paper_id"] for paper in papers] == saved[split]["id"]
        assert papers[0] == {
            "paper_id": saved[split][0]["id"],
            "title": saved[split][0]["title"],
            "text": saved[split][0]["text"],
            "ratings": saved[split][0]["ratings"],
            "decision": saved[split][0]["decision"],
        }


def test_one_split_and_clear_errors(shared_datasets, tmp_path):
    out = tmp_path / "hf"
    result = export(shared_datasets / "iclr2022", out, "--split", "train", "--limit", "2")
    assert result.exit_code == 0, result.output
    assert list(datasets.load_from_disk(str(out))) == ["train"]

    with pytest.raises(DatasetError, match=r"no split 'eval' \(has train\)"):
        load_saved_dataset(out, "eval")
    with pytest.raises(DatasetError, match="not a dataset saved with save_to_disk"):
        load_saved_dataset(tmp_path, "eval")

    missing = export(shared_datasets / "iclr2022", tmp_path / "x", "--split", "test")
    assert missing.exit_code == 2
    assert "ratings_test.tsv: ratings file not found" in missing.output
