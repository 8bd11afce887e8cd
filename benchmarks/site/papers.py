"""The runs' papers side by side: one row a paper, one cell a run's result for it."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from benchmarks.records import PaperRecord
from benchmarks.report import ScoredRun
from corpus.dataset import HumanLabel, read_titles
from corpus.paper import HiddenText


@dataclass
class Cell:
    """One run's result for one paper (``record`` None: the run did not review it)."""

    record: PaperRecord | None
    #: Accept or Reject at the threshold the run is scored with (as in the summary table).
    decision: str | None

    @property
    def failed(self) -> bool:
        return self.record is not None and not self.record.ok

    @property
    def failure(self) -> str:
        failure = (self.record.failure or {}) if self.record else {}
        return f"{failure.get('kind', '')}: {failure.get('message', '')}" if failure else ""

    @property
    def hidden(self) -> HiddenText | None:
        """Text of the paper's PDF that a reader cannot see, which this run kept out of the prompt."""
        found = self.record.meta.get("hidden_text") if self.record else None
        return HiddenText.model_validate(found) if found else None


@dataclass
class PaperRow:
    paper_id: str
    title: str
    human: HumanLabel | None
    cells: list[Cell]
    #: The paper page's file name, without ``.html``.
    slug: str

    @property
    def accepted(self) -> bool | None:
        return self.human.accepted if self.human else None

    @property
    def disagree(self) -> bool:
        """The runs that reviewed the paper do not all decide alike."""
        return len({c.decision for c in self.cells if c.decision}) > 1

    @property
    def contradicts_human(self) -> bool:
        return self.accepted is not None and any(
            c.decision and (c.decision == "Accept") != self.accepted for c in self.cells)

    @property
    def failed(self) -> bool:
        return any(c.failed for c in self.cells)

    @property
    def hidden_count(self) -> int:
        return max((c.hidden.count for c in self.cells if c.hidden), default=0)


def paper_slug(paper_id: str) -> str:
    """A file name for the paper: its id where the id is a safe name, else a cleaned id and a hash."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", paper_id).strip(".-")[:80]
    if safe == paper_id:
        return safe
    return f"{safe}-{hashlib.sha256(paper_id.encode()).hexdigest()[:8]}"


def _decision(record: PaperRecord, threshold: float) -> str | None:
    if not record.ok or record.overall is None:
        return None
    return "Accept" if record.overall >= threshold else "Reject"


def _titles(summaries: list[ScoredRun]) -> dict[str, str]:
    titles: dict[str, str] = {}
    for summary in summaries:
        if summary.manifest.dataset.path:
            titles = read_titles(Path(summary.manifest.dataset.path)) | titles
    return titles


def paper_rows(summaries: list[ScoredRun]) -> list[PaperRow]:
    """Every paper of any run, in the order of first appearance."""
    by_run = [{r.paper_id: r for r in summary.records} for summary in summaries]
    ids = list(dict.fromkeys(paper_id for records in by_run for paper_id in records))
    titles = _titles(summaries)
    rows = []
    for paper_id in ids:
        records = [records.get(paper_id) for records in by_run]
        cells = [
            Cell(record, _decision(record, summary.metrics["threshold"]) if record else None)
            for record, summary in zip(records, summaries)
        ]
        human = next((r.human for r in records if r is not None and r.human is not None), None)
        rows.append(PaperRow(paper_id, titles.get(paper_id, ""), human, cells, paper_slug(paper_id)))
    return rows
