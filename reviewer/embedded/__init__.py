"""The offline reviewer (model string ``embedded``): a small model trained on the ICLR 2022
train split, cached on disk, that reviews a paper on a CPU in well under a second."""

from __future__ import annotations

from pathlib import Path

from reviewer.config import ReviewConfig
from reviewer.outcome import PaperReviewer


def create_embedded_reviewer(config: ReviewConfig, data_dir: str | Path | None = None) -> PaperReviewer:
    """The offline reviewer; trains (and caches) the model on first use."""
    from reviewer.embedded.cache import get_model
    from reviewer.embedded.reviewer import EmbeddedReviewer

    return EmbeddedReviewer(get_model(data_dir), config)
