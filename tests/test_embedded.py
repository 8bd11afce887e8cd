"""The offline reviewer: training, the fingerprinted cache, and the review it writes."""

from __future__ import annotations

import asyncio
import csv
import time

import pytest

from corpus.paper import Paper
from reviewer.config import ReviewConfig
from reviewer.embedded import cache, create_embedded_reviewer
from reviewer.embedded.model import ModelError


def _small_split(shared, root, n=40):
    """A data root with the first ``n`` train papers (texts linked, not copied)."""
    source = shared / "iclr2022"
    target = root / "iclr2022"
    (target / "texts").mkdir(parents=True)
    with (source / "ratings_train.tsv").open(encoding="utf-8") as handle:
        lines = handle.read().splitlines()[: n + 1]
    (target / "ratings_train.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
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

    def counting(dataset):
        calls.append(dataset.ratings_path)
        return real(dataset)

    monkeypatch.setattr(cache, "train", counting)
    return calls


def test_trains_once_and_retrains_when_the_data_changes(small_root, count_trainings):
    model = cache.get_model(small_root)
    assert len(count_trainings) == 1
    assert (cache.model_dir() / "model.joblib").is_file()
    card = (cache.model_dir() / "card.json").read_text()
    assert model.card.fingerprint in card and "cv" in card
    assert model.card.data["n_papers"] == 40 and 0 <= model.card.cv.auc <= 1

    again = cache.get_model(small_root)
    assert len(count_trainings) == 1 and again.card.fingerprint == model.card.fingerprint
    assert cache.get_model(None).card.fingerprint == model.card.fingerprint  # no data root: cached

    ratings = small_root / "iclr2022" / "ratings_train.tsv"
    ratings.write_text("\n".join(ratings.read_text().splitlines()[:-1]) + "\n")
    changed = cache.get_model(small_root)
    assert len(count_trainings) == 2 and changed.card.fingerprint != model.card.fingerprint
    assert changed.card.data["n_papers"] == 39


def test_no_data_and_no_cached_model_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("REVIEW_BENCH_DATA", raising=False)
    with pytest.raises(ModelError, match="not trained yet.*--data-dir"):
        create_embedded_reviewer(ReviewConfig(model="embedded"))


def test_review_is_a_valid_outcome_with_evidence(small_root, shared_datasets):
    config = ReviewConfig(model="embedded", threshold=5)
    reviewer = create_embedded_reviewer(config, data_dir=small_root)
    pid = "tDirSp3pczB"  # an eval paper: not among the training papers
    text = (shared_datasets / "iclr2022" / "texts" / f"{pid}.txt").read_text()
    outcome = asyncio.run(reviewer.review(Paper(paper_id=pid, text=text)))

    assert outcome.ok and outcome.paper_id == pid
    form, meta = outcome.review, outcome.meta
    rating, p = meta.extra["predicted_rating"], meta.extra["p_accept"]
    assert meta.model == "embedded" and meta.overall_mean == rating
    assert form.Overall == min(10, max(1, round(rating)))
    assert meta.decision_by_threshold == ("Accept" if form.Overall >= 5 else "Reject")
    assert form.Summary == f"Offline model: predicted rating {rating:.2f}, P(accept) {p:.2f}"
    assert form.Strengths and all("to the predicted rating" in s for s in form.Strengths)
    assert form.Weaknesses and all("-" in s for s in form.Weaknesses)
    titles = {row["paper_id"]: row["title"] for row in csv.DictReader(
        (shared_datasets / "iclr2022" / "metadata.tsv").open(), delimiter="\t")}
    neighbours = meta.extra["neighbours"]
    assert neighbours and all(n["title"] == titles[n["paper_id"]] for n in neighbours)
    assert len(form.Questions) + len(form.Limitations) >= 3
    assert "offline" in meta.extra["offline_model"]
    assert outcome.to_json_dict()["Overall"] == form.Overall


@pytest.mark.slow
def test_full_train_split_trains_within_a_minute(shared_datasets):
    started = time.perf_counter()
    model = cache.get_model(shared_datasets)
    assert time.perf_counter() - started < 60
    assert model.card.data["n_papers"] == 400
    assert model.card.cv.auc > 0.6  # measured 0.68 out of fold (0.66 over 5x5 repeated folds)
