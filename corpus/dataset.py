"""Benchmark datasets: papers with human labels, read from a ratings TSV plus texts or PDFs.

Layout (as in ``shared/datasets/iclr2022``)::

    ratings_<split>.tsv   paper_id, rating columns (empty where missing), decision
    texts/<paper_id>.txt  or  pdfs/<paper_id>.pdf
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Literal

from pydantic import BaseModel, Field

from corpus.paper import Paper, load_paper
from corpus.venue_rules import GENERIC, BlindProfile, profile_from_card

DATA_ENV = "REVIEW_BENCH_DATA"
#: Dataset manifests (``data/<name>.json``) in a checkout of the project.
MANIFEST_DIR = Path(__file__).resolve().parents[1] / "data"
DEFAULT_SPLIT = "eval"
DEFAULT_BENCHMARK = "iclr2022"
#: The split trained models (the offline reviewer) learn from.
TRAIN_SPLIT = "train"
#: The card ``data download`` writes beside the ratings files (venue, dates, rating scale, audit).
CARD_FILE = "dataset.json"
TextMode = Literal["blind", "raw"]


#: A single reviewer's rating at or above this counts as a vote to accept (ICLR's 6,
#: "marginally above the acceptance threshold").
HUMAN_ACCEPT_RATING = 6


class DatasetError(Exception):
    """A dataset that cannot be used. The message is one line, naming the file (and line)."""


class HumanLabel(BaseModel):
    ratings: list[float] = Field(default_factory=list)
    mean_rating: float | None = None
    decision: str | None = None  # e.g. "Accept (Poster)", "Reject"
    accepted: bool | None = None


@dataclass(frozen=True)
class DatasetPaper:
    paper_id: str
    human: HumanLabel
    #: The text file, or the PDF when the dataset has no texts.
    path: Path | None = None
    #: The text itself, for a saved Hugging Face dataset.
    text: str | None = None
    #: Whose template lines blinding removes, and after which date citations are masked.
    blinding: BlindProfile = GENERIC

    def identity(self) -> str:
        """What the fingerprint covers: the paper's id, the hash of its contents, its label."""
        content = self.text.encode() if self.text is not None else self.path.read_bytes()
        return f"{self.paper_id}\t{hashlib.sha256(content).hexdigest()}\t{self.human.model_dump_json()}"


@dataclass(frozen=True)
class Dataset:
    name: str
    split: str | None
    folder: Path
    #: None for a saved Hugging Face dataset (its labels are in the papers).
    ratings_path: Path | None
    #: "text" (papers from texts/), "pdf" (from pdfs/) or "hf" (a saved Hugging Face dataset).
    source: str
    papers: list[DatasetPaper]
    #: The dataset's card (``dataset.json``, else the project's manifest), None without one.
    card: dict | None = field(default=None, compare=False)

    @property
    def blinding(self) -> BlindProfile:
        return profile_from_card(self.card)

    @property
    def public_since(self) -> str | None:
        """The ISO date from which the venue's papers were public (OpenReview shows submissions
        when they are made): the card's first submission, else its submission deadline."""
        if not self.card:
            return None
        dates = self.card.get("dates") or {}
        found = dates.get("first_submission") or self.card.get("submission_deadline")
        return str(found)[:10] if found else None

    def fingerprint(self) -> str:
        """sha256 over the ratings file and each paper's identity."""
        digest = hashlib.sha256(self.ratings_path.read_bytes() if self.ratings_path else b"")
        for paper in self.papers:
            digest.update(f"\n{paper.identity()}".encode())
        return digest.hexdigest()

    def text_mode(self, mode: TextMode) -> str:
        """What the reviewer is shown, as the run record names it."""
        return f"pdf-{mode}" if self.source == "pdf" else mode

    def subset(self, limit: int | None) -> list[DatasetPaper]:
        """The first ``limit`` papers in an order fixed by a hash of their ids."""
        ordered = sorted(self.papers, key=lambda p: hashlib.sha256(p.paper_id.encode()).hexdigest())
        return ordered if limit is None else ordered[:limit]


PaperLoader = Callable[[DatasetPaper], Paper]


def paper_loader(mode: TextMode, *, body_only: bool = False, max_pages: int | None = None) -> PaperLoader:
    """Reads a dataset paper as the reviewer will see it (``blind``: leakage removed)."""
    if mode == "blind":
        from corpus.blind import blind_text as blind
    else:
        blind = None

    def load(item: DatasetPaper) -> Paper:
        if item.text is not None:
            paper = Paper(paper_id=item.paper_id, text=item.text)
        else:
            paper = load_paper(item.path, paper_id=item.paper_id, max_pages=max_pages)
        if blind is not None:
            paper.text = blind(paper.text, body_only=body_only, profile=item.blinding)
        return paper

    return load


