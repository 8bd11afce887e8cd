"""Two runs compared honestly: on the papers both scored, paired bootstrap differences of
their scores (the same resamples of the same papers for both), with 95% intervals and
p-values. Runs on different splits, text modes or subsets are not comparable this way."""

from __future__ import annotations

import numpy as np

from benchmarks.metrics import LENGTH_STRATA, human_mean, is_accepted
from benchmarks.report import ScoredRun
from benchmarks.stats import (
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    auc_score,
    binary_metrics,
    paired_bootstrap,
    pearson,
    stratified_auc,
)

METRICS = {
    "auc": "AUC (Overall)",
    "auc_length_stratified": "AUC within length quintiles",
    "balanced_accuracy": "balanced accuracy (each run's threshold)",
    "pearson": "Pearson r (mean human rating)",
}


def _subset(run: ScoredRun) -> str:
    subset = run.manifest.subset
    if subset is not None:
        return f"{subset.rule} ({len(subset.paper_ids)} papers)"
    return f"first {run.manifest.limit} papers" if run.manifest.limit else "all papers"


def incomparable(a: ScoredRun, b: ScoredRun) -> list[str]:
    """Why two runs' scores do not measure the same thing, if they do not."""
    checks = [
        ("split", f"{a.manifest.dataset.name} {a.manifest.dataset.split}", f"{b.manifest.dataset.name} {b.manifest.dataset.split}"),
        ("text mode", a.manifest.dataset.text_mode, b.manifest.dataset.text_mode),
        ("subset", _subset(a), _subset(b)),
    ]
    return [f"{what} ({first} vs {second})" for what, first, second in checks if first != second]


def _scored(run: ScoredRun) -> dict:
    return {
        r.paper_id: r for r in run.records
        if r.ok and r.overall is not None and is_accepted(r) is not None and human_mean(r) is not None
    }


def _paired_metrics(accepted, score, predicted, human, length) -> dict[str, np.ndarray]:
    return {
        "auc": auc_score(accepted, score),
        "auc_length_stratified": stratified_auc(accepted, score, length, LENGTH_STRATA),
        "balanced_accuracy": binary_metrics(accepted, predicted)["balanced_accuracy"],
        "pearson": pearson(score, human),
    }


def paired_comparison(a: ScoredRun, b: ScoredRun) -> dict:
    """A minus B on the papers both runs scored. Lengths (for the stratified AUC) are A's."""
    scored_a, scored_b = _scored(a), _scored(b)
    common = sorted(scored_a.keys() & scored_b.keys())
    notes = []
    disagree = [pid for pid in common if scored_a[pid].human.accepted != scored_b[pid].human.accepted]
    if disagree:
        notes.append(f"{len(disagree)} papers have different human decisions in the two runs; A's are used")
    chars = a.lengths.chars if a.lengths is not None else {}
    missing = [pid for pid in common if pid not in chars]
    if missing:
        notes.append(f"{len(missing)} of the common papers have no known length: no length-stratified AUC")
    accepted = np.array([scored_a[pid].human.accepted for pid in common], dtype=bool)
    human = np.array([human_mean(scored_a[pid]) for pid in common], dtype=float)
    length = np.array([chars.get(pid, np.nan) for pid in common], dtype=float)

    def columns(run: ScoredRun, scored: dict) -> tuple[np.ndarray, ...]:
        threshold = run.metrics["threshold"]
        score = np.array([scored[pid].score for pid in common], dtype=float)
        predicted = np.array([scored[pid].overall >= threshold for pid in common], dtype=bool)
        return accepted, score, predicted, human, length

    result = {"n_common": len(common), "n_a": len(scored_a), "n_b": len(scored_b),
              "thresholds": [a.metrics["threshold"], b.metrics["threshold"]],
              "bootstrap": {"resamples": BOOTSTRAP_RESAMPLES, "seed": BOOTSTRAP_SEED, "level": 0.95},
              "notes": notes, "metrics": {}}
    if len(common) and 0 < accepted.sum() < len(common):
        result["metrics"] = paired_bootstrap(_paired_metrics, columns(a, scored_a), columns(b, scored_b))
        if missing:
            result["metrics"].pop("auc_length_stratified")
    else:
        notes.append("the common papers do not have both accepted and rejected ones: nothing to compare")
    return result


def print_paired(a: ScoredRun, b: ScoredRun, result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"A = {a.label} ({a.run_dir}); B = {b.label} ({b.run_dir})", highlight=False)
    console.print(
        f"paired on the {result['n_common']} papers both runs scored with a human label (A scored "
        f"{result['n_a']}, B {result['n_b']}); percentile bootstrap over papers, "
        f"{result['bootstrap']['resamples']} resamples; p: two-sided, for no difference",
        highlight=False,
    )
    table = Table("metric", "A", "B", "A − B [95% interval]", "p", title="review-bench compare")
    for key, title in METRICS.items():
        entry = result["metrics"].get(key)
        if entry is None:
            continue
        low, high = entry["ci"] or (float("nan"), float("nan"))
        table.add_row(title, f"{entry['a']:.3f}", f"{entry['b']:.3f}",
                      f"{entry['difference']:+.3f} [{low:+.3f}, {high:+.3f}]", _p(entry["p_value"]))
    console.print(table)
    thresholds = result["thresholds"]
    console.print(f"balanced accuracy thresholds: A Overall >= {thresholds[0]:g}, B Overall >= {thresholds[1]:g}",
                  highlight=False)
    for note in result["notes"]:
        console.print(f"note: {note}", highlight=False)


def _p(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"
