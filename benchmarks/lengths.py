"""The length of each paper's text as a run's reviewer saw it: what every score is controlled
for (a "reviewer" that counts characters scores AUC 0.70 on ICLR 2022), and the subset of a
split in which accepted and rejected papers are equally long.

A run records each paper's length (``PaperRecord.text_chars``); runs without it (older runs)
get it recomputed from the dataset their manifest names, in their text mode.
"""

from __future__ import annotations

import bisect
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmarks.records import PaperRecord, RunManifest, SubsetInfo
from benchmarks.stats import auc_score, best_threshold
from corpus.dataset import Dataset, DatasetError, DatasetPaper, data_root, load_folder, paper_loader
from corpus.files import atomic_write, cache_dir
from corpus.paper import PaperInputError

#: A matched pair's lengths differ by at most this fraction of the first paper's length.
MATCH_CALIPER = 0.05
LENGTH_MATCHED = "length-matched"


def _order(paper_id: str) -> str:
    return hashlib.sha256(paper_id.encode()).hexdigest()


def split_text_mode(text_mode: str) -> tuple[str, bool, bool]:
    """``pdf-blind-body-only`` -> ("blind", body_only=True, pdf=True)."""
    pdf = text_mode.startswith("pdf-")
    base = text_mode.removeprefix("pdf-")
    body_only = base.endswith("-body-only")
    base = base.removesuffix("-body-only")
    if base not in ("raw", "blind"):
        raise DatasetError(f"unknown text mode {text_mode!r}")
    return base, body_only, pdf


def text_lengths(data: Dataset, text_mode: str, max_pages: int | None = None) -> dict[str, int]:
    """Characters of each paper's text in ``text_mode`` (papers that cannot be read are left
    out), cached by the dataset's contents and the blinding rules."""
    mode, body_only, pdf = split_text_mode(text_mode)
    if pdf != (data.source == "pdf"):
        raise DatasetError(f"{data.folder}: the run read {text_mode} texts, the dataset has {data.source} papers")
    path = _lengths_file(data, text_mode, max_pages)
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    load = paper_loader(mode, body_only=body_only, max_pages=max_pages)
    lengths = {}
    for paper in _progress(data.papers, f"measuring {data.name} {data.split} ({text_mode})"):
        try:
            lengths[paper.paper_id] = len(load(paper).text)
        except PaperInputError:
            continue
    atomic_write(path, json.dumps(lengths))
    return lengths


def lengths_known(data: Dataset, text_mode: str, max_pages: int | None = None) -> bool:
    """Whether ``text_lengths`` has these lengths on disk already."""
    return _lengths_file(data, text_mode, max_pages).is_file()


def _lengths_file(data: Dataset, text_mode: str, max_pages: int | None) -> Path:
    from corpus.blind import rules_fingerprint

    blind = split_text_mode(text_mode)[0] == "blind"
    key = json.dumps([data.fingerprint(), text_mode, max_pages, rules_fingerprint() if blind else ""])
    return cache_dir() / "lengths" / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.json"


def _progress(papers: list[DatasetPaper], description: str):
    from rich.console import Console
    from rich.progress import track

    return track(papers, description=description, console=Console(stderr=True), transient=True)


# ---- the lengths of a run's papers ------------------------------------------------------


@dataclass
class RunLengths:
    """What the length controls of a run are computed from."""

    text_mode: str
    #: paper_id -> characters, for the papers whose length is known.
    chars: dict[str, int] = field(default_factory=dict)
    lengths_from: str = "the records"
    #: The length baseline's threshold, chosen on the train split (None when there is none).
    train: dict | None = None
    notes: list[str] = field(default_factory=list)


def dataset_folder(manifest: RunManifest, data_dir: str | Path | None = None) -> Path | None:
    """The run's dataset folder: the manifest's path, else ``<data root>/<dataset name>``."""
    candidates = [Path(manifest.dataset.path)] if manifest.dataset.path else []
    try:
        candidates.append(data_root(data_dir) / manifest.dataset.name)
    except DatasetError:
        pass
    return next((path for path in candidates if path.is_dir()), None)


