"""Everything that decides how a paper is reviewed, in one typed, hashable object."""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from reviewer.models.pricing import Price

SystemPrompt = Literal["critical", "neutral", "lenient"]
ReasoningEffort = Literal["low", "medium", "high"]


class ReviewConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = "embedded"
    base_url: str | None = None
    adapter: str | None = Field(default=None, description="LoRA adapter folder (hf backend)")
    system_prompt: SystemPrompt = "critical"
    fewshot: int = Field(default=0, ge=0, le=3)
    ensemble: int = Field(default=1, ge=1, le=20)
    reflections: int = Field(default=1, ge=1, le=10, description="1 means no reflection")
    temperature: float = Field(default=0.75, ge=0.0, le=2.0)
    #: For a model that reasons (OpenAI reasoning_effort, Anthropic thinking); None: its default.
    reasoning_effort: ReasoningEffort | None = None
    max_tokens: int = Field(default=4096, ge=64)
    threshold: float = Field(default=6.0, ge=1.0, le=10.0)
    max_pages: int | None = Field(default=None, ge=1)
    repair_attempts: int = Field(default=2, ge=0, le=5)
    #: Cap on the model's context window, e.g. the length a LoRA adapter was trained on.
    context_window: int | None = Field(default=None, ge=1024)
    #: The model's price when the tables lack it or are wrong (``--price in=X,out=Y``).
    price: Price | None = None

    @field_validator("price", mode="before")
    @classmethod
    def _parse_price(cls, value):
        return Price.parse(value) if isinstance(value, str) else value

    def fingerprint(self) -> str:
        """Short hash of the settings that change reviews: not where the server lives, not the
        threshold, which only changes how reviews are scored, and not the price. Options left
        unset (None) that earlier versions lacked stay out, so earlier runs keep their hash."""
        payload = self.model_dump(exclude={"base_url", "threshold", "price"})
        if payload["reasoning_effort"] is None:
            del payload["reasoning_effort"]
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:10]
