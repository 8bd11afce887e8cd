"""``scientist score``: review every paper in a folder into a run record (manifest kind
"score") and summarise the scores; there are no labels, so no accuracy metrics."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from statistics import mean

from benchmarks.records import DatasetInfo, PaperRecord, RunManifest
from corpus.dataset import DatasetPaper, HumanLabel
from corpus.paper import TEXT_SUFFIXES, Paper, PaperInputError, load_paper
from reviewer.config import ReviewConfig
from reviewer.form import SCORE_FIELDS
from reviewer.models.pricing import add_costs, format_cost

PAPER_SUFFIXES = TEXT_SUFFIXES | {".pdf"}


def find_papers(source: Path) -> list[DatasetPaper]:
    files = [source] if source.is_file() else sorted(p for p in source.iterdir() if p.suffix.lower() in PAPER_SUFFIXES)
    if not files:
        raise PaperInputError(f"{source}: no papers (.pdf, .txt, .md, .tex) found")
    return [DatasetPaper(paper_id=p.stem, human=HumanLabel(), path=p) for p in files]


def load_item(item: DatasetPaper, max_pages: int | None = None) -> Paper:
    return load_paper(item.path, paper_id=item.paper_id, max_pages=max_pages)


def score_manifest(config: ReviewConfig, source: Path, n_papers: int) -> RunManifest:
    from review_bench import __version__

    return RunManifest(kind="score", name=f"score-{source.name}", config=config.model_dump(mode="json"),
                       config_hash=config.fingerprint(), package_version=__version__,
                       dataset=DatasetInfo(name=source.name, path=str(source.resolve()), n_papers=n_papers,
                                           text_mode="pdf" if source.suffix == ".pdf" or any(source.glob("*.pdf")) else "raw"))


def score_summary(records: list[PaperRecord]) -> dict:
    reviews = [r.review for r in records if r.ok and r.review]
    overall = [review["Overall"] for review in reviews]
    cost = add_costs(r.cost_usd for r in records)
    return {
        "papers": len(records),
        "reviewed": len(reviews),
        "failed": len(records) - len(reviews),
        "overall_distribution": dict(sorted(Counter(overall).items())),
        "overall_mean": round(mean(overall), 3) if overall else None,
        "sub_score_means": {f: round(mean(r[f] for r in reviews), 3) for f in SCORE_FIELDS if reviews},
        "decisions": dict(Counter(r.own_decision for r in records if r.ok)),
        "decisions_by_threshold": dict(Counter(r.decision_by_threshold for r in records if r.ok)),
        "cost_usd": None if cost is None else round(cost, 6),
    }


def write_score_report(run_dir: Path, records: list[PaperRecord]) -> dict:
    summary = score_summary(records)
    (run_dir / "score_summary.json").write_text(json.dumps(summary, indent=2))
    lines = [f"# Scores of {summary['reviewed']} of {summary['papers']} papers", "",
             "| paper | Overall | Decision | Soundness | Presentation | Contribution |", "|---|---|---|---|---|---|"]
    for record in records:
        review = record.review or {}
        cells = [record.paper_id, *(str(review.get(k, "failed")) for k in
                 ("Overall", "Decision", "Soundness", "Presentation", "Contribution"))]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"Overall distribution: {summary['overall_distribution']}; mean {summary['overall_mean']}",
              f"Decisions: {summary['decisions']}", f"Sub-score means: {summary['sub_score_means']}",
              f"Cost: {format_cost(summary['cost_usd'])}"]
    (run_dir / "report.md").write_text("\n".join(lines) + "\n")
    return summary