def load_card(folder: str | Path, name: str | None = None) -> dict | None:
    """A dataset's card: ``folder/dataset.json``, else the manifest ``data/<name>.json`` of a
    benchmark the project knows (``name`` defaults to the folder's name)."""
    folder = Path(folder)
    for path in (folder / CARD_FILE, MANIFEST_DIR / f"{name or folder.name}.json"):
        if path.is_file():
            try:
                return json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise DatasetError(f"{path}: unreadable dataset card ({exc})") from None
    return None


def data_root(data_dir: str | Path | None, *, needed_for: str = "this command") -> Path:
    """The data root from ``--data-dir``, else ``$REVIEW_BENCH_DATA``."""
    chosen = data_dir or os.environ.get(DATA_ENV)
    if not chosen:
        raise DatasetError(
            f"no data folder ({needed_for} needs one): pass --data-dir DIR or set {DATA_ENV} "
            "(a folder holding iclr2022/)"
        )
    root = Path(chosen).expanduser()
    if not root.is_dir():
        raise DatasetError(f"{root}: data folder not found")
    return root


def load_benchmark(name: str, split: str | None, data_dir: str | Path | None) -> Dataset:
    """A named benchmark under the data root, e.g. ``iclr2022`` split ``eval``."""
    folder = data_root(data_dir) / name
    if not folder.is_dir():
        raise DatasetError(f"{folder}: no such benchmark in the data folder")
    split = split or DEFAULT_SPLIT
    return _load(name, split, folder, folder / f"ratings_{split}.tsv")


def default_train_split(data_dir: str | Path | None) -> Dataset | None:
    """The default benchmark's train split under the data root (``--data-dir``, else
    ``$REVIEW_BENCH_DATA``); None when neither is set."""
    if not (data_dir or os.environ.get(DATA_ENV)):
        return None
    return load_benchmark(DEFAULT_BENCHMARK, TRAIN_SPLIT, data_dir)


def open_dataset(benchmark: str | None, dataset: str | Path | None, split: str | None,
                 data_dir: str | Path | None) -> Dataset:
    """What a command names: ``--dataset DIR``, else a benchmark under the data root (default iclr2022)."""
    if dataset:
        return load_folder(dataset, split)
    return load_benchmark(benchmark or DEFAULT_BENCHMARK, split, data_dir)


@dataclass(frozen=True)
class BenchmarkEntry:
    name: str
    folder: Path
    #: split -> {"papers": n, "accepted": n}, counted from its ratings file.
    splits: dict[str, dict[str, int]]
    card: dict | None
    card_path: str | None


def list_benchmarks(root: Path) -> list[BenchmarkEntry]:
    """The folders under ``root`` that hold ratings files, with their cards."""
    found = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        ratings = sorted(folder.glob("ratings_*.tsv"))
        if not ratings:
            continue
        splits = {}
        for path in ratings:
            labels = [label for _, label in read_ratings(path).values()]
            splits[path.stem.removeprefix("ratings_")] = {
                "papers": len(labels), "accepted": sum(bool(label.accepted) for label in labels)}
        card_path = folder / CARD_FILE if (folder / CARD_FILE).is_file() else MANIFEST_DIR / f"{folder.name}.json"
        found.append(BenchmarkEntry(folder.name, folder, splits, load_card(folder),
                                    str(card_path) if card_path.is_file() else None))
    return found


