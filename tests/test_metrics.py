"""Metrics on hand-made runs whose answers are worked out by hand."""

from __future__ import annotations

import json

import pytest
from fakes.runs import paper_record, write_run
from scipy.stats import pearsonr, spearmanr

from benchmarks.metrics import MetricsError, calibrate_threshold, compute_metrics, write_metrics


def five_papers():
    # Overall >= 6 predicts [A, A, R, A, R]; truth [A, A, A, R, R]:
    # TP 2, FN 1, FP 1, TN 1.
    return [
        paper_record("a", 8, True),
        paper_record("b", 7, True),
        paper_record("c", 5, True),
        paper_record("d", 6, False),
        paper_record("e", 3, False),
    ]


def test_binary_metrics_match_the_confusion_matrix():
    metrics = compute_metrics(five_papers())
    assert metrics["n"] == 5 and metrics["n_failed"] == 0 and metrics["coverage"] == 1.0
    assert metrics["threshold"] == 6.0 and metrics["threshold_source"] == "default"
    assert metrics["accuracy"] == pytest.approx(3 / 5)
    assert metrics["balanced_accuracy"] == pytest.approx((2 / 3 + 1 / 2) / 2)
    assert metrics["f1"] == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))
    assert metrics["fpr"] == pytest.approx(1 / 2)
    assert metrics["fnr"] == pytest.approx(1 / 3)


def test_auc_ranks_the_continuous_score():
    # positives 8, 7, 5 against negatives 6, 3: 5 of 6 pairs ordered right.
    assert compute_metrics(five_papers())["auc"] == pytest.approx(5 / 6)
    perfect = [paper_record(str(i), s, s >= 5) for i, s in enumerate([2, 3, 4, 5, 6, 9])]
    assert compute_metrics(perfect)["auc"] == 1.0


def test_auc_uses_the_ensemble_mean_not_the_binary_decision():
    # Same Overall everywhere (a decision-based AUC would be 0.5); the means rank perfectly.
    records = [
        paper_record("a", 6, True, overall_mean=6.4),
        paper_record("b", 6, True, overall_mean=6.2),
        paper_record("c", 6, False, overall_mean=5.6),
        paper_record("d", 6, False, overall_mean=5.8),
    ]
    assert compute_metrics(records)["auc"] == 1.0


def test_a_lower_threshold_changes_the_decision():
    metrics = compute_metrics(five_papers(), threshold=5)
    # predicts [A, A, A, A, R]: TP 3, FP 1, TN 1.
    assert metrics["balanced_accuracy"] == pytest.approx((1 + 1 / 2) / 2)
    assert metrics["threshold_source"] == "given"


def test_failed_papers_are_counted_not_dropped():
    records = [*five_papers(), paper_record("f", None, True)]
    metrics = compute_metrics(records)
    assert metrics["n"] == 6 and metrics["n_failed"] == 1
    assert metrics["coverage"] == pytest.approx(5 / 6)
    assert metrics["balanced_accuracy"] == pytest.approx((2 / 3 + 1 / 2) / 2)
    # failed paper as Reject: TP 2, FN 2, FP 1, TN 1.
    assert metrics["balanced_accuracy_failed_as_reject"] == pytest.approx((2 / 4 + 1 / 2) / 2)
    assert "failed" in metrics["failed_policy"]


def test_own_decision_is_scored_separately():
    records = [
        paper_record("a", 8, True, own="Reject"),
        paper_record("b", 7, True, own="Accept"),
        paper_record("c", 4, False, own="Reject"),
        paper_record("d", 6, False, own="Reject"),
    ]
    own = compute_metrics(records)["own_decision"]
    assert own["accuracy"] == pytest.approx(3 / 4)
    assert own["balanced_accuracy"] == pytest.approx((1 / 2 + 1) / 2)
    assert own["fpr"] == 0.0 and own["fnr"] == pytest.approx(1 / 2)


