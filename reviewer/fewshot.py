"""Few-shot examples: a paper's text and a human review in the form, from ``<data root>/fewshot``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from corpus.dataset import DatasetError, data_root

# The original system's order, so that --fewshot 1 picks the same example it did.
PREFERRED_ORDER = ["132_automated_relational", "attention", "2_carpe_diem"]


@dataclass(frozen=True)
class FewshotExample:
    name: str
    paper_text: str
    review_json: str


def load_fewshot(count: int, data_dir: str | Path | None) -> list[FewshotExample]:
    if count == 0:
        return []
    folder = data_root(data_dir, needed_for="--fewshot") / "fewshot"
    names = sorted(p.stem for p in folder.glob("*.json"))
    if not names:
        raise DatasetError(f"{folder}: no few-shot examples (*.json with a matching .txt)")
    ordered = [n for n in PREFERRED_ORDER if n in names] + [n for n in names if n not in PREFERRED_ORDER]
    if count > len(ordered):
        raise DatasetError(f"{folder}: {count} few-shot examples asked for, {len(ordered)} available")
    examples = []
    for name in ordered[:count]:
        text_path = folder / f"{name}.txt"
        if not text_path.is_file():
            raise DatasetError(f"{text_path}: missing (each example needs its paper text)")
        review = json.loads((folder / f"{name}.json").read_text())["review"]
        review_json = review if isinstance(review, str) else json.dumps(review, indent=4)
        examples.append(FewshotExample(name, text_path.read_text(encoding="utf-8", errors="replace"), review_json))
    return examples
