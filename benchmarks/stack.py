"""Stacking: does an LLM run's scores plus the offline model's P(accept) beat each alone?

A small logistic model on [Overall, sub-scores, offline P(accept)] is fitted by stratified
cross-validation on the run's own papers, so every paper is scored out of fold. Each part
alone is scored the same way, and paired bootstrap intervals say whether the combination
beats it (balanced accuracy at P >= 0.5 with balanced class weights, and AUC)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydantic import BaseModel
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from benchmarks.metrics import is_accepted
from benchmarks.records import PaperRecord
from benchmarks.stats import auc_score, binary_metrics, point_and_interval

LLM_SCORES = ("Overall", "Originality", "Quality", "Clarity", "Significance", "Soundness", "Presentation", "Contribution")
FOLDS = 5
SEED = 0
PARTS = ("llm", "embedded", "combined")


class StackError(ValueError):
    """A run that cannot be stacked. One line, fit for stderr."""


class StackResult(BaseModel):
    n: int
    features: dict[str, list[str]]
    #: part -> {"balanced_accuracy": ..., "auc": ...}
    scores: dict[str, dict[str, float]]
    #: metric name -> [low, high] (95% percentile bootstrap), including combined-minus-part gaps.
    ci: dict[str, list[float] | None]
    beats: dict[str, dict[str, bool]]
    notes: list[str]


def llm_matrix(records: list[PaperRecord]) -> tuple[list[PaperRecord], np.ndarray]:
    """The reviewed, labelled records that carry every score, and those scores."""
    usable = [r for r in records if r.ok and r.review and is_accepted(r) is not None
              and all(isinstance(r.review.get(k), (int, float)) for k in LLM_SCORES)]
    return usable, np.array([[float(r.review[k]) for k in LLM_SCORES] for r in usable])


def _out_of_fold(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    model = make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced"))
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=SEED)
    return cross_val_predict(model, x, y, cv=folds, method="predict_proba")[:, 1]


def _scores(y: np.ndarray, *probabilities: np.ndarray) -> dict[str, np.ndarray]:
    out = {}
    for part, p in zip(PARTS, probabilities):
        out[f"{part}.balanced_accuracy"] = binary_metrics(y, p >= 0.5)["balanced_accuracy"]
        out[f"{part}.auc"] = auc_score(y, p)
    for part in PARTS[:2]:
        for metric in ("balanced_accuracy", "auc"):
            out[f"combined_minus_{part}.{metric}"] = out[f"combined.{metric}"] - out[f"{part}.{metric}"]
    return out


def stack(records: list[PaperRecord], p_embedded: dict[str, float], notes: list[str]) -> StackResult:
    usable, llm = llm_matrix(records)
    usable_ids = [r.paper_id for r in usable]
    keep = [i for i, pid in enumerate(usable_ids) if pid in p_embedded]
    y = np.array([is_accepted(usable[i]) for i in keep], dtype=bool)
    if len(keep) < 2 * FOLDS or y.all() or not y.any():
        raise StackError(f"stacking needs at least {2 * FOLDS} reviewed papers of both classes with scores")
    llm = llm[keep]
    emb = np.array([[p_embedded[usable_ids[i]]] for i in keep])
    parts = (_out_of_fold(llm, y), _out_of_fold(emb, y), _out_of_fold(np.hstack([llm, emb]), y))
    point, ci = point_and_interval(lambda y_, *p: _scores(y_, *p), y, *parts)
    scores = {part: {m: float(point[f"{part}.{m}"]) for m in ("balanced_accuracy", "auc")} for part in PARTS}
    beats = {
        part: {m: bool(ci[f"combined_minus_{part}.{m}"] and ci[f"combined_minus_{part}.{m}"][0] > 0)
               for m in ("balanced_accuracy", "auc")}
        for part in PARTS[:2]
    }
    gaps = {f"combined_minus_{p}": {m: float(point[f"combined_minus_{p}.{m}"]) for m in ("balanced_accuracy", "auc")}
            for p in PARTS[:2]}
    return StackResult(
        n=len(keep),
        features={"llm": list(LLM_SCORES), "embedded": ["p_accept"], "combined": [*LLM_SCORES, "p_accept"]},
        scores={**scores, **gaps},
        ci={k: [float(v) for v in val] if val else None for k, val in ci.items()},
        beats=beats,
        notes=[*notes, f"{FOLDS}-fold out-of-fold logistic models (balanced class weights) on the run's papers; "
               "'beats' means the paired bootstrap 95% interval of the gap lies above 0"],
    )


def write_stack(run_dir: Path, result: StackResult) -> Path:
    path = run_dir / "stack.json"
    path.write_text(result.model_dump_json(indent=2), encoding="utf-8")
    return path


def stack_notes(manifest) -> list[str]:
    """What the reader must know about where the run's scores came from."""
    notes = []
    if manifest.kind == "import":
        notes.append(f"LLM scores imported from published reviews ({manifest.dataset.path})")
    if manifest.dataset.text_mode.endswith("raw"):
        notes.append("the LLM reviews were made from raw text (accepted papers as camera-ready versions "
                     "with author names); the offline model reads blinded body-only text")
    return notes