def test_correlations_with_the_mean_human_rating():
    overall = [3, 5, 4, 8, 6, 7]
    humans = [[2, 3], [5, 5], [6, 3], [8, 6], [4, 6], [8, 8]]
    records = [
        paper_record(str(i), o, sum(r) / 2 >= 5, ratings=r)
        for i, (o, r) in enumerate(zip(overall, humans))
    ]
    means = [sum(r) / 2 for r in humans]
    metrics = compute_metrics(records)
    assert metrics["pearson"] == pytest.approx(pearsonr(overall, means)[0])
    assert metrics["spearman"] == pytest.approx(spearmanr(overall, means)[0])


def test_bootstrap_intervals_bracket_the_estimate_and_repeat():
    records = [paper_record(str(i), 3 + i % 6, i % 3 == 0) for i in range(60)]
    first, second = compute_metrics(records), compute_metrics(records)
    assert first["ci"] == second["ci"]
    for key in ("accuracy", "balanced_accuracy", "auc", "pearson", "own_decision.accuracy"):
        low, high = first["ci"][key]
        point = first["own_decision"]["accuracy"] if key.startswith("own") else first[key]
        assert low <= point <= high and low < high


def test_baselines():
    records = [
        paper_record("a", 7, True, ratings=[8, 8, 8]),
        paper_record("b", 7, True, ratings=[6, 6]),
        paper_record("c", 5, False, ratings=[3, 3]),
        paper_record("d", 5, False, ratings=[1, 1, 1]),
        paper_record("e", 5, False, ratings=[5, 5]),
    ]
    baselines = compute_metrics(records)["baselines"]
    assert baselines["always_reject"] == {"accuracy": 3 / 5, "balanced_accuracy": 0.5, "f1": 0.0}
    # every reviewer agrees with the others and with the decision
    human = baselines["human"]
    assert human["n"] == 5
    assert human["pearson"] == pytest.approx(1.0)
    assert human["balanced_accuracy"] == 1.0 and human["accuracy"] == 1.0


def calibration_records(prefix: str):
    # Only Overall >= 7 separates the classes perfectly.
    overall = [3, 4, 5, 6, 6, 7, 8]
    accepted = [False, False, False, False, False, True, True]
    return [paper_record(f"{prefix}{i}", o, a) for i, (o, a) in enumerate(zip(overall, accepted))]


def test_calibration_picks_the_best_threshold():
    assert calibrate_threshold(calibration_records("t")) == (7.0, 1.0)


def test_write_metrics_applies_a_calibrated_threshold(tmp_path):
    train = write_run(tmp_path / "train", calibration_records("t"))
    scored = write_run(tmp_path / "eval", five_papers(), config={"threshold": 5})
    metrics = write_metrics(scored, calibrate_on=train)
    assert metrics["threshold"] == 7.0
    assert metrics["threshold_source"] == f"calibrated on {train}"
    assert metrics["calibration"]["balanced_accuracy"] == 1.0
    # with 7: predicts [A, A, R, R, R]: TP 2, FN 1, TN 2.
    assert metrics["balanced_accuracy"] == pytest.approx((2 / 3 + 1) / 2)
    assert json.loads((scored / "metrics.json").read_text()) == metrics


def test_threshold_comes_from_the_run_config(tmp_path):
    run = write_run(tmp_path / "run", five_papers(), config={"threshold": 5})
    metrics = write_metrics(run)
    assert (metrics["threshold"], metrics["threshold_source"]) == (5.0, "run config")
    assert write_metrics(run, threshold=8)["threshold_source"] == "given (--threshold)"


def test_calibration_refuses_overlapping_papers(tmp_path):
    train = write_run(tmp_path / "train", [*calibration_records("t"), paper_record("a", 6, True)])
    scored = write_run(tmp_path / "eval", five_papers())
    with pytest.raises(MetricsError, match="1 of its papers are in the scored run"):
        write_metrics(scored, calibrate_on=train)
    assert not (scored / "metrics.json").exists()
    with pytest.raises(MetricsError, match="either --threshold or --calibrate-on"):
        write_metrics(scored, calibrate_on=tmp_path / "other", threshold=6)


def test_no_labels_gives_empty_metrics_not_an_error():
    metrics = compute_metrics([paper_record("a", 6, None), paper_record("b", None, None)])
    assert metrics["n"] == 2 and metrics["n_failed"] == 1 and metrics["n_labelled"] == 0
    assert metrics["balanced_accuracy"] is None and metrics["auc"] is None
