"""Length controls: the stratified AUC, the partial correlation and the length baseline on
hand-made data with answers worked out by hand, lengths recomputed for runs that did not
record them, and the length-matched subset."""

from __future__ import annotations

import numpy as np
import pytest
from fakes.runs import paper_record, write_run

from benchmarks.lengths import RunLengths, length_matched, run_lengths, text_lengths
from benchmarks.metrics import compute_metrics, metrics_for_run
from benchmarks.records import DatasetInfo, RunManifest
from benchmarks.stats import auc_score, paired_bootstrap, partial_pearson, stratified_auc
from corpus.blind import blind_text
from corpus.dataset import DatasetPaper, HumanLabel, load_benchmark, load_folder


def fifteen_papers():
    """Lengths 100..1500: five quintiles of three papers each ({100,200,300}, ...).
    Within each quintile (accepted scores vs rejected scores):
      1: A 5, A 3 | R 4      -> pairs (5>4) (3<4): 1 of 2
      2: A 6 | R 6, R 2      -> tie 1/2, (6>2) 1: 1.5 of 2
      3: A A A               -> no pairs
      4: R R R               -> no pairs
      5: A 1 | R 7, R 8      -> 0 of 2
    Pooled, each quintile weighted by its pairs: 2.5 / 6."""
    accepted = [1, 1, 0, 1, 0, 0, 1, 1, 1, 0, 0, 0, 1, 0, 0]
    score = [5, 3, 4, 6, 6, 2, 5, 5, 5, 5, 5, 5, 1, 7, 8]
    length = [100 * (i + 1) for i in range(15)]
    return np.array(accepted, dtype=bool), np.array(score, dtype=float), np.array(length, dtype=float)


def test_stratified_auc_by_hand():
    accepted, score, length = fifteen_papers()
    assert stratified_auc(accepted, score, length) == pytest.approx(2.5 / 6)


def naive_stratified_auc(accepted, score, length, strata=5):
    edges = np.quantile(length, np.arange(1, strata) / strata)
    bins = np.searchsorted(edges, length, side="right")
    right = pairs = 0.0
    for i in np.flatnonzero(accepted):
        for j in np.flatnonzero(~accepted):
            if bins[i] == bins[j]:
                pairs += 1
                right += 1.0 if score[i] > score[j] else 0.5 if score[i] == score[j] else 0.0
    return right / pairs


def test_stratified_auc_batched_rows_match_a_pairwise_count():
    rng = np.random.default_rng(3)
    accepted = rng.random((6, 40)) < 0.4
    score = rng.integers(1, 9, (6, 40)).astype(float)  # ties on purpose
    length = rng.integers(1000, 2000, (6, 40)).astype(float)
    batched = stratified_auc(accepted, score, length)
    for row in range(6):
        assert batched[row] == pytest.approx(naive_stratified_auc(accepted[row], score[row], length[row]))


def test_one_stratum_is_the_plain_auc():
    accepted, score, _ = fifteen_papers()
    assert stratified_auc(accepted, score, np.full(15, 7.0)) == pytest.approx(auc_score(accepted, score))


def test_partial_correlation_is_the_correlation_of_residuals():
    rng = np.random.default_rng(0)
    control = rng.normal(size=200)
    x = control + rng.normal(size=200)
    y = 2 * control + rng.normal(size=200)
    design = np.column_stack([np.ones(200), control])
    residual = lambda v: v - design @ np.linalg.lstsq(design, v, rcond=None)[0]
    expected = np.corrcoef(residual(x), residual(y))[0, 1]
    assert partial_pearson(x, y, control) == pytest.approx(expected)
    # x and y are related only through the control: the partial r is near zero, the plain r is not
    assert abs(expected) < 0.15 < np.corrcoef(x, y)[0, 1]


def auc_only(accepted, score):
    return {"auc": auc_score(accepted, score)}


def test_paired_bootstrap_of_identical_runs_is_zero():
    accepted, score, _ = fifteen_papers()
    result = paired_bootstrap(auc_only, (accepted, score), (accepted, score))["auc"]
    assert result["difference"] == 0.0 and result["ci"] == [0.0, 0.0] and result["p_value"] == 1.0


def test_paired_bootstrap_of_a_reversed_run():
    accepted, score, _ = fifteen_papers()
    result = paired_bootstrap(auc_only, (accepted, score), (accepted, -score))["auc"]
    auc = auc_score(accepted, score)
    assert result["a"] == pytest.approx(auc) and result["b"] == pytest.approx(1 - auc)
    assert result["difference"] == pytest.approx(2 * auc - 1)
    low, high = result["ci"]
    assert low <= result["difference"] <= high and 0 < result["p_value"] <= 1


def scored_run(papers=None):
    accepted, score, length = fifteen_papers()
    return [
        paper_record(f"p{i:02d}", float(s), bool(a), ratings=[float(s), float(i % 4 + 3)], text_chars=int(n))
        for i, (a, s, n) in enumerate(zip(accepted, score, length))
    ]


