"""Stacking an LLM run's scores with the offline model's probability."""

from __future__ import annotations

import numpy as np

from benchmarks.records import PaperRecord
from benchmarks.stack import LLM_SCORES, PARTS, stack, write_stack
from corpus.dataset import HumanLabel


def _records(n=80, seed=0):
    rng = np.random.default_rng(seed)
    accepted = rng.random(n) < 0.4
    records, p_embedded = [], {}
    for i, acc in enumerate(accepted):
        overall = int(np.clip(round(5 + 1.5 * acc + rng.normal(0, 1.5)), 1, 10))
        review = {k: int(np.clip(round(overall / 3 + rng.normal(0, 0.5)), 1, 4)) for k in LLM_SCORES}
        review["Overall"] = overall
        pid = f"p{i}"
        records.append(PaperRecord(paper_id=pid, ok=True, review=review, overall=overall,
                                   human=HumanLabel(accepted=bool(acc), decision="Accept" if acc else "Reject")))
        p_embedded[pid] = float(np.clip(0.4 + 0.2 * acc + rng.normal(0, 0.2), 0, 1))
    records.append(PaperRecord(paper_id="failed", ok=False, failure={"kind": "parse", "message": "x"}))
    return records, p_embedded


def test_stack_reports_each_part_and_the_gaps(tmp_path):
    records, p_embedded = _records()
    result = stack(records, p_embedded, ["a note"])
    assert result.n == 80  # the failed review is left out
    assert set(PARTS) <= set(result.scores)
    for part in PARTS:
        for metric in ("balanced_accuracy", "auc"):
            low, high = result.ci[f"{part}.{metric}"]
            assert low <= result.scores[part][metric] <= high
    gap = result.scores["combined_minus_llm"]["auc"]
    assert gap == result.scores["combined"]["auc"] - result.scores["llm"]["auc"]
    assert set(result.beats) == {"llm", "embedded"}
    assert result.features["combined"] == [*LLM_SCORES, "p_accept"]
    assert result.notes[0] == "a note"
    path = write_stack(tmp_path, result)
    assert '"beats"' in path.read_text()


def test_combining_two_informative_parts_beats_a_weak_one():
    records, p_embedded = _records(n=400, seed=1)
    # The offline part carries no signal here: the combination must beat it on AUC.
    noise = np.random.default_rng(2).random(len(p_embedded))
    result = stack(records, dict(zip(p_embedded, noise)), [])
    assert result.scores["embedded"]["auc"] < 0.6 < result.scores["combined"]["auc"]
    assert result.beats["embedded"]["auc"]
