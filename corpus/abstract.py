"""A paper's title and abstract, found in its text (markdown from the PDF reader, or a
dataset's extracted text)."""

from __future__ import annotations

import re

from corpus.cues import is_section_heading, split_front_matter

#: Longer than any abstract: text beyond this many words is the introduction run on.
MAX_ABSTRACT_WORDS = 400
_INTRODUCTION = re.compile(r"^[#*_\s]*(?:1|I)?\.?\s*introduction\b", re.I)


def abstract_of(text: str) -> str | None:
    """The abstract: from the start of its text to the first section heading (or blank-line
    paragraph past ``MAX_ABSTRACT_WORDS`` words); None when no abstract is found."""
    front = split_front_matter(text)
    if not (front.title or front.block):
        return None
    kept: list[str] = []
    words = 0
    for line in front.body.split("\n"):
        stripped = line.strip()
        if stripped and (is_section_heading(stripped) or _INTRODUCTION.match(stripped)):
            break
        if not stripped and words >= MAX_ABSTRACT_WORDS:
            break
        kept.append(stripped)
        words += len(stripped.split())
    abstract = re.sub(r"\s+", " ", " ".join(kept)).strip()
    return abstract or None


def title_of(text: str) -> str:
    """The title lines of the paper's front matter, without markdown marks."""
    return re.sub(r"\s+", " ", " ".join(split_front_matter(text).title).replace("#", "").replace("*", "")).strip()
