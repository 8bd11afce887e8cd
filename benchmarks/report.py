"""Reports of one or more runs: a metrics table with 95% intervals and baselines, runs
side by side, and plots. Written as ``report.md`` (with PNG files beside it) and a
self-contained ``report.html`` (plots embedded as base64 PNG)."""

from __future__ import annotations

import base64
import html
import io
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.attack import attack_metrics
from benchmarks.lengths import RunLengths, run_lengths
from benchmarks.metrics import compute_metrics, human_mean, is_accepted, load_run, metrics_for_run
from benchmarks.probe import find_probe, probe_metrics, probe_summary, read_probe
from benchmarks.records import PaperRecord, RunManifest

TEXT_MODES = {
    "raw": "raw text: the texts as served, where accepted papers are camera-ready versions "
    "(author names, acknowledgements, links) and rejected ones anonymous submissions, so the "
    "text leaks the decision and these scores are optimistic",
    "blind": "blind text: author blocks, emails and links, venue headers, acknowledgements "
    "and later arXiv ids removed",
}
PDF_MODE = "read from the PDFs"
HUMAN_DECISIONS = ["Reject", "Accept (Poster)", "Accept (Spotlight)", "Accept (Oral)"]


@dataclass
class ScoredRun:
    run_dir: Path
    label: str
    manifest: RunManifest
    records: list[PaperRecord]
    metrics: dict
    lengths: RunLengths | None = None
    #: The contamination probe of the same model: its folder and scores.
    probe: tuple[Path, dict] | None = None


def summarise(run_dir: str | Path, data_dir: str | Path | None = None) -> ScoredRun:
    """A run with its metrics, recomputed from the records; the threshold (and where it
    came from, e.g. a calibration) is kept from ``metrics.json`` when there is one."""
    run_dir = Path(run_dir)
    manifest, records = load_run(run_dir)
    lengths = run_lengths(manifest, records, data_dir)
    saved_path = run_dir / "metrics.json"
    if saved_path.exists():
        saved = json.loads(saved_path.read_text(encoding="utf-8"))
        metrics = compute_metrics(
            records, saved["threshold"], threshold_source=saved["threshold_source"], lengths=lengths
        )
        metrics.update({k: v for k, v in saved.items() if k == "calibration"})
    else:
        metrics = metrics_for_run(run_dir, lengths=lengths)
    probe_dir = find_probe(run_dir, manifest)
    probe = (probe_dir, probe_metrics(read_probe(probe_dir)[1])) if probe_dir else None
    attack = attack_metrics(run_dir, manifest, records, metrics["threshold"])
    if attack:
        metrics["attack"] = attack
    return ScoredRun(run_dir, manifest.name or run_dir.name, manifest, records, metrics, lengths, probe)


# ---- the table ---------------------------------------------------------------------------


def _number(value) -> str:
    return "–" if value is None else f"{value:.2f}"


def _with_interval(metrics: dict, key: str) -> str:
    value = metrics
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    interval = metrics.get("ci", {}).get(key)
    if value is None or not interval:
        return _number(value)
    return f"{value:.2f} [{interval[0]:.2f}, {interval[1]:.2f}]"


def _subset(summary: ScoredRun) -> str:
    subset, limit = summary.manifest.subset, summary.manifest.limit
    if subset is not None:
        return f"{subset.rule}: {len(subset.paper_ids)} papers, length-only AUC {_number(subset.length_auc)}"
    return f"first {limit} papers" if limit else "all"


def _probe(summary: ScoredRun) -> str:
    if summary.probe is None:
        return "–"
    metrics = summary.probe[1]
    return (f"decision recall {_number(metrics['decision_recall'])} (chance "
            f"{_number(metrics['decision_recall_chance'])}); ROUGE-L {_number(metrics['rouge_l'])} "
            f"(other paper {_number(metrics['rouge_l_other_paper'])})")


def _cutoff(summary: ScoredRun) -> str:
    check = summary.manifest.training_cutoff
    if check is None:
        return "–"
    if check.predates_cutoff is None:
        return "unknown"
    verdict = "papers BEFORE the cutoff" if check.predates_cutoff else "papers after the cutoff"
    return f"{verdict} (papers {check.papers_public_since}, cutoff {check.model_cutoff})"


