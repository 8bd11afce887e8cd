"""Small helpers shared by the reviewer's tests."""

from __future__ import annotations

import asyncio

from corpus.paper import Paper
from reviewer.build import build_reviewer
from reviewer.config import ReviewConfig

PAPER = Paper("paper-1", "Title: A Study of Things\n\nAbstract\nWe study things.\n\n1 Introduction\nThings matter.")


def base_url_for(server, model: str) -> str:
    return server.openai_base_url if model.startswith("openai/") else server.url


async def review_and_close(reviewer, paper):
    try:
        return await reviewer.review(paper)
    finally:
        await reviewer.aclose()


def review_with(server, model="openai/gpt-4o-2024-05-13", paper=PAPER, data_dir=None, use_cache=False,
                timeout=None, transcript=True, **config):
    reviewer = build_reviewer(ReviewConfig(model=model, base_url=base_url_for(server, model), **config),
                              data_dir=data_dir, use_cache=use_cache, timeout=timeout, transcript=transcript)
    return asyncio.run(review_and_close(reviewer, paper))
