"""From a review configuration to a ready reviewer (the LLM pipeline or the offline model)."""

from __future__ import annotations

from pathlib import Path

from corpus.dataset import default_train_split
from reviewer.config import ReviewConfig
from reviewer.fewshot import load_fewshot
from reviewer.models.registry import create_model
from reviewer.outcome import PaperReviewer
from reviewer.pipeline import LLMReviewer


def build_reviewer(
    config: ReviewConfig,
    *,
    data_dir: str | Path | None = None,
    use_cache: bool = True,
    refresh_cache: bool = False,
    concurrency: int = 8,
    timeout: float | None = None,
    transcript: bool = True,
) -> PaperReviewer:
    """The reviewer ``config`` names. The offline model gets the default benchmark's train split
    under ``data_dir`` to train on (without a data root, it is the last model trained)."""
    if config.model == "embedded":
        from reviewer.embedded import create_embedded_reviewer

        return create_embedded_reviewer(config, default_train_split(data_dir))
    examples = load_fewshot(config.fewshot, data_dir)
    model = create_model(
        config.model,
        base_url=config.base_url,
        adapter=config.adapter,
        use_cache=use_cache,
        refresh_cache=refresh_cache,
        max_concurrency=concurrency,
        timeout=timeout,
        price=config.price,
    )
    return LLMReviewer(model, config, examples, transcript=transcript)