ROWS: list[tuple[str, object]] = [
    ("model", lambda s: s.manifest.config.get("model", "?")),
    ("training cutoff", _cutoff),
    ("text mode", lambda s: s.manifest.dataset.text_mode),
    ("subset", _subset),
    ("papers", lambda s: str(s.metrics["n"])),
    ("failed", lambda s: str(s.metrics["n_failed"])),
    ("coverage", lambda s: _number(s.metrics["coverage"])),
    ("threshold", lambda s: f"{s.metrics['threshold']:g} ({s.metrics['threshold_source']})"),
    ("balanced accuracy", "balanced_accuracy"),
    ("accuracy", "accuracy"),
    ("F1", "f1"),
    ("false positive rate", "fpr"),
    ("false negative rate", "fnr"),
    ("AUC (Overall)", "auc"),
    ("Pearson r (mean human rating)", "pearson"),
    ("Spearman ρ (mean human rating)", "spearman"),
    ("AUC within length quintiles", "auc_length_stratified"),
    ("partial r (human rating | log length)", "pearson_partial_log_length"),
    ("length only: AUC", "length_baseline.auc"),
    ("length only: AUC within length quintiles", "length_baseline.auc_length_stratified"),
    ("length only: balanced accuracy (train threshold)", "length_baseline.balanced_accuracy"),
    ("length only: Pearson r", "length_baseline.pearson"),
    ("own Decision: balanced accuracy", "own_decision.balanced_accuracy"),
    ("own Decision: accuracy", "own_decision.accuracy"),
    ("balanced accuracy, failed = Reject", "balanced_accuracy_failed_as_reject"),
    ("papers with hidden text kept out", lambda s: str(_papers_with(s, "hidden_text"))),
    ("papers with instructions to the reviewer", lambda s: str(_papers_with(s, "injection"))),
    ("accept-flip rate under attack", lambda s: _flip_rate(s.metrics.get("attack"))),
    ("contamination probe", _probe),
]


def _papers_with(summary: ScoredRun, finding: str) -> int:
    """Papers whose review recorded ``meta.hidden_text`` or ``meta.injection`` with a count."""
    return sum(bool((record.meta.get(finding) or {}).get("count")) for record in summary.records)


def _flip_rate(attack: dict | None) -> str:
    if not attack:
        return "–"
    counts = f"{attack['flips']}/{attack['n_rejected_unattacked']} {attack['kind']}"
    if attack["flip_rate"] is None:
        return f"– ({counts})"
    low, high = attack["flip_rate_ci"]
    return f"{attack['flip_rate']:.2f} [{low:.2f}, {high:.2f}] ({counts})"


BASELINE_CELLS = {
    "balanced accuracy": "balanced_accuracy",
    "accuracy": "accuracy",
    "F1": "f1",
    "Pearson r (mean human rating)": "pearson",
}


def comparison_table(summaries: list[ScoredRun]) -> tuple[list[str], list[list[str]]]:
    """Metrics as rows, runs side by side, then the baselines (on the first run's papers)."""
    baselines = summaries[0].metrics["baselines"]
    headers = ["metric", *(s.label for s in summaries), "always reject", "one human reviewer"]
    rows = []
    for title, cell in ROWS:
        row = [title]
        for summary in summaries:
            row.append(cell(summary) if callable(cell) else _with_interval(summary.metrics, cell))
        key = BASELINE_CELLS.get(title)
        row.append(_number(baselines["always_reject"].get(key)) if key else "")
        row.append(_number(baselines["human"].get(key)) if key else "")
        rows.append(row)
    return headers, rows


def _markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + " --- |" * len(headers)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _html_table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def print_comparison(summaries: list[ScoredRun]) -> None:
    from rich.console import Console
    from rich.table import Table

    headers, rows = comparison_table(summaries)
    # Run names are long: the terminal shows #1, #2, ... with a legend below.
    headers[1 : 1 + len(summaries)] = [f"#{i}" for i in range(1, len(summaries) + 1)]
    table = Table(*headers, title="review-bench: runs side by side (95% bootstrap intervals)")
    for row in rows:
        table.add_row(*row)
    console = Console()
    console.print(table)
    for number, summary in enumerate(summaries, start=1):
        console.print(
            f"#{number} {summary.label} ({summary.run_dir}): "
            + text_mode_statement(summary.manifest),
            highlight=False,
        )
        for note in _length_notes(summary):
            console.print(f"   {note}", highlight=False)


def _length_notes(summary: ScoredRun) -> list[str]:
    controls = summary.metrics.get("length_controls", {})
    notes = [f"length controls: {controls.get('n', 0)} papers, lengths from {controls.get('lengths_from', '–')}; "
             f"length baseline threshold: {summary.metrics['length_baseline'].get('threshold_source') or 'none'}"]
    return notes + [f"length controls: {note}" for note in controls.get("notes", [])]


# ---- plots -------------------------------------------------------------------------------


def _scored(records: list[PaperRecord]) -> list[PaperRecord]:
    return [r for r in records if r.ok and r.overall is not None and is_accepted(r) is not None]


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()


