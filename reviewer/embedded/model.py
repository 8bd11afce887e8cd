"""The offline model: ridge regression of the mean human rating on TF-IDF + structure
features, a calibrated map from its output to the 1-10 rating and to P(accept), and a check
of how far a paper lies from every training paper.

It is trained on the papers its caller hands it (``TrainingSet``); it reads no dataset
itself. Features and hyper-parameters were chosen by cross-validation on the ICLR 2022 train
split only (``SELECTION.md`` beside this file, reproduced by ``scripts/embedded_select.py``)."""

from __future__ import annotations

import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timezone

import numpy as np
import sklearn
from pydantic import BaseModel, Field
from rich.progress import Progress
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.metrics import balanced_accuracy_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold

from corpus.dataset import HUMAN_ACCEPT_RATING
from reviewer.embedded.features import (
    FUNCTION_WORDS,
    PUNCTUATION,
    STRUCTURE_PATTERNS,
    STYLE_MEASURES,
    PaperFeatures,
    PreparedPaper,
    prepare,
)
from reviewer.errors import ConfigurationError

MODEL_VERSION = 3
RIDGE_ALPHA = 10.0
CV_FOLDS = 5
SEED = 0
#: Preparing a paper (blinding, normalising, counting) is most of the training time: two processes.
PREPARE_WORKERS = 2
RATING_RANGE = (1.0, 10.0)
#: A paper whose nearest train paper is less similar than this share of train papers' nearest
#: (other) train paper, or whose structure lies further out than this share of train papers',
#: is out of distribution.
OOD_QUANTILE = 0.01


class ModelError(ConfigurationError):
    """The offline model cannot be trained or loaded. One line, fit for stderr."""


@dataclass(frozen=True)
class TrainingPaper:
    paper_id: str
    title: str
    text: str
    mean_rating: float
    accepted: bool
    decision: str = ""


@dataclass(frozen=True)
class TrainingSet:
    """The papers to train on, the fingerprint of the data they came from, and where that is."""

    papers: list[TrainingPaper]
    fingerprint: str
    source: dict


class CVScores(BaseModel):
    folds: int
    auc: float
    #: P(accept) at or above which the decision is Accept: the best balanced accuracy out of fold.
    decision_threshold: float
    balanced_accuracy: float
    balanced_accuracy_overall_ge_6: float
    pearson: float


class Calibration(BaseModel):
    """rating = clip(intercept + slope * ridge output) to 1-10: the least-squares line of the
    human mean rating on the out-of-fold ridge outputs, so a predicted 6 means what a human 6
    means on average (the ridge output alone is shrunk toward the mean)."""

    intercept: float
    slope: float


class OutOfDistribution(BaseModel):
    #: Cosine similarity (body TF-IDF) to the nearest train paper below this is out of range.
    min_similarity: float
    #: Root mean square of the structure measures' z-scores (train mean and spread) above this
    #: is out of range.
    max_structure_distance: float


class ModelCard(BaseModel):
    model_version: int = MODEL_VERSION
    fingerprint: str
    data: dict
    text: str = ("corpus.blind.blind_text, split at the references into body and tail, blinding marks "
                 "dropped, markdown/PDF differences normalised (reviewer.embedded.normalise)")
    features: dict
    estimator: str
    calibration: Calibration
    out_of_distribution: OutOfDistribution
    cv: CVScores
    selection: str = "reviewer/embedded/SELECTION.md (scripts/embedded_select.py)"
    versions: dict = Field(default_factory=dict)
    train_seconds: float
    trained_at: str


@dataclass
class Neighbour:
    paper_id: str
    title: str
    decision: str
    similarity: float


@dataclass
class Prediction:
    rating: float
    p_accept: float
    accept: bool
    #: (feature, contribution to the rating), largest first; intercept left out.
    raised_by: list[tuple[str, float]]
    lowered_by: list[tuple[str, float]]
    neighbours: list[Neighbour]
    #: Far from every train paper: the numbers above are extrapolations.
    out_of_distribution: bool
    #: Why, in words (empty when in distribution).
    ood_reasons: list[str]