def load_folder(folder: str | Path, split: str | None) -> Dataset:
    """A user's own dataset: a folder with one ``ratings_*.tsv`` (or ``--split`` picks one)."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise DatasetError(f"{folder}: dataset folder not found")
    if (folder / "dataset_dict.json").exists():
        return _load_saved_hf(folder, split)
    candidates = sorted(folder.glob("ratings_*.tsv"))
    if split:
        ratings = folder / f"ratings_{split}.tsv"
    elif len(candidates) == 1:
        ratings = candidates[0]
    elif not candidates:
        raise DatasetError(f"{folder}: no ratings_*.tsv file")
    else:
        names = ", ".join(c.name for c in candidates)
        raise DatasetError(f"{folder}: several ratings files ({names}); pick one with --split")
    split_name = ratings.stem.removeprefix("ratings_")
    return _load(folder.name, split_name, folder, ratings)


def _load_saved_hf(folder: Path, split: str | None) -> Dataset:
    from corpus.hf_dataset import load_saved_dataset

    split = split or DEFAULT_SPLIT
    rows = load_saved_dataset(folder, split)
    card = load_card(folder)
    papers = [
        DatasetPaper(
            paper_id=row["paper_id"],
            human=human_label(row["ratings"], row["decision"] or "", f"{folder} split {split} row {number}"),
            text=row["text"],
            blinding=profile_from_card(card),
        )
        for number, row in enumerate(rows, start=1)
    ]
    if not papers:
        raise DatasetError(f"{folder}: split {split!r} has no papers")
    return Dataset(name=folder.name, split=split, folder=folder, ratings_path=None, source="hf", papers=papers,
                   card=card)


def _load(name: str, split: str, folder: Path, ratings: Path) -> Dataset:
    if not ratings.is_file():
        raise DatasetError(f"{ratings}: ratings file not found")
    labels = read_ratings(ratings)
    source = "text" if (folder / "texts").is_dir() else "pdf"
    if source == "pdf" and not (folder / "pdfs").is_dir():
        raise DatasetError(f"{folder}: no texts/ or pdfs/ folder")
    card = load_card(folder, name)
    blinding = profile_from_card(card)
    papers = []
    for paper_id, (line, human) in labels.items():
        path = folder / "texts" / f"{paper_id}.txt" if source == "text" else folder / "pdfs" / f"{paper_id}.pdf"
        if not path.is_file():
            raise DatasetError(f"{path}: missing (paper on {ratings.name} line {line})")
        papers.append(DatasetPaper(paper_id=paper_id, human=human, path=path, blinding=blinding))
    if not papers:
        raise DatasetError(f"{ratings}: no papers")
    return Dataset(name=name, split=split, folder=folder, ratings_path=ratings, source=source, papers=papers,
                   card=card)


def read_titles(folder: Path) -> dict[str, str]:
    """paper_id -> title, from the folder's ``metadata.tsv`` (empty when it has none)."""
    path = folder / "metadata.tsv"
    if not path.is_file():
        return {}
    with path.open(encoding="utf-8", newline="") as handle:
        return {row["paper_id"]: row.get("title") or "" for row in csv.DictReader(handle, delimiter="\t")}


def read_ratings(path: Path) -> dict[str, tuple[int, HumanLabel]]:
    """paper_id -> (line number, label). Any bad line is an error naming file and line."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = csv.reader(handle, delimiter="\t")
        header = next(rows, None)
        if not header or header[0] != "paper_id" or header[-1] != "decision":
            raise DatasetError(f"{path}:1: header must be paper_id, rating columns..., decision")
        labels: dict[str, tuple[int, HumanLabel]] = {}
        for line, row in enumerate(rows, start=2):
            if not any(cell.strip() for cell in row):
                continue
            where = f"{path}:{line}"
            if len(row) != len(header):
                raise DatasetError(f"{where}: {len(row)} columns, expected {len(header)}")
            paper_id, decision = row[0].strip(), row[-1].strip()
            if not paper_id:
                raise DatasetError(f"{where}: empty paper_id")
            if paper_id in labels:
                raise DatasetError(f"{where}: paper {paper_id} already on line {labels[paper_id][0]}")
            labels[paper_id] = (line, human_label(_ratings(row[1:-1], where), decision, where))
    return labels


def human_label(ratings: list[float], decision: str, where: str) -> HumanLabel:
    return HumanLabel(
        ratings=ratings,
        mean_rating=sum(ratings) / len(ratings) if ratings else None,
        decision=decision or None,
        accepted=_accepted(decision, where),
    )


def _ratings(cells: list[str], where: str) -> list[float]:
    try:
        return [float(cell) for cell in cells if cell.strip()]
    except ValueError:
        raise DatasetError(f"{where}: a rating is not a number") from None


def _accepted(decision: str, where: str) -> bool | None:
    lowered = decision.lower()
    if not lowered:
        return None
    if lowered.startswith("accept"):
        return True
    if lowered.startswith("reject"):
        return False
    raise DatasetError(f"{where}: decision {decision!r} is neither Accept... nor Reject")


def check_manifest(data: Dataset) -> list[str]:
    """Differences between a loaded split and its card's (or manifest's) expected size and
    accept count, as notes for the run record (a modified snapshot is allowed, but never silent)."""
    if data.split is None or not data.card:
        return []
    expected = (data.card.get("splits") or {}).get(data.split)
    if not expected:
        return []
    found = {"papers": len(data.papers), "accepted": sum(bool(p.human.accepted) for p in data.papers)}
    return [
        f"{data.name} {data.split}: {found[key]} {key}, its card says {expected[key]}"
        for key in ("papers", "accepted")
        if key in expected and expected[key] != found[key]
    ]
