"""How much of the decision can be read off the leakage cues alone.

The cues come from the audit's own detectors (``benchmarks.leakage.detectors``), not from the
blinder's rules. For each cue, its rate (or mean) among accepted and rejected papers and its
AUC on its own; then the cross-validated balanced accuracy of classifiers that see only cues:
the removable cues (what blinding removes; near chance on honest texts), length only
(characters, pages, body and appendix length: what blinding cannot remove without cutting
science), and all cues together.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel

from benchmarks.leakage.detectors import (
    FEATURES,
    REMOVABLE_FEATURES,
    SIZE_FEATURES,
    AuditContext,
    DetectorRecord,
    detect,
)
from benchmarks.stats import binary_metrics, point_and_interval
from corpus.dataset import Dataset, TextMode, paper_loader
from corpus.venue_rules import year_of

FOLDS = 5
#: How many cues the report names as the most predictive.
TOP_CUES = 6
CUE_SETS = {"removable cues": REMOVABLE_FEATURES, "length only": SIZE_FEATURES, "all cues": FEATURES}
EXPLANATION = (
    "removable cues: what blinding takes out (the done criterion, cue_balanced_accuracy); "
    "length only: characters, pages, body and appendix length, which blinding keeps "
    "(camera-ready versions are longer); all cues: both together"
)


class CueRow(BaseModel):
    name: str
    #: Share of papers with the cue (yes/no cues) or the mean (counts and sizes).
    accepted: float
    rejected: float
    is_rate: bool
    #: AUC of the cue alone for predicting Accept (0.5: no signal; far from 0.5 either way: leaks).
    auc: float


class ClassifierScore(BaseModel):
    cue_set: str
    classifier: str
    balanced_accuracy: float
    ci: tuple[float, float]


class AuditReport(BaseModel):
    dataset: str
    split: str | None
    text_mode: TextMode
    #: Blinded text cut at the references (what ``run --text blind --body-only`` shows).
    body_only: bool
    n_accepted: int
    n_rejected: int
    folds: int
    seed: int
    #: Best classifier on the removable cues (the conservative reading of what blinding left).
    cue_balanced_accuracy: float
    cue_balanced_accuracy_ci: tuple[float, float]
    #: Best classifier on length alone, and on all cues.
    length_balanced_accuracy: float
    length_balanced_accuracy_ci: tuple[float, float]
    all_cues_balanced_accuracy: float
    all_cues_balanced_accuracy_ci: tuple[float, float]
    #: The three side by side (removable, length only, all), and what they mean.
    summary: list[ClassifierScore]
    explanation: str
    classifiers: list[ClassifierScore]
    #: The removable cues the logistic model leans on most (standardised weight; > 0 means Accept).
    top_cues: list[tuple[str, float]]
    cues: list[CueRow]


def audit_context(dataset: Dataset) -> AuditContext:
    """The venue's year and submission deadline, from the dataset's card."""
    card = dataset.card or {}
    year = card.get("year") or year_of(card.get("venue"))
    return AuditContext(venue_year=int(year) if year else None, deadline=dataset.blinding.deadline)


def collect_cues(
    dataset: Dataset, mode: TextMode, *, body_only: bool = False, progress=None
) -> tuple[list[DetectorRecord], np.ndarray]:
    """The cue records of every labelled paper as the reviewer sees it, and the labels (1 = accepted)."""
    load = paper_loader(mode, body_only=body_only)
    context = audit_context(dataset)
    records, labels = [], []
    for item in dataset.papers:
        if item.human.accepted is not None:
            records.append(detect(load(item).text, context))
            labels.append(int(item.human.accepted))
        if progress is not None:
            progress()
    return records, np.array(labels)


def audit_cues(
    dataset: Dataset,
    mode: TextMode,
    records: list[DetectorRecord],
    labels: np.ndarray,
    *,
    body_only: bool = False,
    seed: int = 0,
) -> AuditReport:
    from sklearn.metrics import roc_auc_score
    from threadpoolctl import threadpool_limits

    if len(labels) == 0 or min(int(labels.sum()), int((labels == 0).sum())) < FOLDS:
        raise ValueError(f"the audit needs at least {FOLDS} accepted and {FOLDS} rejected papers")
    features = np.array([[record.as_dict()[name] for name in FEATURES] for record in records])
    rows = []
    for column, name in enumerate(FEATURES):
        values = features[:, column]
        rows.append(CueRow(
            name=name,
            accepted=float(values[labels == 1].mean()),
            rejected=float(values[labels == 0].mean()),
            is_rate=isinstance(getattr(records[0], name), bool),
            auc=0.5 if values.min() == values.max() else float(roc_auc_score(labels, values)),
        ))
    # One thread: the models are small, and OpenMP threads on a busy machine only wait on each other.
    with threadpool_limits(limits=1):
        scores = [
            _cross_validate(set_name, name, model, _columns(features, names), labels, seed)
            for set_name, names in CUE_SETS.items()
            for name, model in _classifiers(seed).items()
        ]
        top_cues = _top_cues(_columns(features, REMOVABLE_FEATURES), labels, seed)
    removable, length, both = (
        max((s for s in scores if s.cue_set == set_name), key=lambda s: s.balanced_accuracy)
        for set_name in CUE_SETS
    )
    return AuditReport(
        dataset=dataset.name,
        split=dataset.split,
        text_mode=mode,
        body_only=body_only,
        n_accepted=int(labels.sum()),
        n_rejected=int((labels == 0).sum()),
        folds=FOLDS,
        seed=seed,
        cue_balanced_accuracy=removable.balanced_accuracy,
        cue_balanced_accuracy_ci=removable.ci,
        length_balanced_accuracy=length.balanced_accuracy,
        length_balanced_accuracy_ci=length.ci,
        all_cues_balanced_accuracy=both.balanced_accuracy,
        all_cues_balanced_accuracy_ci=both.ci,
        summary=[removable, length, both],
        explanation=EXPLANATION,
        classifiers=scores,
        top_cues=top_cues,
        cues=rows,
    )


def _columns(features: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    return features[:, [FEATURES.index(name) for name in names]]


def _classifiers(seed: int) -> dict:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return {
        "logistic regression": make_pipeline(
            StandardScaler(), LogisticRegression(class_weight="balanced", max_iter=2000)
        ),
        "gradient boosting": HistGradientBoostingClassifier(
            max_depth=3, max_iter=100, learning_rate=0.05, class_weight="balanced", random_state=seed
        ),
    }


def _cross_validate(
    cue_set: str, name: str, model, features: np.ndarray, labels: np.ndarray, seed: int
) -> ClassifierScore:
    """Out-of-fold predictions (stratified k-fold); the interval bootstraps those predictions."""
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=seed)
    predicted = cross_val_predict(model, features, labels, cv=folds)
    point, interval = point_and_interval(_balanced_accuracy, labels == 1, predicted == 1, seed=seed)
    low, high = interval["balanced_accuracy"]
    return ClassifierScore(
        cue_set=cue_set,
        classifier=name,
        balanced_accuracy=round(float(point["balanced_accuracy"]), 4),
        ci=(round(float(low), 4), round(float(high), 4)),
    )


def _balanced_accuracy(accepted: np.ndarray, predicted: np.ndarray) -> dict[str, np.ndarray]:
    return {"balanced_accuracy": binary_metrics(accepted, predicted)["balanced_accuracy"]}


def _top_cues(features: np.ndarray, labels: np.ndarray, seed: int) -> list[tuple[str, float]]:
    model = _classifiers(seed)["logistic regression"].fit(features, labels)
    weights = model[-1].coef_[0]
    return [(REMOVABLE_FEATURES[i], round(float(weights[i]), 3)) for i in np.argsort(-np.abs(weights))[:TOP_CUES]]


def print_report(report: AuditReport) -> None:
    from rich.console import Console
    from rich.table import Table

    shown_text = f"{report.text_mode}{' body-only' if report.body_only else ''} text"
    table = Table(title=f"Leakage cues: {report.dataset} {report.split}, {shown_text} "
                        f"({report.n_accepted} accepted, {report.n_rejected} rejected)")
    table.add_column("cue")
    table.add_column("accepted", justify="right")
    table.add_column("rejected", justify="right")
    table.add_column("AUC alone", justify="right")
    for row in report.cues:
        shown = (lambda v: f"{v:.0%}") if row.is_rate else (lambda v: f"{v:.2f}")
        table.add_row(row.name, shown(row.accepted), shown(row.rejected), f"{row.auc:.2f}")
    console = Console()
    console.print(table)
    for score in report.classifiers:
        console.print(f"{score.cue_set}, {score.classifier}: balanced accuracy {score.balanced_accuracy:.3f} "
                      f"(95% CI {score.ci[0]:.3f}-{score.ci[1]:.3f})")
    summary = Table(title=f"Cue-only balanced accuracy (best classifier, {report.folds}-fold CV, seed {report.seed})")
    for column in ("", "removable cues", "length only", "all cues"):
        summary.add_column(column, justify="right")
    summary.add_row(shown_text, *(f"{s.balanced_accuracy:.3f} [{s.ci[0]:.3f}, {s.ci[1]:.3f}]" for s in report.summary))
    console.print(summary)
    console.print(report.explanation)
    low, high = report.cue_balanced_accuracy_ci
    console.print(f"[bold]cue_balanced_accuracy {report.cue_balanced_accuracy:.3f}[/bold] (95% CI {low:.3f}-{high:.3f})")
    console.print("most predictive removable cues: "
                  + ", ".join(f"{name} ({weight:+.2f})" for name, weight in report.top_cues))