def test_length_controls_in_the_metrics():
    records = scored_run()
    train = {"threshold": 900.0, "source": "train split of test", "n": 10, "train_balanced_accuracy": 1.0}
    lengths = RunLengths("raw", {r.paper_id: r.text_chars for r in records}, train=train)
    metrics = compute_metrics(records, lengths=lengths)
    accepted, score, length = fifteen_papers()
    assert metrics["auc_length_stratified"] == pytest.approx(2.5 / 6)
    baseline = metrics["length_baseline"]
    assert baseline["auc"] == pytest.approx(auc_score(accepted, length))
    # length >= 900 accepts papers 9..15: 2 of the 7 accepted (TPR 2/7); 3 of the 8 rejected are
    # below it (TNR 3/8)
    assert baseline["balanced_accuracy"] == pytest.approx((2 / 7 + 3 / 8) / 2)
    assert baseline["threshold"] == 900.0 and baseline["threshold_source"] == "train split of test"
    human = (score + np.arange(15) % 4 + 3) / 2
    assert baseline["pearson"] == pytest.approx(np.corrcoef(length, human)[0, 1])
    assert metrics["pearson_partial_log_length"] == pytest.approx(partial_pearson(score, human, np.log(length)))
    for key in ("auc_length_stratified", "pearson_partial_log_length", "length_baseline.auc",
                "length_baseline.balanced_accuracy"):
        low, high = metrics["ci"][key]
        assert low < high
    assert metrics["length_controls"]["n"] == 15 and metrics["length_controls"]["n_missing"] == 0


def test_without_lengths_the_controls_are_empty_and_say_why():
    metrics = compute_metrics(scored_run(), lengths=RunLengths("raw", {}, notes=["no dataset"]))
    assert metrics["auc_length_stratified"] is None and metrics["length_baseline"]["auc"] is None
    assert metrics["length_controls"]["notes"] == ["no dataset"]
    assert metrics["auc"] is not None


# ---- lengths from a dataset ---------------------------------------------------------------


PAPER = """# A Study of Things

Alice Author, Bob Writer
University of Somewhere
alice@example.org

ABSTRACT

We study things{pad} and find that they matter.

1 INTRODUCTION

Things matter. See https://github.com/alice/things for code.
"""


