"""Turn a published review CSV (one row per paper, the form's fields as columns) into a
run folder, so published runs are scored by exactly the code that scores ours."""

from __future__ import annotations

import ast
import csv
import hashlib
import re
from pathlib import Path

from pydantic import ValidationError

from benchmarks.records import DatasetInfo, PaperRecord, RunManifest
from benchmarks.store import RunStore
from benchmarks.lengths import text_lengths
from corpus.dataset import HumanLabel, load_benchmark
from review_bench import __version__
from reviewer.config import ReviewConfig
from reviewer.form import ReviewForm
from reviewer.models.registry import ModelStringError, canonical_name
from reviewer.parsing import validation_summary

LIST_FIELDS = ("Strengths", "Weaknesses", "Questions", "Limitations")
# e.g. gpt-4o-2024-05-13_temp_0_1_fewshot_1_reflect_5_ensemble_5_pages_all
CONFIG_NAME = re.compile(
    r"^(?P<model>.+?)_temp_(?P<temperature>\d+_\d+)"
    r"(?:_fewshot_(?P<fewshot>\d+))?(?:_reflect_(?P<reflections>\d+))?"
    r"(?:_ensemble_(?P<ensemble>\d+))?_pages_(?P<pages>all|\d+)$"
)


class ReplayError(ValueError):
    """A published run that cannot be imported. One line, fit for stderr."""


def config_from_name(stem: str) -> dict:
    """The review configuration encoded in a published file name, or {} if it has none."""
    match = CONFIG_NAME.match(stem)
    if not match:
        return {}
    parts = match.groupdict()
    try:
        model = canonical_name(parts["model"])
    except ModelStringError:  # a model we cannot place keeps its bare name
        model = parts["model"]
    return ReviewConfig(
        model=model,
        temperature=float(parts["temperature"].replace("_", ".")),
        fewshot=int(parts["fewshot"] or 0),
        reflections=int(parts["reflections"] or 1),
        ensemble=int(parts["ensemble"] or 1),
        max_pages=None if parts["pages"] == "all" else int(parts["pages"]),
    ).model_dump()


def _parse_row(row: dict) -> ReviewForm:
    """A CSV row as a validated form; list cells are Python literals like "['a', 'b']"."""
    fields = {key: value for key, value in row.items() if key != "paper_id"}
    for key in LIST_FIELDS:
        cell = fields.get(key)
        if isinstance(cell, str) and cell.lstrip().startswith("["):
            try:
                fields[key] = ast.literal_eval(cell)
            except (ValueError, SyntaxError) as error:
                raise ValueError(f"{key}: not a list literal ({error.__class__.__name__})")
    return ReviewForm.model_validate(fields)


def _reason(error: ValueError) -> str:
    if isinstance(error, ValidationError):
        return validation_summary(error, limit=len(error.errors()))
    return str(error)


def _record(row: dict, human: HumanLabel | None, threshold: float, source: str, text_chars: int | None) -> PaperRecord:
    paper_id = row["paper_id"]
    meta = {"source": source}
    try:
        form = _parse_row(row)
    except ValueError as error:  # pydantic's ValidationError included
        return PaperRecord(
            paper_id=paper_id,
            ok=False,
            human=human,
            failure={"kind": "parse", "message": _reason(error)},
            text_chars=text_chars,
            meta=meta,
        )
    return PaperRecord(
        paper_id=paper_id,
        ok=True,
        review=form.to_json_dict(),
        decision_by_threshold=form.decision_at(threshold),
        own_decision=form.Decision,
        overall=form.Overall,
        human=human,
        text_chars=text_chars,
        meta=meta,
    )


def import_run(
    csv_path: str | Path,
    name: str,
    out_dir: str | Path,
    data_dir: str | Path | None = None,
) -> Path:
    """Write ``manifest.json`` and ``records.jsonl`` for a published CSV; returns the folder."""
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise ReplayError(f"{csv_path}: no such file")
    # The published runs reviewed ICLR 2022's eval papers as served (raw text).
    data = load_benchmark("iclr2022", "eval", data_dir)
    labels = {paper.paper_id: paper.human for paper in data.papers}
    lengths = text_lengths(data, "raw")
    with csv_path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or "paper_id" not in rows[0]:
        raise ReplayError(f"{csv_path}: expected a CSV with a paper_id column and the form fields")
    config = config_from_name(csv_path.stem)
    threshold = config.get("threshold", ReviewConfig().threshold)
    records = [
        _record(row, labels.get(row["paper_id"]), threshold, csv_path.name, lengths.get(row["paper_id"]))
        for row in rows
    ]
    notes = [f"imported from {csv_path.name}"]
    if not config:
        notes.append("the file name does not encode a configuration")
    unlabelled = sum(r.human is None for r in records)
    if unlabelled:
        notes.append(f"{unlabelled} papers have no human label in ratings_eval.tsv")
    manifest = RunManifest(
        kind="import",
        name=name,
        config=config,
        config_hash=ReviewConfig(**config).fingerprint() if config else "",
        dataset=DatasetInfo(
            name="iclr2022",
            split="eval",
            path=str(data.folder.resolve()),
            # The CSV's hash: importing another CSV into this folder is another run.
            fingerprint=hashlib.sha256(csv_path.read_bytes()).hexdigest(),
            n_papers=len(records),
            text_mode="raw",
        ),
        package_version=__version__,
        notes=notes,
    )
    store = RunStore.open(out_dir, manifest)
    for record in records:
        store.append(record)
    store.finish("imported")
    return Path(out_dir)