def _roc(axes, summary: ScoredRun, label: str) -> None:
    from sklearn.metrics import roc_curve

    scored = _scored(summary.records)
    accepted = [is_accepted(r) for r in scored]
    if len(set(accepted)) < 2:
        axes.text(0.5, 0.5, "needs both classes", ha="center")
        return
    fpr, tpr, _ = roc_curve(accepted, [r.score for r in scored])
    axes.plot(fpr, tpr, marker=".", label=f"{label} (AUC {summary.metrics['auc']:.2f})")


def _roc_axes(axes) -> None:
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
    axes.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC from Overall")
    if axes.get_legend_handles_labels()[0]:  # a run with one class only has no curve to name
        axes.legend(loc="lower right", fontsize=8)


def _confusion(axes, accepted: np.ndarray, overall: np.ndarray, threshold: float) -> None:
    predicted = overall >= threshold
    counts = np.array(
        [
            [(~accepted & ~predicted).sum(), (~accepted & predicted).sum()],
            [(accepted & ~predicted).sum(), (accepted & predicted).sum()],
        ]
    )
    axes.imshow(counts, cmap="Blues")
    for (row, col), count in np.ndenumerate(counts):
        colour = "white" if count > counts.max() / 2 else "black"
        axes.text(col, row, str(count), ha="center", va="center", fontsize=16, color=colour)
    axes.set_xticks([0, 1], ["Reject", "Accept"])
    axes.set_yticks([0, 1], ["Reject", "Accept"])
    axes.set(xlabel=f"model (Overall ≥ {threshold:g})", ylabel="conference")
    axes.set_title("confusion matrix")


def _decision_name(record: PaperRecord) -> str:
    return record.human.decision or ("Accept" if record.human.accepted else "Reject")


def _by_decision(axes, scored: list[PaperRecord], threshold: float, rng) -> None:
    """Box plot of Overall per conference decision, with the papers as jittered points."""
    known = {name: rank for rank, name in enumerate(HUMAN_DECISIONS)}
    groups = sorted({_decision_name(r) for r in scored}, key=lambda g: (known.get(g, 99), g))
    values = [np.array([r.overall for r in scored if _decision_name(r) == g]) for g in groups]
    axes.boxplot(values, showfliers=False)
    for position, group in enumerate(values, start=1):
        axes.scatter(
            position + rng.uniform(-0.18, 0.18, len(group)),
            group + rng.uniform(-0.15, 0.15, len(group)),
            s=6,
            alpha=0.35,
        )
    labels = [f"{g}\n(n={len(v)})" for g, v in zip(groups, values)]
    axes.set_xticks(range(1, len(groups) + 1), labels, fontsize=8)
    axes.axhline(threshold - 0.5, color="grey", linestyle=":", linewidth=1)
    axes.set(ylabel="model Overall (jittered)", title="Overall by conference decision")


def _against_rating(axes, scored: list[PaperRecord], pearson: float | None, rng) -> None:
    rated = [r for r in scored if human_mean(r) is not None]
    scores = np.array([r.score for r in rated], dtype=float)
    axes.scatter(
        [human_mean(r) for r in rated],
        scores + rng.uniform(-0.25, 0.25, len(scores)),
        c=["tab:green" if is_accepted(r) else "tab:red" for r in rated],
        s=8,
        alpha=0.5,
    )
    axes.set(
        xlabel="mean human rating",
        ylabel="model Overall (jittered)",
        title=f"Overall vs human rating (r = {_number(pearson)}; green = accepted)",
    )


def run_figure(summary: ScoredRun) -> bytes:
    """Confusion matrix, ROC, Overall by human decision, Overall against human rating."""
    from matplotlib.figure import Figure

    scored = _scored(summary.records)
    threshold = summary.metrics["threshold"]
    figure = Figure(figsize=(11, 9), layout="constrained")
    figure.suptitle(f"{summary.label} — {len(scored)} reviewed papers with a human decision")
    (confusion, roc), (by_decision, against_rating) = figure.subplots(2, 2)
    _confusion(
        confusion,
        np.array([is_accepted(r) for r in scored], dtype=bool),
        np.array([r.overall for r in scored], dtype=float),
        threshold,
    )
    _roc(roc, summary, "Overall")
    _roc_axes(roc)
    rng = np.random.default_rng(0)
    _by_decision(by_decision, scored, threshold, rng)
    _against_rating(against_rating, scored, summary.metrics["pearson"], rng)
    return _png(figure)


def roc_overlay(summaries: list[ScoredRun]) -> bytes:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 6), layout="constrained")
    axes = figure.subplots()
    for summary in summaries:
        _roc(axes, summary, summary.label)
    _roc_axes(axes)
    return _png(figure)


# ---- the report --------------------------------------------------------------------------


def text_mode_statement(manifest: RunManifest) -> str:
    mode = manifest.dataset.text_mode
    if mode.startswith("pdf-"):  # e.g. "pdf-raw": the PDFs' text, then raw or blind
        return f"{PDF_MODE}, {TEXT_MODES.get(mode[4:], mode)}"
    return TEXT_MODES.get(mode, f"text mode {mode!r}")


