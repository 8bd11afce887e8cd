"""A benchmark folder as a Hugging Face ``DatasetDict``, and back.

``export_dataset`` turns ``ratings_<split>.tsv`` + ``metadata.tsv`` + ``texts/`` into one split
per ratings file, with the columns ``id, title, text, ratings, mean_rating, decision, accepted``,
saved with ``save_to_disk``. ``load_saved_dataset`` reads such a save back for the benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from corpus.dataset import DatasetError, read_ratings, read_titles


@dataclass(frozen=True)
class ExportSummary:
    out: Path
    #: Rows written per split.
    rows: dict[str, int]


def _datasets():
    try:
        import datasets
    except ImportError:
        raise DatasetError(
            "the Hugging Face `datasets` package is missing: pip install 'review-bench[data]'"
        ) from None
    return datasets


def export_dataset(
    folder: Path, out: Path, *, splits: list[str] | None = None, limit: int | None = None
) -> ExportSummary:
    """Save ``folder`` (benchmark layout) to ``out``; ``splits`` defaults to every ratings file,
    ``limit`` keeps the first rows of each split."""
    if not folder.is_dir():
        raise DatasetError(f"{folder}: dataset folder not found")
    datasets = _datasets()
    names = splits or sorted(p.stem.removeprefix("ratings_") for p in folder.glob("ratings_*.tsv"))
    if not names:
        raise DatasetError(f"{folder}: no ratings_*.tsv file to export")
    titles = read_titles(folder)
    features = datasets.Features({
        "id": datasets.Value("string"),
        "title": datasets.Value("string"),
        "text": datasets.Value("string"),
        "ratings": datasets.Sequence(datasets.Value("float64")),
        "mean_rating": datasets.Value("float64"),
        "decision": datasets.Value("string"),
        "accepted": datasets.Value("bool"),
    })
    dataset_dict = datasets.DatasetDict({
        name: datasets.Dataset.from_list(_rows(folder, name, titles, limit), features=features)
        for name in names
    })
    dataset_dict.save_to_disk(str(out))
    return ExportSummary(out=out, rows={name: len(split) for name, split in dataset_dict.items()})


def _rows(folder: Path, split: str, titles: dict[str, str], limit: int | None) -> list[dict]:
    ratings_path = folder / f"ratings_{split}.tsv"
    if not ratings_path.is_file():
        raise DatasetError(f"{ratings_path}: ratings file not found")
    labels = list(read_ratings(ratings_path).items())[:limit]
    rows = []
    for paper_id, (line, human) in labels:
        text_path = folder / "texts" / f"{paper_id}.txt"
        if not text_path.is_file():
            raise DatasetError(f"{text_path}: missing (paper on {ratings_path.name} line {line})")
        rows.append({
            "id": paper_id,
            "title": titles.get(paper_id, ""),
            "text": text_path.read_text(encoding="utf-8"),
            "ratings": human.ratings,
            "mean_rating": human.mean_rating,
            "decision": human.decision,
            "accepted": human.accepted,
        })
    return rows


def load_saved_dataset(path: str | Path, split: str) -> list[dict]:
    """One split of a ``DatasetDict`` saved by ``export_dataset`` (or any save with the same
    columns) as a list of ``{"paper_id", "title", "text", "ratings", "decision"}`` dicts,
    in the saved order. ``ratings`` is a list of floats; ``decision`` may be None."""
    datasets = _datasets()
    try:
        saved = datasets.load_from_disk(str(path))
    except FileNotFoundError:
        raise DatasetError(f"{path}: not a dataset saved with save_to_disk") from None
    if not isinstance(saved, datasets.DatasetDict):
        raise DatasetError(f"{path}: a single Dataset, expected a DatasetDict with named splits")
    if split not in saved:
        raise DatasetError(f"{path}: no split {split!r} (has {', '.join(saved)})")
    missing = {"id", "text", "ratings", "decision"} - set(saved[split].column_names)
    if missing:
        raise DatasetError(f"{path}: split {split!r} lacks column(s) {', '.join(sorted(missing))}")
    return [
        {
            "paper_id": row["id"],
            "title": row.get("title") or "",
            "text": row["text"],
            "ratings": [float(r) for r in row["ratings"]],
            "decision": row["decision"],
        }
        for row in saved[split]
    ]