def run_lengths(
    manifest: RunManifest, records: list[PaperRecord], data_dir: str | Path | None = None
) -> RunLengths:
    """Each reviewed paper's length, from its record or else from the run's dataset, and the
    length baseline's threshold from the train split of that dataset. What cannot be found
    is said in ``notes``; it never stops a run from being scored."""
    text_mode = manifest.dataset.text_mode
    result = RunLengths(text_mode, {r.paper_id: r.text_chars for r in records if r.text_chars is not None})
    missing = [r.paper_id for r in records if r.ok and r.text_chars is None]
    folder = dataset_folder(manifest, data_dir)
    max_pages = manifest.config.get("max_pages")
    if missing and folder is None:
        result.notes.append(
            f"{len(missing)} papers have no recorded length and the dataset {manifest.dataset.name!r} was not "
            "found (pass --data-dir)"
        )
    elif missing:
        try:
            found = _recomputed(manifest, folder, max_pages)
        except (DatasetError, OSError) as exc:
            result.notes.append(f"lengths of {len(missing)} papers could not be recomputed: {exc}")
        else:
            result.chars.update({pid: found[pid] for pid in missing if pid in found})
            result.lengths_from = f"recomputed from {folder} ({text_mode})"
    if manifest.dataset.split == "train":
        result.notes.append("the run is on the train split: no held-out threshold for the length baseline")
    elif folder is None:
        result.notes.append("no dataset folder: the length baseline has no train-split threshold")
    else:
        try:
            result.train = train_threshold(folder, text_mode, max_pages)
        except (DatasetError, OSError) as exc:
            result.notes.append(f"no train-split threshold for the length baseline: {exc}")
    return result


def _recomputed(manifest: RunManifest, folder: Path, max_pages: int | None) -> dict[str, int]:
    data = load_folder(folder, manifest.dataset.split)
    if manifest.kind == "benchmark" and manifest.dataset.fingerprint not in (None, data.fingerprint()):
        raise DatasetError(f"{folder} changed since the run (its fingerprint differs)")
    return text_lengths(data, manifest.dataset.text_mode, max_pages)


def train_threshold(folder: Path, text_mode: str, max_pages: int | None = None) -> dict:
    """The length cut with the best balanced accuracy on the train split ("accept when the
    text has at least this many characters")."""
    train = load_folder(folder, "train")
    lengths = text_lengths(train, text_mode, max_pages)
    labelled = [p for p in train.papers if p.human.accepted is not None and p.paper_id in lengths]
    accepted = np.array([p.human.accepted for p in labelled], dtype=bool)
    if not accepted.any() or accepted.all():
        raise DatasetError(f"{folder}: the train split needs accepted and rejected papers")
    chars = np.array([lengths[p.paper_id] for p in labelled], dtype=float)
    threshold, balanced = best_threshold(accepted, chars)
    return {
        "threshold": threshold,
        "train_balanced_accuracy": balanced,
        "n": len(labelled),
        "source": f"train split of {train.name} ({len(labelled)} papers, {text_mode})",
    }


# ---- the length-matched subset ---------------------------------------------------------


def length_matched(papers: list[DatasetPaper], lengths: dict[str, int], *, pairs: int | None = None,
                   caliper: float = MATCH_CALIPER) -> tuple[list[DatasetPaper], SubsetInfo]:
    """Pairs of one accepted and one rejected paper of nearly the same length, so the two
    classes have the same length distribution. Each paper of the smaller class, in an order
    fixed by a hash of its id, takes the unpaired paper of the other class nearest in length
    (the lower hash on a tie), if within ``caliper`` of its own length. ``pairs`` keeps the first
    pairs only. Deterministic: the same split and text mode give the same subset."""
    known = [p for p in papers if p.human.accepted is not None and p.paper_id in lengths]
    accepted = [p for p in known if p.human.accepted]
    rejected = [p for p in known if not p.human.accepted]
    smaller, larger = sorted((accepted, rejected), key=len)
    pool = sorted((lengths[p.paper_id], _order(p.paper_id), p) for p in larger)
    matched: list[tuple[DatasetPaper, DatasetPaper]] = []
    for paper in sorted(smaller, key=lambda p: _order(p.paper_id)):
        if not pool:
            break
        length = lengths[paper.paper_id]
        at = bisect.bisect_left(pool, (length,))
        nearby = pool[max(at - 1, 0) : at + 1]
        nearest = min(nearby, key=lambda item: (abs(item[0] - length), item[1]))
        if abs(nearest[0] - length) <= caliper * length:
            matched.append((paper, nearest[2]))
            pool.remove(nearest)
    matched = matched[:pairs] if pairs is not None else matched
    chosen = [paper for pair in matched for paper in pair]
    is_accepted = np.array([bool(p.human.accepted) for p in chosen], dtype=bool)
    chars = np.array([lengths[p.paper_id] for p in chosen], dtype=float)
    auc = float(auc_score(is_accepted, chars)) if 0 < is_accepted.sum() < len(chosen) else None
    info = SubsetInfo(
        rule=LENGTH_MATCHED,
        description=f"{len(matched)} accepted/rejected pairs whose text lengths differ by at most "
        f"{caliper:.0%}, from {len(accepted)} accepted and {len(rejected)} rejected papers",
        paper_ids=[p.paper_id for p in chosen],
        length_auc=auc,
    )
    return chosen, info