@dataclass
class EmbeddedModel:
    features: PaperFeatures
    ridge: Ridge
    platt: LogisticRegression
    #: The train papers, without their texts.
    papers: list[TrainingPaper]
    #: Body TF-IDF rows of the train papers (unit norm), for nearest neighbours.
    train_terms: object
    card: ModelCard

    def rating(self, raw: np.ndarray) -> np.ndarray:
        c = self.card.calibration
        return np.clip(c.intercept + c.slope * raw, *RATING_RANGE)

    def predict(self, texts: list[str], *, top: int = 5, neighbours: int = 6) -> list[Prediction]:
        prepared = [prepare(t) for t in texts]
        matrix = self.features.transform(prepared)
        ratings = self.rating(self.ridge.predict(matrix))
        probabilities = self.platt.predict_proba(ratings.reshape(-1, 1))[:, 1]
        similarities = (matrix[:, : self.features.n_body_terms] @ self.train_terms.T).toarray()
        names = self.features.names()
        coef = self.ridge.coef_ * self.card.calibration.slope
        results = []
        for row, paper, rating, p, sims in zip(matrix, prepared, ratings, probabilities, similarities):
            contributions = sorted(
                ((names[j], float(coef[j] * v)) for j, v in zip(row.indices, row.data)),
                key=lambda item: item[1],
            )
            reasons = self.ood_reasons(paper, float(sims.max()))
            results.append(Prediction(
                rating=float(rating),
                p_accept=float(p),
                accept=bool(p >= self.card.cv.decision_threshold),
                raised_by=[c for c in reversed(contributions[-top:]) if c[1] > 0],
                lowered_by=[c for c in contributions[:top] if c[1] < 0],
                neighbours=[
                    Neighbour(self.papers[i].paper_id, self.papers[i].title, self.papers[i].decision, float(sims[i]))
                    for i in np.argsort(-sims)[:neighbours]
                ],
                out_of_distribution=bool(reasons),
                ood_reasons=reasons,
            ))
        return results

    def ood_reasons(self, paper: PreparedPaper, nearest: float) -> list[str]:
        limits, reasons = self.card.out_of_distribution, []
        if nearest < limits.min_similarity:
            reasons.append(f"its nearest train paper has similarity {nearest:.2f}, below {limits.min_similarity:.2f} "
                           f"(the lowest {OOD_QUANTILE:.0%} of train papers' nearest neighbours)")
        distance = _structure_distance(self.features, paper.dense)
        if distance > limits.max_structure_distance:
            reasons.append(f"its structure and style measures lie {distance:.2f} standard deviations (root mean "
                           f"square) from the train papers' mean, beyond {limits.max_structure_distance:.2f} "
                           f"(the furthest {OOD_QUANTILE:.0%} of train papers)")
        return reasons


def _structure_distance(features: PaperFeatures, dense: np.ndarray) -> float:
    z = (dense - features.scaler.mean_) / features.scaler.scale_
    return float(np.sqrt(np.mean(z**2)))


