"""The trained offline model on disk: ``$REVIEW_BENCH_CACHE_DIR/embedded/`` holds
``model.joblib`` and ``card.json``. A model is reused while the train data's fingerprint
matches, and retrained when it changes."""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path

import joblib

from corpus.dataset import DATA_ENV, DatasetError
from corpus.files import atomic_write, cache_dir
from reviewer.embedded.model import EmbeddedModel, ModelError, data_fingerprint, train, train_dataset

MODEL_FILE, CARD_FILE = "model.joblib", "card.json"
log = logging.getLogger(__name__)


def model_dir() -> Path:
    return cache_dir() / "embedded"


def load_cached() -> EmbeddedModel | None:
    path = model_dir() / MODEL_FILE
    if not path.is_file():
        return None
    try:
        return joblib.load(path)
    except Exception:  # an unreadable or outdated pickle is retrained, not fatal
        return None


def save(model: EmbeddedModel) -> Path:
    folder = model_dir()
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    atomic_write(folder / MODEL_FILE, buffer.getvalue())
    atomic_write(folder / CARD_FILE, model.card.model_dump_json(indent=2))
    return folder


def get_model(data_dir: str | Path | None = None, *, retrain: bool = False) -> EmbeddedModel:
    """The cached model when it matches the train data (or no data is given), else a new one."""
    cached = load_cached()
    if not (data_dir or os.environ.get(DATA_ENV)):
        if cached is None or retrain:
            raise ModelError(
                f"the offline model is not trained yet: pass --data-dir DIR or set {DATA_ENV} "
                "(a folder holding iclr2022/ratings_train.tsv and texts/)"
            )
        return cached
    try:
        dataset = train_dataset(data_dir)
    except DatasetError as exc:
        raise ModelError(str(exc)) from None
    if cached is not None and not retrain and cached.card.fingerprint == data_fingerprint(dataset):
        return cached
    log.info("training the offline model on the %d papers of %s (first use; about a minute)",
             len(dataset.papers), dataset.ratings_path)
    model = train(dataset)
    save(model)
    return model
