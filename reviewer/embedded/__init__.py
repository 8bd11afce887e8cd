"""The offline reviewer (model string ``embedded``): a small model trained on the train split
its caller gives it, cached on disk, that reviews a paper on a CPU in well under a second."""

from __future__ import annotations

from corpus.dataset import Dataset
from reviewer.config import ReviewConfig
from reviewer.outcome import PaperReviewer


def create_embedded_reviewer(config: ReviewConfig, train_data: Dataset | None = None) -> PaperReviewer:
    """The offline reviewer trained on ``train_data`` (trained and cached on first use); without
    it, the last model trained."""
    from reviewer.embedded.cache import get_model
    from reviewer.embedded.reviewer import EmbeddedReviewer

    return EmbeddedReviewer(get_model(train_data), config)