def make_dataset(root, splits):
    (root / "texts").mkdir(parents=True)
    for split, papers in splits.items():
        rows = ["paper_id\t0\t1\tdecision"]
        for paper_id, pad, accepted in papers:
            rows.append(f"{paper_id}\t{7 if accepted else 3}\t6\t{'Accept (Poster)' if accepted else 'Reject'}")
            (root / "texts" / f"{paper_id}.txt").write_text(PAPER.format(pad=" very" * pad), encoding="utf-8")
        (root / f"ratings_{split}.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return root


def test_lengths_are_recomputed_from_the_dataset_in_the_runs_text_mode(tmp_path):
    folder = make_dataset(tmp_path / "venue", {
        "eval": [("e1", 5, True), ("e2", 1, False), ("e3", 9, True), ("e4", 2, False)],
        # in train, the accepted papers are exactly those with pad >= 6
        "train": [("t1", 8, True), ("t2", 1, False), ("t3", 6, True), ("t4", 3, False), ("t5", 2, False)],
    })
    data = load_folder(folder, "eval")
    records = [paper_record(p.paper_id, 5, p.human.accepted) for p in data.papers]
    for mode, expected in (("raw", lambda t: len(t)), ("blind", lambda t: len(blind_text(t)))):
        manifest = RunManifest(dataset=DatasetInfo(name="venue", split="eval", path=str(folder), text_mode=mode,
                                                   fingerprint=data.fingerprint()))
        lengths = run_lengths(manifest, records)
        texts = {p.paper_id: p.path.read_text(encoding="utf-8") for p in data.papers}
        assert lengths.chars == {pid: expected(text) for pid, text in texts.items()}
        assert lengths.lengths_from.startswith("recomputed from") and lengths.notes == []
        train = load_folder(folder, "train")
        cut = min(expected(p.path.read_text(encoding="utf-8")) for p in train.papers if p.human.accepted)
        assert lengths.train["threshold"] == cut and lengths.train["train_balanced_accuracy"] == 1.0
    assert len(blind_text(texts["e1"])) < len(texts["e1"])  # the two modes measure different texts


def test_recorded_lengths_need_no_dataset_and_missing_ones_are_reported(tmp_path):
    records = scored_run()
    manifest = RunManifest(dataset=DatasetInfo(name="nowhere", split="eval", path=str(tmp_path / "gone")))
    lengths = run_lengths(manifest, records)
    assert lengths.chars == {r.paper_id: r.text_chars for r in records}
    assert lengths.train is None and any("train-split threshold" in note for note in lengths.notes)
    records.append(paper_record("x", 5, True))
    lengths = run_lengths(manifest, records)
    assert "x" not in lengths.chars and any("1 papers have no recorded length" in n for n in lengths.notes)
    run = write_run(tmp_path / "run", records, dataset=manifest.dataset)
    metrics = metrics_for_run(run)
    assert metrics["length_controls"]["n_missing"] == 1 and metrics["auc_length_stratified"] is not None


def test_a_train_split_run_has_no_held_out_length_threshold(tmp_path):
    manifest = RunManifest(dataset=DatasetInfo(name="venue", split="train", path=str(tmp_path)))
    lengths = run_lengths(manifest, scored_run())
    assert lengths.train is None and any("train split" in note for note in lengths.notes)


# ---- the length-matched subset -----------------------------------------------------------


def labelled(paper_id, accepted):
    return DatasetPaper(paper_id, HumanLabel(accepted=accepted))


def test_length_matching_pairs_papers_of_nearly_equal_length():
    rng = np.random.default_rng(1)
    papers, lengths = [], {}
    for i in range(300):
        accepted = i % 3 == 0
        papers.append(labelled(f"p{i}", accepted))
        lengths[f"p{i}"] = int(rng.normal(80_000 if accepted else 60_000, 15_000))
    full_auc = auc_score(np.array([p.human.accepted for p in papers]), np.array([lengths[p.paper_id] for p in papers]))
    assert full_auc > 0.8
    chosen, info = length_matched(papers, lengths)
    assert abs(info.length_auc - 0.5) <= 0.03
    assert info.paper_ids == [p.paper_id for p in chosen] and info.rule == "length-matched"
    for first, second in zip(chosen[::2], chosen[1::2]):
        assert first.human.accepted != second.human.accepted
        assert abs(lengths[first.paper_id] - lengths[second.paper_id]) <= 0.05 * lengths[first.paper_id]
    again, _ = length_matched(list(reversed(papers)), lengths)
    assert again == chosen  # deterministic, whatever the input order
    first_pairs, small = length_matched(papers, lengths, pairs=10)
    assert first_pairs == chosen[:20] and len(small.paper_ids) == 20


def test_length_matched_iclr_eval(shared_datasets):
    data = load_benchmark("iclr2022", "eval", shared_datasets)
    chosen, info = length_matched(data.papers, text_lengths(data, "raw"))
    assert abs(info.length_auc - 0.5) <= 0.03
    assert len(chosen) == 2 * sum(p.human.accepted for p in chosen) >= 300


def test_run_length_matched_records_the_subset_and_each_papers_length(fake_llm, tmp_path):
    from fakes.reviews import scripted_reviewer
    from typer.testing import CliRunner

    from benchmarks.report import write_report
    from benchmarks.store import read_manifest, read_records
    from review_bench.cli import build_app

    # accepted papers run longer; three pairs are within 5% of each other, two papers have no match
    folder = make_dataset(tmp_path / "venue", {"eval": [
        ("a1", 100, True), ("a2", 200, True), ("a3", 300, True), ("a4", 900, True),
        ("r1", 101, False), ("r2", 198, False), ("r3", 305, False), ("r4", 10, False),
    ]})
    server = fake_llm(scripted_reviewer())
    run_dir = tmp_path / "run"
    args = ["run", "--dataset", str(folder), "--split", "eval", "--text", "raw", "--model",
            "openai/gpt-4o-2024-05-13", "--base-url", server.openai_base_url, "--run-dir", str(run_dir)]
    done = CliRunner().invoke(build_app(), [*args, "--length-matched"], catch_exceptions=False)
    assert done.exit_code == 0, done.output
    subset = read_manifest(run_dir).subset
    assert subset.rule == "length-matched" and sorted(subset.paper_ids) == ["a1", "a2", "a3", "r1", "r2", "r3"]
    assert "3 accepted/rejected pairs" in subset.description and abs(subset.length_auc - 0.5) <= 0.2
    records = read_records(run_dir)
    assert sorted(r.paper_id for r in records) == sorted(subset.paper_ids)
    texts = {p.paper_id: p.path.read_text(encoding="utf-8") for p in load_folder(folder, "eval").papers}
    assert all(r.text_chars == len(texts[r.paper_id]) for r in records)
    assert "length-matched subset: 3 accepted/rejected pairs" in done.output
    markdown = write_report([run_dir], tmp_path / "report")[0].read_text(encoding="utf-8")
    assert "| subset | length-matched: 6 papers, length-only AUC" in markdown
    assert "| AUC within length quintiles |" in markdown and "| length only: AUC |" in markdown

    refused = CliRunner().invoke(build_app(), args, catch_exceptions=False)  # the whole split is another run
    assert refused.exit_code == 2 and "a different subset" in refused.output