def _failures(summary: ScoredRun) -> str:
    kinds = Counter((r.failure or {}).get("kind", "unknown") for r in summary.records if not r.ok)
    if not kinds:
        return "no failed reviews"
    listed = ", ".join(f"{kind}: {count}" for kind, count in kinds.most_common())
    return f"{sum(kinds.values())} failed reviews ({listed})"


def _slug(label: str, index: int) -> str:
    return f"{index:02d}-" + re.sub(r"[^A-Za-z0-9_.-]+", "-", label)[:80]


def _notes(summaries: list[ScoredRun]) -> list[str]:
    first = summaries[0].metrics
    notes = [
        f"Decision rule: Accept when Overall ≥ threshold; AUC and correlations use Overall "
        f"(the ensemble's mean Overall where recorded). Intervals: percentile bootstrap over "
        f"papers, {first['bootstrap']['resamples']} resamples.",
        f"Failed reviews: {first['failed_policy']}.",
        f"Baselines are computed on the papers of {summaries[0].label}. One human reviewer: "
        f"{first['baselines']['human'].get('rule', '')}, averaged over "
        f"{first['baselines']['human'].get('seeds', 0)} seeds.",
    ]
    notes.append(f"Length controls: {first['length_controls']['rule']}.")
    for summary in summaries:
        notes.append(
            f"{summary.label} ({summary.run_dir}): {text_mode_statement(summary.manifest)}; "
            f"{_failures(summary)}; status {summary.manifest.status}."
        )
        notes += [f"{summary.label}: {note}" for note in _length_notes(summary)]
        if summary.manifest.subset is not None:
            notes.append(f"{summary.label}: {summary.manifest.subset.rule} subset, "
                         f"{summary.manifest.subset.description}.")
        if summary.manifest.training_cutoff is not None:
            notes.append(f"{summary.label}: {summary.manifest.training_cutoff.message}.")
        if summary.probe is not None:
            notes.append(f"{summary.label}: contamination probe {summary.probe[0]}: {probe_summary(summary.probe[1])}.")
    if any(summary.metrics.get("attack") for summary in summaries):
        notes.append(
            "Accept-flip rate under attack: of the attacked rejected papers that the reviewer rejects unattacked "
            "(<run dir>/unattacked), the share it accepts with the instruction added (visible text, or hidden "
            "text in a typeset PDF that the reader should remove); Wilson 95% interval."
        )
    return notes


@dataclass
class ReportFiles:
    markdown: Path
    html: Path
    title: str
    #: report.html's content (table, notes, embedded figures), for pages that show the report.
    body: str


def write_report(
    run_dirs: list[str | Path], out_dir: str | Path, data_dir: str | Path | None = None
) -> tuple[Path, Path]:
    """Write ``report.md`` (+ PNGs) and a self-contained ``report.html``; returns both paths."""
    files = write_report_files([summarise(run_dir, data_dir) for run_dir in run_dirs], out_dir)
    return files.markdown, files.html


def write_report_files(summaries: list[ScoredRun], out_dir: str | Path) -> ReportFiles:
    """The report of runs already summarised (see ``write_report``)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    images = [(s.label, _slug(s.label, i) + ".png", run_figure(s)) for i, s in enumerate(summaries)]
    if len(summaries) > 1:
        images.insert(0, ("ROC of all runs", "roc-all.png", roc_overlay(summaries)))
    for _, filename, data in images:
        (out_dir / filename).write_bytes(data)
    headers, rows = comparison_table(summaries)
    notes = _notes(summaries)
    title = "review-bench report: " + ", ".join(s.label for s in summaries)

    markdown = [f"# {title}", "", _markdown_table(headers, rows), ""]
    markdown += [f"- {note}" for note in notes] + [""]
    markdown += [f"## {label}\n\n![{label}]({filename})\n" for label, filename, _ in images]
    md_path = out_dir / "report.md"
    md_path.write_text("\n".join(markdown), encoding="utf-8")

    figures = "".join(
        f"<h2>{html.escape(label)}</h2><img alt='{html.escape(label)}' "
        f"src='data:image/png;base64,{base64.b64encode(data).decode()}'>"
        for label, _, data in images
    )
    items = "".join(f"<li>{html.escape(note)}</li>" for note in notes)
    body = f"{_html_table(headers, rows)}<ul>{items}</ul>{figures}"
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;margin:2em;max-width:1200px}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;"
        "text-align:left}th{background:#f3f3f3}img{max-width:100%}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>{body}"
        "</body></html>"
    )
    html_path = out_dir / "report.html"
    html_path.write_text(page, encoding="utf-8")
    return ReportFiles(md_path, html_path, title, body)
