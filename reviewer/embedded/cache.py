"""Trained offline models on disk, keyed by the fingerprint of the data they were trained on:
``$REVIEW_BENCH_CACHE_DIR/embedded/<fingerprint>/`` holds ``model.joblib`` and ``card.json``,
and ``embedded/latest`` names the last one trained (used when no training data is given).

The caller resolves the training data (a ``corpus.dataset.Dataset``); this module reads its
papers through ``paper_loader`` and trains when no model matches it."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import joblib
from rich.progress import Progress

from corpus.blind import rules_fingerprint
from corpus.dataset import DATA_ENV, Dataset, paper_loader, read_titles
from corpus.files import atomic_write, cache_dir
from reviewer.embedded.model import MODEL_VERSION, EmbeddedModel, ModelError, TrainingPaper, TrainingSet, train

MODEL_FILE, CARD_FILE, LATEST_FILE = "model.joblib", "card.json", "latest"
#: Characters of the fingerprint that name a model's folder.
KEY_CHARS = 16
log = logging.getLogger(__name__)


def models_dir() -> Path:
    return cache_dir() / "embedded"


def model_dir(fingerprint: str) -> Path:
    return models_dir() / fingerprint[:KEY_CHARS]


def data_fingerprint(dataset: Dataset) -> str:
    """The dataset's own fingerprint, tied to this model version and the blinding rules (new
    features or new rules retrain)."""
    return f"v{MODEL_VERSION}-{dataset.fingerprint()}-{rules_fingerprint()}"


def training_set(dataset: Dataset) -> TrainingSet:
    """The dataset's rated papers, blinded with the dataset's own rules (a benchmark run in blind
    mode shows the reviewer the same; the model blinds every text again with the generic rules)."""
    titles = read_titles(dataset.folder)
    labelled = [p for p in dataset.papers if p.human.accepted is not None and p.human.mean_rating is not None]
    load, papers = paper_loader("blind"), []
    with Progress(transient=True) as progress:
        task = progress.add_task("Reading train papers", total=len(labelled))
        for item in labelled:
            papers.append(TrainingPaper(
                paper_id=item.paper_id, title=titles.get(item.paper_id, ""), text=load(item).text,
                mean_rating=float(item.human.mean_rating), accepted=bool(item.human.accepted),
                decision=item.human.decision or "",
            ))
            progress.advance(task)
    source = {"name": dataset.name, "split": dataset.split, "path": str(dataset.folder)}
    return TrainingSet(papers=papers, fingerprint=data_fingerprint(dataset), source=source)


def load_cached(fingerprint: str) -> EmbeddedModel | None:
    path = model_dir(fingerprint) / MODEL_FILE
    if not path.is_file():
        return None
    try:
        model = joblib.load(path)
    except Exception:  # an unreadable or outdated pickle is retrained, not fatal
        return None
    return model if model.card.fingerprint.startswith(fingerprint) else None


def latest() -> EmbeddedModel | None:
    pointer = models_dir() / LATEST_FILE
    return load_cached(pointer.read_text().strip()) if pointer.is_file() else None


def save(model: EmbeddedModel) -> Path:
    folder = model_dir(model.card.fingerprint)
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    atomic_write(folder / MODEL_FILE, buffer.getvalue())
    atomic_write(folder / CARD_FILE, model.card.model_dump_json(indent=2))
    atomic_write(models_dir() / LATEST_FILE, model.card.fingerprint[:KEY_CHARS])
    return folder


def get_model(train_data: Dataset | None = None, *, retrain: bool = False) -> EmbeddedModel:
    """The cached model trained on ``train_data``, training it first when there is none (or
    ``retrain``); without ``train_data``, the last model trained."""
    if train_data is None:
        cached = latest()
        if cached is None:
            raise ModelError(
                f"the offline model is not trained yet: pass --data-dir DIR or set {DATA_ENV} (a folder holding "
                "iclr2022/), or run 'review-bench embedded train --dataset DIR'"
            )
        return cached
    fingerprint = data_fingerprint(train_data)
    cached = None if retrain else load_cached(fingerprint)
    if cached is not None:
        atomic_write(models_dir() / LATEST_FILE, fingerprint[:KEY_CHARS])
        return cached
    log.info("training the offline model on the %d papers of %s (first use; about a minute)",
             len(train_data.papers), train_data.folder)
    model = train(training_set(train_data))
    save(model)
    return model
