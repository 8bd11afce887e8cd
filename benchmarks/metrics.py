"""Scores of a run against the human decisions, recomputed from its records alone.

The positive class is "Accept". The threshold decision is ``Overall >= threshold``;
AUC and correlations use the continuous score (``overall_mean`` when the run has one).
Failed reviews are counted (``n_failed``, ``coverage``) and kept out of the headline
metrics; ``balanced_accuracy_failed_as_reject`` scores them as rejections instead.

Every score comes with length controls (ICLR 2022's accepted papers are longer): the
``length_baseline`` (a "reviewer" whose score is the character count of the text the run's
reviewer saw), ``auc_length_stratified`` and ``pearson_partial_log_length``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from benchmarks.lengths import RunLengths, run_lengths
from benchmarks.records import PaperRecord, RunManifest
from benchmarks.stats import (
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    auc_score,
    best_threshold,
    binary_metrics,
    correlations,
    partial_pearson,
    pearson,
    point_and_interval,
    stratified_auc,
)
from benchmarks.store import read_manifest, read_records
from corpus.dataset import HUMAN_ACCEPT_RATING

DEFAULT_THRESHOLD = 6.0
HUMAN_SEEDS = 20
LENGTH_STRATA = 5
LENGTH_RULE = (
    f"length baseline: a paper's score is the character count of the text the reviewer saw; "
    f"AUC within length quintiles: the run's AUC within {LENGTH_STRATA} equal-count length bins of the "
    "scored papers, pooled with each bin weighted by its accept x reject pairs; partial r: Pearson r "
    "of the score with the mean human rating, the linear effect of log length taken out of both"
)
FAILED_POLICY = (
    "failed reviews are excluded from accuracy, balanced_accuracy, f1, fpr, fnr, auc, "
    "pearson, spearman and own_decision (computed on reviewed papers with a human label); "
    "balanced_accuracy_failed_as_reject counts every failed paper as a Reject"
)


class MetricsError(ValueError):
    """A run that cannot be scored. The message is one line, fit for stderr."""


def load_run(run_dir: str | Path) -> tuple[RunManifest, list[PaperRecord]]:
    """The manifest and the latest record of each paper."""
    return read_manifest(run_dir), read_records(run_dir)


# ---- the run's papers as arrays ------------------------------------------------------------


def is_accepted(record: PaperRecord) -> bool | None:
    return record.human.accepted if record.human else None


def human_mean(record: PaperRecord) -> float | None:
    return record.human.mean_rating if record.human else None


def _reviewed_labelled(records: list[PaperRecord]) -> list[PaperRecord]:
    return [r for r in records if r.ok and r.overall is not None and is_accepted(r) is not None]


def _columns(records: list[PaperRecord]) -> dict[str, np.ndarray]:
    return {
        "accepted": np.array([is_accepted(r) for r in records], dtype=bool),
        "overall": np.array([r.overall for r in records], dtype=float),
        "score": np.array([r.score for r in records], dtype=float),
        "own_accept": np.array([r.own_decision == "Accept" for r in records], dtype=bool),
    }


def _human_agreement(labelled: list[PaperRecord]) -> dict:
    """One random reviewer against the mean of the others, averaged over seeds."""
    rated = [r for r in labelled if r.human and len(r.human.ratings) >= 2]
    if not rated:
        return {"n": 0, "pearson": None, "accuracy": None, "balanced_accuracy": None, "f1": None}
    width = max(len(r.human.ratings) for r in rated)
    ratings = np.full((len(rated), width), np.nan)
    for row, record in enumerate(rated):
        ratings[row, : len(record.human.ratings)] = record.human.ratings
    counts = np.array([len(r.human.ratings) for r in rated])
    accepted = np.array([is_accepted(r) for r in rated], dtype=bool)
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    picks = (rng.random((HUMAN_SEEDS, len(rated))) * counts).astype(int)
    one = np.take_along_axis(ratings[None].repeat(HUMAN_SEEDS, 0), picks[..., None], 2)[..., 0]
    others = (np.nansum(ratings, axis=1) - one) / (counts - 1)
    binary = binary_metrics(np.broadcast_to(accepted, one.shape), one >= HUMAN_ACCEPT_RATING)
    return {
        "n": len(rated),
        "seeds": HUMAN_SEEDS,
        "rule": f"one random reviewer's rating >= {HUMAN_ACCEPT_RATING} vs the decision; "
        "Pearson of that rating with the mean of the other reviewers (that rating informed "
        "the decision, so the agreement is optimistic)",
        "pearson": float(pearson(one, others).mean()),
        "accuracy": float(binary["accuracy"].mean()),
        "balanced_accuracy": float(binary["balanced_accuracy"].mean()),
        "f1": float(binary["f1"].mean()),
    }


def _clean(value):
    """numpy numbers to JSON: floats, with NaN as None."""
    if isinstance(value, dict):
        return {key: _clean(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(item) for item in value]
    if isinstance(value, (np.floating, float)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def _length_controls(reviewed: list[PaperRecord], lengths: RunLengths | None) -> tuple[dict, dict]:
    """The length baseline and the length-controlled scores, and their intervals."""
    known = [r for r in reviewed if lengths is not None and r.paper_id in lengths.chars]
    if not known:
        notes = lengths.notes if lengths is not None else ["no lengths given"]
        empty = {"auc": None, "auc_length_stratified": None, "pearson": None, "balanced_accuracy": None,
                 "threshold": None, "threshold_source": None}
        return {"length_baseline": empty, "auc_length_stratified": None, "pearson_partial_log_length": None,
                "length_controls": {"n": 0, "n_missing": len(reviewed), "rule": LENGTH_RULE, "notes": notes}}, {}
    accepted = np.array([is_accepted(r) for r in known], dtype=bool)
    score = np.array([r.score for r in known], dtype=float)
    chars = np.array([lengths.chars[r.paper_id] for r in known], dtype=float)
    rated = np.array([human_mean(r) is not None for r in known], dtype=bool)
    human = np.array([human_mean(r) for r in known if human_mean(r) is not None], dtype=float)
    # Length within length quintiles: what of the length signal the stratification leaves.
    baseline, baseline_ci = point_and_interval(
        lambda y, c: {"auc": auc_score(y, c), "auc_length_stratified": stratified_auc(y, c, c, LENGTH_STRATA)},
        accepted,
        chars,
    )
    pearson_point, pearson_ci = point_and_interval(
        lambda c, h: {"pearson": pearson(c, h)}, chars[rated], human
    )
    baseline.update(pearson_point)
    baseline_ci.update(pearson_ci)
    baseline.update(balanced_accuracy=None, threshold=None, threshold_source=None)
    if lengths.train is not None:
        balanced, balanced_ci = point_and_interval(
            lambda y, c: {"balanced_accuracy": binary_metrics(y, c >= lengths.train["threshold"])["balanced_accuracy"]},
            accepted,
            chars,
        )
        baseline.update(balanced, threshold=lengths.train["threshold"], threshold_source=lengths.train["source"])
        baseline_ci.update(balanced_ci)
    stratified, stratified_ci = point_and_interval(
        lambda y, s, c: {"auc_length_stratified": stratified_auc(y, s, c, LENGTH_STRATA)}, accepted, score, chars
    )
    partial, partial_ci = point_and_interval(
        lambda s, h, c: {"pearson_partial_log_length": partial_pearson(s, h, np.log(np.maximum(c, 1)))},
        score[rated],
        human,
        chars[rated],
    )
    controls = {
        "n": len(known),
        "n_missing": len(reviewed) - len(known),
        "text_mode": lengths.text_mode,
        "lengths_from": lengths.lengths_from,
        "strata": LENGTH_STRATA,
        "rule": LENGTH_RULE,
        "notes": lengths.notes,
    }
    metrics = {"length_baseline": baseline, **stratified, **partial, "length_controls": controls}
    ci = {**{f"length_baseline.{key}": value for key, value in baseline_ci.items()}, **stratified_ci, **partial_ci}
    return metrics, ci


def compute_metrics(
    records: list[PaperRecord],
    threshold: float | None = None,
    *,
    threshold_source: str | None = None,
    lengths: RunLengths | None = None,
) -> dict:
    """Every score of the run, with bootstrap intervals, baselines and length controls (see
    module doc); without ``lengths`` the length controls are left empty."""
    if threshold is None:
        threshold, threshold_source = DEFAULT_THRESHOLD, threshold_source or "default"
    labelled = [r for r in records if is_accepted(r) is not None]
    reviewed = _reviewed_labelled(records)
    cols = _columns(reviewed)
    by_threshold, ci = point_and_interval(
        binary_metrics, cols["accepted"], cols["overall"] >= threshold
    )
    own, own_ci = point_and_interval(binary_metrics, cols["accepted"], cols["own_accept"])
    auc, auc_ci = point_and_interval(
        lambda y, s: {"auc": auc_score(y, s)}, cols["accepted"], cols["score"]
    )
    rated = [r for r in reviewed if human_mean(r) is not None]
    corr, corr_ci = point_and_interval(
        correlations,
        np.array([r.score for r in rated], dtype=float),
        np.array([human_mean(r) for r in rated], dtype=float),
    )
    all_accepted = np.array([is_accepted(r) for r in labelled], dtype=bool)
    predicted_all = np.array(
        [r.ok and r.overall is not None and r.overall >= threshold for r in labelled], dtype=bool
    )
    length_metrics, length_ci = _length_controls(reviewed, lengths)
    n_failed = sum(not r.ok for r in records)
    reject_rate = float((~all_accepted).mean()) if len(labelled) else None
    return _clean(
        {
            "n": len(records),
            "n_failed": n_failed,
            "n_labelled": len(labelled),
            "n_scored": len(reviewed),
            "coverage": (len(records) - n_failed) / len(records) if records else None,
            "threshold": float(threshold),
            "threshold_source": threshold_source or "given",
            "failed_policy": FAILED_POLICY,
            **by_threshold,
            **auc,
            **corr,
            "balanced_accuracy_failed_as_reject": binary_metrics(all_accepted, predicted_all)[
                "balanced_accuracy"
            ]
            if len(labelled)
            else None,
            "own_decision": own,
            **length_metrics,
            "ci": {
                **length_ci,
                **ci,
                **auc_ci,
                **corr_ci,
                **{f"own_decision.{key}": value for key, value in own_ci.items()},
            },
            "bootstrap": {"resamples": BOOTSTRAP_RESAMPLES, "seed": BOOTSTRAP_SEED, "level": 0.95},
            "baselines": {
                "always_reject": {
                    "accuracy": reject_rate,
                    "balanced_accuracy": 0.5,
                    "f1": 0.0,
                },
                "human": _human_agreement(labelled),
            },
        }
    )


# ---- threshold calibration -------------------------------------------------------------


def calibrate_threshold(records: list[PaperRecord]) -> tuple[float, float]:
    """The Overall threshold with the best balanced accuracy on these records (the lowest
    one on a tie), and that balanced accuracy."""
    cols = _columns(_reviewed_labelled(records))
    if not cols["accepted"].any() or cols["accepted"].all():
        raise MetricsError("calibration needs reviewed papers of both classes (accept and reject)")
    return best_threshold(cols["accepted"], cols["overall"])


def _calibrated(records: list[PaperRecord], calibrate_on: Path) -> tuple[float, str, dict]:
    _, calibration_records = load_run(calibrate_on)
    overlap = {r.paper_id for r in records} & {r.paper_id for r in calibration_records}
    if overlap:
        raise MetricsError(
            f"refusing to calibrate on {calibrate_on}: {len(overlap)} of its papers are in the "
            "scored run (never tune the threshold on the papers being scored)"
        )
    threshold, balanced = calibrate_threshold(calibration_records)
    info = {"run": str(calibrate_on), "n": len(calibration_records), "balanced_accuracy": balanced}
    return threshold, f"calibrated on {calibrate_on}", info


def metrics_for_run(
    run_dir: str | Path,
    *,
    calibrate_on: str | Path | None = None,
    threshold: float | None = None,
    data_dir: str | Path | None = None,
    lengths: RunLengths | None = None,
) -> dict:
    """Metrics of a run folder; the threshold is given, calibrated, or the run's own. The
    lengths are the run's (``run_lengths``) unless given."""
    if calibrate_on is not None and threshold is not None:
        raise MetricsError("give either --threshold or --calibrate-on, not both")
    manifest, records = load_run(run_dir)
    calibration = None
    if calibrate_on is not None:
        threshold, source, calibration = _calibrated(records, Path(calibrate_on))
    elif threshold is not None:
        source = "given (--threshold)"
    elif manifest.config.get("threshold") is not None:
        threshold, source = float(manifest.config["threshold"]), "run config"
    else:
        source = "default"
    lengths = lengths or run_lengths(manifest, records, data_dir)
    metrics = compute_metrics(records, threshold, threshold_source=source, lengths=lengths)
    if calibration:
        metrics["calibration"] = calibration
    return metrics


def write_metrics(
    run_dir: str | Path,
    calibrate_on: str | Path | None = None,
    threshold: float | None = None,
    data_dir: str | Path | None = None,
) -> dict:
    """Compute the run's metrics and write them to ``<run_dir>/metrics.json``."""
    metrics = metrics_for_run(run_dir, calibrate_on=calibrate_on, threshold=threshold, data_dir=data_dir)
    (Path(run_dir) / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    return metrics
