"""Which papers go to eval and train, or into a sample: drawn with a fixed seed, stratified
by decision, so that each keeps the venue's mix of accepted tiers and rejections."""

from __future__ import annotations

import random
from collections import defaultdict

from benchmarks.openreview.records import Submission

#: Statuses that enter the splits; withdrawn and desk-rejected papers only when asked.
IN_SPLITS = ("accepted", "rejected")


def stratified_pick(submissions: list[Submission], count: int, seed: int) -> list[str]:
    """``count`` paper ids drawn with a fixed seed, each decision in proportion to its share
    (largest remainders first), so that eval and train, or a sample, keep the venue's mix."""
    by_decision: dict[str, list[str]] = defaultdict(list)
    for submission in submissions:
        by_decision[submission.benchmark_decision].append(submission.paper_id)
    total = len(submissions)
    quotas = {decision: count * len(ids) / total for decision, ids in by_decision.items()}
    taken = {decision: int(quota) for decision, quota in quotas.items()}
    for decision in sorted(quotas, key=lambda d: (-(quotas[d] - taken[d]), d))[: count - sum(taken.values())]:
        taken[decision] += 1
    picked = []
    for decision in sorted(by_decision):
        ids = sorted(by_decision[decision])
        random.Random(f"{seed}:{decision}").shuffle(ids)
        picked += ids[: taken[decision]]
    return picked


def assign_splits(chosen: list[Submission], options) -> dict[str, list[str]]:
    """eval and train (``options.eval_fraction`` of the papers to eval), in listing order."""
    pool = [s for s in chosen if s.status in IN_SPLITS or options.include_withdrawn]
    eval_ids = set(stratified_pick(pool, round(len(pool) * options.eval_fraction), options.seed))
    return {
        "eval": [s.paper_id for s in pool if s.paper_id in eval_ids],
        "train": [s.paper_id for s in pool if s.paper_id not in eval_ids],
    }
