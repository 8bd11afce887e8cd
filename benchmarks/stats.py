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


def best_threshold(accepted: np.ndarray, values: np.ndarray) -> tuple[float, float]:
    """The cut with the best balanced accuracy for "accept when value >= cut" (the lowest
    cut on a tie), and that balanced accuracy. Needs both classes."""
    candidates = np.unique(values)
    predicted = values[None, :] >= candidates[:, None]
    scores = binary_metrics(np.broadcast_to(accepted, predicted.shape), predicted)["balanced_accuracy"]
    best = int(np.nanargmax(scores))
    return float(candidates[best]), float(scores[best])


def strata_of(values: np.ndarray, strata: int) -> np.ndarray:
    """Each value's quantile bin (0 .. strata-1) among its row: equal-count bins, tied values
    in the same bin."""
    edges = np.moveaxis(np.quantile(values, np.arange(1, strata) / strata, axis=-1), 0, -1)
    return (values[..., None] >= edges[..., None, :]).sum(-1)


def stratified_auc(
    accepted: np.ndarray, score: np.ndarray, stratifier: np.ndarray, strata: int = 5
) -> np.ndarray:
    """AUC within quantile bins of ``stratifier``, pooled with each bin weighted by its
    accept x reject pairs: the share of same-bin (accepted, rejected) pairs that the score
    orders right, ties counting one half."""
    bins = strata_of(stratifier, strata)
    n = accepted.shape[-1]
    # Ranks of (bin, score): a paper's rank within its bin is its rank here minus the papers
    # of the bins below it.
    ranks = rankdata(bins * (n + 1) + rankdata(score, axis=-1), axis=-1)
    member = bins[..., None] == np.arange(strata)
    positives = (member & accepted[..., None]).sum(-2)
    negatives = (member & ~accepted[..., None]).sum(-2)
    sizes = positives + negatives
    below = np.take_along_axis(np.cumsum(sizes, -1) - sizes, bins, -1)
    concordant = ((ranks - below) * accepted).sum(-1) - (positives * (positives + 1) / 2).sum(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return concordant / (positives * negatives).sum(-1)


def partial_pearson(x: np.ndarray, y: np.ndarray, control: np.ndarray) -> np.ndarray:
    """Pearson r of x and y with the linear effect of ``control`` taken out of both."""
    xy, xc, yc = pearson(x, y), pearson(x, control), pearson(y, control)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (xy - xc * yc) / np.sqrt((1 - xc**2) * (1 - yc**2))


def paired_bootstrap(
    metric,
    a_columns: tuple[np.ndarray, ...],
    b_columns: tuple[np.ndarray, ...],
    *,
    seed: int = BOOTSTRAP_SEED,
    resamples: int = BOOTSTRAP_RESAMPLES,
) -> dict[str, dict]:
    """A minus B for each key of ``metric`` (a function of aligned columns returning a dict of
    arrays), both scored on the same resamples of the same papers: the difference, its
    percentile 95% interval, and a two-sided bootstrap p-value for "no difference"."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        point_a = metric(*(c[None] for c in a_columns))
        point_b = metric(*(c[None] for c in b_columns))
        rng = np.random.default_rng(seed)
        index = rng.integers(0, len(a_columns[0]), size=(resamples, len(a_columns[0])))
        samples_a = metric(*(c[index] for c in a_columns))
        samples_b = metric(*(c[index] for c in b_columns))
    result = {}
    for key in point_a:
        differences = samples_a[key] - samples_b[key]
        differences = differences[np.isfinite(differences)]
        entry = {"a": point_a[key][0], "b": point_b[key][0], "difference": point_a[key][0] - point_b[key][0],
                 "ci": None, "p_value": None, "resamples": len(differences)}
        if len(differences):
            entry["ci"] = list(np.percentile(differences, [2.5, 97.5]))
            tail = min((differences <= 0).sum(), (differences >= 0).sum())
            entry["p_value"] = min(1.0, 2 * (tail + 1) / (len(differences) + 1))
        result[key] = entry
    return result
