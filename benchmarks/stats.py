"""The statistics every score uses: vectorised over a leading batch axis (bootstrap resamples),
so one call scores all resamples at once."""

from __future__ import annotations

import warnings

import numpy as np
from scipy.stats import rankdata

BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0


def binary_metrics(accepted: np.ndarray, predicted: np.ndarray) -> dict[str, np.ndarray]:
    tp = (accepted & predicted).sum(-1)
    fp = (~accepted & predicted).sum(-1)
    fn = (accepted & ~predicted).sum(-1)
    tn = (~accepted & ~predicted).sum(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        tpr = tp / (tp + fn)
        tnr = tn / (tn + fp)
        return {
            "accuracy": (tp + tn) / accepted.shape[-1],
            "balanced_accuracy": (tpr + tnr) / 2,
            "f1": np.where(tp > 0, 2 * tp / (2 * tp + fp + fn), 0.0),
            "fpr": fp / (fp + tn),
            "fnr": fn / (tp + fn),
        }


def auc_score(accepted: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Mann-Whitney AUC with ties counted as one half."""
    ranks = rankdata(score, axis=-1)
    positives = accepted.sum(-1)
    negatives = accepted.shape[-1] - positives
    with np.errstate(divide="ignore", invalid="ignore"):
        return ((ranks * accepted).sum(-1) - positives * (positives + 1) / 2) / (
            positives * negatives
        )


def pearson(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    xc = x - x.mean(-1, keepdims=True)
    yc = y - y.mean(-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (xc * yc).sum(-1) / np.sqrt((xc**2).sum(-1) * (yc**2).sum(-1))


def correlations(score: np.ndarray, human: np.ndarray) -> dict[str, np.ndarray]:
    return {
        "pearson": pearson(score, human),
        "spearman": pearson(rankdata(score, axis=-1), rankdata(human, axis=-1)),
    }


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float | None, float | None]:
    """Wilson score interval of a proportion (sound at 0 and n successes, unlike the bootstrap)."""
    if n == 0:
        return None, None
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def point_and_interval(
    metric, *columns: np.ndarray, seed: int = BOOTSTRAP_SEED, resamples: int = BOOTSTRAP_RESAMPLES
) -> tuple[dict, dict]:
    """The metric (a function of aligned columns returning a dict of arrays) on the papers,
    and a percentile bootstrap 95% interval over papers (resamples missing a class are skipped)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a metric of no papers is NaN
        point = {key: value[0] for key, value in metric(*(c[None] for c in columns)).items()}
    if len(columns[0]) == 0:
        return point, {key: None for key in point}
    rng = np.random.default_rng(seed)
    index = rng.integers(0, len(columns[0]), size=(resamples, len(columns[0])))
    samples = metric(*(c[index] for c in columns))
    intervals = {}
    for key, values in samples.items():
        values = values[np.isfinite(values)]
        intervals[key] = list(np.percentile(values, [2.5, 97.5])) if len(values) else None
    return point, intervals