def train(training: TrainingSet) -> EmbeddedModel:
    """Fit on every paper of ``training`` (after scoring the recipe by cross-validation)."""
    started = time.perf_counter()
    papers = training.papers
    if len(papers) < 2 * CV_FOLDS or len({p.accepted for p in papers}) < 2:
        raise ModelError(f"{training.source.get('path', 'the training data')}: need at least {2 * CV_FOLDS} "
                         "rated papers of both classes")
    prepared = []
    with Progress(transient=True) as progress, ProcessPoolExecutor(PREPARE_WORKERS) as pool:
        task = progress.add_task("Blinding and normalising train papers", total=len(papers))
        for paper in pool.map(prepare, [p.text for p in papers], chunksize=8):
            prepared.append(paper)
            progress.advance(task)
    accepted = np.array([p.accepted for p in papers])
    ratings = np.array([p.mean_rating for p in papers])

    oof = np.zeros(len(papers))
    for fit_idx, test_idx in StratifiedKFold(CV_FOLDS, shuffle=True, random_state=SEED).split(prepared, accepted):
        features = PaperFeatures()
        ridge = Ridge(alpha=RIDGE_ALPHA).fit(features.fit_transform([prepared[i] for i in fit_idx]), ratings[fit_idx])
        oof[test_idx] = ridge.predict(features.transform([prepared[i] for i in test_idx]))
    line = LinearRegression().fit(oof.reshape(-1, 1), ratings)
    calibration = Calibration(intercept=float(line.intercept_), slope=float(line.coef_[0]))
    oof_rating = np.clip(calibration.intercept + calibration.slope * oof, *RATING_RANGE)
    platt = LogisticRegression().fit(oof_rating.reshape(-1, 1), accepted)
    oof_p = platt.predict_proba(oof_rating.reshape(-1, 1))[:, 1]
    threshold = max(np.unique(oof_p), key=lambda t: balanced_accuracy_score(accepted, oof_p >= t))
    cv = CVScores(
        folds=CV_FOLDS,
        auc=float(roc_auc_score(accepted, oof_rating)),
        decision_threshold=float(threshold),
        balanced_accuracy=float(balanced_accuracy_score(accepted, oof_p >= threshold)),
        balanced_accuracy_overall_ge_6=float(
            balanced_accuracy_score(accepted, np.clip(np.rint(oof_rating), 1, 10) >= HUMAN_ACCEPT_RATING)
        ),
        pearson=float(np.corrcoef(oof_rating, ratings)[0, 1]),
    )

    features = PaperFeatures()
    matrix = features.fit_transform(prepared)
    ridge = Ridge(alpha=RIDGE_ALPHA).fit(matrix, ratings)
    terms = matrix[:, : features.n_body_terms]
    card = ModelCard(
        fingerprint=training.fingerprint,
        data={**training.source, "n_papers": len(papers), "n_accept": int(accepted.sum())},
        features={"body_terms": features.n_body_terms, "tail_terms": len(features.tail.vocabulary_),
                  "structure": list(STRUCTURE_PATTERNS), "punctuation": list(PUNCTUATION),
                  "function_words": list(FUNCTION_WORDS), "style": list(STYLE_MEASURES)},
        estimator=f"Ridge(alpha={RIDGE_ALPHA}) on the mean human rating; rating = calibrated line of the human "
        "rating on out-of-fold outputs, clipped to 1-10; P(accept) = logistic(rating) fitted out of fold",
        calibration=calibration,
        out_of_distribution=_ood_limits(features, terms, prepared),
        cv=cv,
        versions={"python": sys.version.split()[0], "sklearn": sklearn.__version__, "numpy": np.__version__},
        train_seconds=round(time.perf_counter() - started, 2),
        trained_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    return EmbeddedModel(features=features, ridge=ridge, platt=platt, papers=[replace(p, text="") for p in papers], train_terms=terms,
                         card=card)


def _ood_limits(features: PaperFeatures, terms, prepared: list[PreparedPaper]) -> OutOfDistribution:
    """Each train paper's similarity to its nearest other train paper, and its structure distance:
    the ``OOD_QUANTILE`` tails of those are the limits."""
    similarities = (terms @ terms.T).toarray()
    np.fill_diagonal(similarities, -1.0)
    distances = [_structure_distance(features, p.dense) for p in prepared]
    return OutOfDistribution(
        min_similarity=float(np.quantile(similarities.max(axis=1), OOD_QUANTILE)),
        max_structure_distance=float(np.quantile(distances, 1 - OOD_QUANTILE)),
    )
