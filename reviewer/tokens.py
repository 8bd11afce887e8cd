"""Token counts without a network: an estimate, and fitting a paper into a budget.

tiktoken downloads its encodings on first use, so the API backends estimate instead.
The estimate errs high (about 3.6 characters a token, where GPT-4-class tokenizers give
about 4 on English papers), so a fitted prompt stays inside the window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

CHARS_PER_TOKEN = 3.6
TRUNCATION_MARKER = (
    "\n\n[... {omitted} characters of the paper were cut here to fit the model's context "
    "window; the review must not assume anything about the missing part ...]\n"
)


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


@dataclass
class Fitted:
    text: str
    truncated: bool
    original_tokens: int
    kept_tokens: int
    omitted_chars: int = 0

    def to_dict(self) -> dict:
        return {
            "original_tokens": self.original_tokens,
            "kept_tokens": self.kept_tokens,
            "omitted_chars": self.omitted_chars,
        }


def fit_text(text: str, budget: int, count: Callable[[str], int] = estimate_tokens) -> Fitted:
    """Keep the front of the paper (title, abstract, introduction, then as much body as
    fits) and mark the cut visibly. ``budget`` is in tokens."""
    total = count(text)
    if total <= budget:
        return Fitted(text, False, total, total)
    marker_tokens = count(TRUNCATION_MARKER.format(omitted=len(text)))
    lo, hi = 0, len(text)
    while lo < hi:  # longest prefix that fits, by bisection on characters
        mid = (lo + hi + 1) // 2
        if count(text[:mid]) + marker_tokens <= budget:
            lo = mid
        else:
            hi = mid - 1
    cut = text.rfind("\n", 0, lo)
    cut = cut if cut > lo * 0.9 else lo
    kept = text[:cut] + TRUNCATION_MARKER.format(omitted=len(text) - cut)
    return Fitted(kept, True, total, count(kept), len(text) - cut)
