"""The offline reviewer: training on the papers its caller gives it, the fingerprinted cache,
format invariance, the out-of-distribution mark, and the review it writes."""

from __future__ import annotations

import asyncio
import csv

import numpy as np
import pytest
from typer.testing import CliRunner

from corpus.dataset import load_benchmark, load_folder
from corpus.paper import Paper, load_paper
from reviewer.config import ReviewConfig
from reviewer.embedded import cache, create_embedded_reviewer
from reviewer.embedded.model import ModelError
from reviewer.embedded.normalise import normalise
from reviewer.embedded.reviewer import EmbeddedReviewer

FEWSHOT = ("attention", "2_carpe_diem", "132_automated_relational")


def _small_split(shared, root, n=40, *, name="iclr2022", split="train"):
    """A dataset folder with the first ``n`` train papers (texts linked, not copied)."""
    source = shared / "iclr2022"
    target = root / name
    (target / "texts").mkdir(parents=True)
    with (source / "ratings_train.tsv").open(encoding="utf-8") as handle:
        lines = handle.read().splitlines()[: n + 1]
    (target / f"ratings_{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for line in lines[1:]:
        pid = line.split("\t")[0]
        (target / "texts" / f"{pid}.txt").symlink_to(source / "texts" / f"{pid}.txt")
    (target / "metadata.tsv").symlink_to(source / "metadata.tsv")
    return root


@pytest.fixture
def small_root(shared_datasets, tmp_path):
    return _small_split(shared_datasets, tmp_path / "data")


@pytest.fixture
def count_trainings(monkeypatch):
    calls = []
    real = cache.train

    def counting(training):
        calls.append(training.source["path"])
        return real(training)

    monkeypatch.setattr(cache, "train", counting)
    return calls


@pytest.fixture
def app():
    from review_bench.cli import build_app

    return build_app()


@pytest.fixture(scope="module")
def full_model(shared_datasets, tmp_path_factory):
    """The model trained on the whole ICLR 2022 train split, once for this module."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REVIEW_BENCH_CACHE_DIR", str(tmp_path_factory.mktemp("embedded-cache")))
        return cache.get_model(load_benchmark("iclr2022", "train", shared_datasets))


def test_trains_once_per_fingerprint_and_again_when_the_data_changes(small_root, count_trainings):
    train_data = load_benchmark("iclr2022", "train", small_root)
    model = cache.get_model(train_data)
    assert len(count_trainings) == 1
    folder = cache.model_dir(model.card.fingerprint)
    assert (folder / "model.joblib").is_file()
    card = (folder / "card.json").read_text()
    assert model.card.fingerprint in card and '"cv"' in card
    assert model.card.data["n_papers"] == 40 and model.card.data["name"] == "iclr2022"
    assert all(p.text == "" for p in model.papers)  # the texts stay out of the pickle

    again = cache.get_model(load_benchmark("iclr2022", "train", small_root))
    assert len(count_trainings) == 1 and again.card.fingerprint == model.card.fingerprint
    assert cache.get_model(None).card.fingerprint == model.card.fingerprint  # no data: the latest

    ratings = small_root / "iclr2022" / "ratings_train.tsv"
    ratings.write_text("\n".join(ratings.read_text().splitlines()[:-1]) + "\n")
    changed = cache.get_model(load_benchmark("iclr2022", "train", small_root))
    assert len(count_trainings) == 2 and changed.card.fingerprint != model.card.fingerprint
    assert changed.card.data["n_papers"] == 39
    assert cache.get_model(None).card.fingerprint == changed.card.fingerprint


def test_a_model_per_fingerprint_is_kept(small_root, shared_datasets, tmp_path, count_trainings):
    first = load_benchmark("iclr2022", "train", small_root)
    other = load_folder(_small_split(shared_datasets, tmp_path / "venue", n=30, name="venue") / "venue", "train")
    a, b = cache.get_model(first), cache.get_model(other)
    assert a.card.fingerprint != b.card.fingerprint and len(count_trainings) == 2
    assert cache.get_model(first).card.fingerprint == a.card.fingerprint  # back to the first: no retraining
    assert len(count_trainings) == 2


def test_no_data_and_no_cached_model_is_a_clear_error():
    with pytest.raises(ModelError, match="not trained yet.*--data-dir.*embedded train --dataset"):
        create_embedded_reviewer(ReviewConfig(model="embedded"))


def test_train_command_takes_any_venue_folder(app, shared_datasets, tmp_path, count_trainings):
    venue = _small_split(shared_datasets, tmp_path / "d", n=30, name="othervenue") / "othervenue"
    result = CliRunner().invoke(app, ["embedded", "train", "--dataset", str(venue)])
    assert result.exit_code == 0, result.output
    assert "trained on 30 papers of" in result.output and "othervenue" in result.output
    assert count_trainings == [str(venue)]
    assert cache.get_model(None).card.data["name"] == "othervenue"

    missing = CliRunner().invoke(app, ["embedded", "train", "--dataset", str(venue), "--split", "eval"])
    assert missing.exit_code == 2 and "ratings_eval.tsv: ratings file not found" in missing.output
    assert "Traceback" not in missing.output


def test_train_command_without_data_says_what_to_pass(app, monkeypatch):
    monkeypatch.delenv("REVIEW_BENCH_DATA", raising=False)
    result = CliRunner().invoke(app, ["embedded", "train"])
    assert result.exit_code == 2 and "pass --dataset DIR, or --data-dir DIR" in result.output


def test_review_is_a_valid_outcome_with_evidence(small_root, shared_datasets):
    config = ReviewConfig(model="embedded", threshold=5)
    reviewer = create_embedded_reviewer(config, load_benchmark("iclr2022", "train", small_root))
    pid = "tDirSp3pczB"  # an eval paper: not among the training papers
    text = (shared_datasets / "iclr2022" / "texts" / f"{pid}.txt").read_text()
    outcome = asyncio.run(reviewer.review(Paper(paper_id=pid, text=text)))

    assert outcome.ok and outcome.paper_id == pid
    form, meta = outcome.review, outcome.meta
    rating, p = meta.extra["predicted_rating"], meta.extra["p_accept"]
    assert meta.model == "embedded" and meta.overall_mean == rating
    assert form.Overall == min(10, max(1, round(rating)))
    assert meta.decision_by_threshold == ("Accept" if form.Overall >= 5 else "Reject")
    assert form.Summary.startswith(f"Offline model: predicted rating {rating:.2f}, P(accept) {p:.2f}")
    assert form.Strengths and all("to the predicted rating" in s for s in form.Strengths)
    assert form.Weaknesses and all("-" in s for s in form.Weaknesses)
    titles = {row["paper_id"]: row["title"] for row in csv.DictReader(
        (shared_datasets / "iclr2022" / "metadata.tsv").open(), delimiter="\t")}
    neighbours = meta.extra["neighbours"]
    assert neighbours and all(n["title"] == titles[n["paper_id"]] for n in neighbours)
    assert len(form.Questions) + len(form.Limitations) >= 3
    assert "iclr2022 split train (40 papers)" in meta.extra["offline_model"]
    assert meta.extra["out_of_distribution"] is False and meta.extra["ood_reasons"] == []
    assert outcome.to_json_dict()["Overall"] == form.Overall


def test_normalise_drops_markdown_and_page_furniture():
    markdown = "## 1 INTRODUCTION\n\n**Bold** and _italic_ text, signiﬁcant.\n|a|b|\n|---|---|\n\n-----\n\nMore"
    pdf = "1 INTRODUCTION\nBold and italic text, signiﬁ-\ncant.\n\n7\n\nMore"
    assert normalise(markdown) == "1 INTRODUCTION Bold and italic text, significant. More"
    assert normalise(pdf) == normalise(markdown)
    pages = "".join(f"Under review as a conference paper\nText of page {n}.\n" for n in range(3))
    assert normalise(pages) == "Text of page 0. Text of page 1. Text of page 2."


@pytest.mark.slow
def test_pdf_and_markdown_of_a_paper_score_alike(full_model, shared_datasets):
    folder = shared_datasets / "fewshot"
    for name in FEWSHOT:
        from_pdf, from_text = full_model.predict(
            [load_paper(folder / f"{name}.pdf").text, load_paper(folder / f"{name}.txt").text])
        assert abs(from_pdf.rating - from_text.rating) < 0.3, name  # measured: 0.04, 0.11, 0.08


@pytest.mark.slow
def test_papers_far_from_the_train_split_stay_in_range_and_are_marked(full_model, shared_datasets):
    pdfs = sorted((shared_datasets / "ai_scientist_papers" / "pdfs").glob("*.pdf"))
    predictions = full_model.predict([load_paper(p).text for p in pdfs])
    assert len(predictions) == 10 and all(1 <= p.rating <= 10 for p in predictions)
    flagged = {path.stem for path, p in zip(pdfs, predictions) if p.out_of_distribution}
    assert flagged == {"data_augmentation_grokking", "mdl_grokking_correlation"}  # measured

    nonsense = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 400
    far = full_model.predict([nonsense])[0]
    assert far.out_of_distribution and 1 <= far.rating <= 10
    assert any("nearest train paper has similarity" in r for r in far.ood_reasons)

    reviewer = EmbeddedReviewer(full_model, ReviewConfig(model="embedded"))
    outcome = asyncio.run(reviewer.review(Paper(paper_id="lorem", text=nonsense)))
    assert outcome.review.Confidence == 1 and outcome.meta.extra["out_of_distribution"] is True
    assert "Out of the training distribution" in outcome.review.Summary


@pytest.mark.slow
def test_ratings_follow_the_calibration_within_1_to_10(full_model):
    calibration = full_model.card.calibration
    raw = np.array([-1e3, 0.0, 1e3])
    assert list(full_model.rating(raw)) == [1.0, min(10.0, max(1.0, calibration.intercept)), 10.0]
    assert 0 < calibration.slope
