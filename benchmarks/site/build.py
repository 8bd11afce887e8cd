"""Write the report site: the summary page, the table of papers and a page per paper.

Every page is static HTML that opens from ``file://``: the CSS and the script are files in
``assets/``, figures are embedded, and nothing is fetched from a network. Everything a model
or a dataset wrote is escaped by the templates (autoescape), so a review cannot inject markup.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from benchmarks.report import ScoredRun, text_mode_statement, write_report_files
from benchmarks.site.papers import PaperRow, paper_rows
from benchmarks.site.transcript_view import transcript_view
from benchmarks.store import read_transcript
from corpus.files import atomic_write
from reviewer.form import SCORE_FIELDS
from reviewer.models.pricing import add_costs, format_cost

HERE = Path(__file__).parent
#: Texts every paper of a run was sent (the few-shot examples, the form), one file each.
TEXTS = "texts"
LIST_FIELDS = ("Strengths", "Weaknesses", "Questions", "Limitations")


@dataclass
class SiteRun:
    number: int
    label: str
    model: str
    threshold: float
    description: str


def _environment() -> Environment:
    environment = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True,
                              undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    environment.filters["number"] = lambda value, digits=2: "–" if value is None else f"{value:.{digits}f}"
    environment.filters["usd"] = format_cost
    environment.filters["total_cost"] = lambda calls: add_costs(view.call.cost_usd for view in calls)
    environment.filters["thousands"] = lambda value: f"{value:,}"
    return environment


def _runs(summaries: list[ScoredRun]) -> list[SiteRun]:
    return [
        SiteRun(number, s.label, s.manifest.config.get("model", "?"), s.metrics["threshold"],
                f"{text_mode_statement(s.manifest)}; threshold {s.metrics['threshold']:g}; status {s.manifest.status}")
        for number, s in enumerate(summaries, start=1)
    ]


def _paper_page(row: PaperRow, summaries: list[ScoredRun], template, common: dict, out_dir: Path,
                neighbours: tuple[PaperRow | None, PaperRow | None]) -> None:
    transcripts, blocks = [], {}
    for number, (cell, summary) in enumerate(zip(row.cells, summaries), start=1):
        transcript = read_transcript(summary.run_dir, cell.record) if cell.record else None
        if transcript is None:
            transcripts.append(None)
            continue
        for block in transcript.blocks:
            blocks.setdefault(block.id, block)
        transcripts.append(transcript_view(transcript, f"r{number}"))
    for block in blocks.values():
        if block.shared and block.text is not None:
            path = out_dir / TEXTS / f"{block.id}.txt"
            if not path.exists():
                atomic_write(path, block.text)
    atomic_write(out_dir / "papers" / f"{row.slug}.html", template.render(
        **common, root="../", row=row, transcripts=transcripts,
        blocks=[b for b in blocks.values() if not b.shared], shared=[b for b in blocks.values() if b.shared],
        previous=neighbours[0], next=neighbours[1],
    ))


def write_site(summaries: list[ScoredRun], out_dir: str | Path) -> Path:
    """Write the runs' report (report.md, report.html, PNGs) and the site around it; returns
    index.html. ``summaries``: ``benchmarks.report.summarise`` of each run."""
    out_dir = Path(out_dir)
    report = write_report_files(summaries, out_dir)
    environment = _environment()
    rows = paper_rows(summaries)
    common = {"runs": _runs(summaries), "title": report.title, "score_fields": list(SCORE_FIELDS),
              "list_fields": LIST_FIELDS, "texts": TEXTS}
    shutil.copytree(HERE / "assets", out_dir / "assets", dirs_exist_ok=True)
    atomic_write(out_dir / "index.html", environment.get_template("index.html").render(
        **common, root="", body=report.body, n_papers=len(rows)))
    atomic_write(out_dir / "papers.html", environment.get_template("papers.html").render(**common, root="", rows=rows))
    template = environment.get_template("paper.html")
    for position, row in enumerate(rows):
        neighbours = (rows[position - 1] if position else None, rows[position + 1] if position + 1 < len(rows) else None)
        _paper_page(row, summaries, template, common, out_dir, neighbours)
    return out_dir / "index.html"
