"""Blinding beyond the ICLR layout: the ICLR 2022 texts dressed as other venues' papers.

Accepted papers get the target template's camera-ready lines, rejected ones its submission
lines (``benchmarks.leakage.dress``); then the audit's independent detectors measure, on the
raw and the blinded texts, how often each template line survives per class, and how well the
removable cues alone predict the decision.

    python scripts/venue_blinding_check.py --data-dir ../shared/datasets --out /tmp/dressed
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from benchmarks.leakage.audit import audit_cues, collect_cues
from benchmarks.leakage.dress import dress_dataset
from corpus.dataset import load_benchmark, load_card, load_folder

LINES = ("submission_notice", "camera_ready_notice", "anonymous_placeholder")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--split", default="eval")
    parser.add_argument("--out", type=Path, required=True, help="where the dressed datasets are written")
    parser.add_argument("--venues", nargs="+", default=["neurips2025", "icml2025"])
    parser.add_argument("--json", type=Path, help="also write the table here")
    args = parser.parse_args()

    source = load_benchmark("iclr2022", args.split, args.data_dir)
    deadline = (load_card(source.folder) or {}).get("submission_deadline")
    rows = []
    for venue in args.venues:
        family, year = venue.rstrip("0123456789"), int(venue[-4:])
        folder = dress_dataset(source, family, year, args.out / venue, deadline=deadline)
        dataset = load_folder(folder, args.split)
        for mode in ("raw", "blind"):
            started = time.perf_counter()
            records, labels = collect_cues(dataset, mode)
            report = audit_cues(dataset, mode, records, labels)
            cues = {row.name: row for row in report.cues}
            rows.append({
                "venue": venue, "text": mode,
                **{f"{line} accepted": cues[line].accepted for line in LINES},
                **{f"{line} rejected": cues[line].rejected for line in LINES},
                "removable cues": report.cue_balanced_accuracy,
                "removable cues CI": report.cue_balanced_accuracy_ci,
                "length only": report.length_balanced_accuracy,
                "all cues": report.all_cues_balanced_accuracy,
                "top removable cues": report.top_cues[:3],
                "seconds": round(time.perf_counter() - started, 1),
            })
    _print(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


def _print(rows: list[dict]) -> None:
    header = ["venue", "text", *(f"{line} acc/rej" for line in LINES), "removable", "length", "all"]
    print(" | ".join(header))
    for row in rows:
        rates = [f"{row[f'{line} accepted']:.0%}/{row[f'{line} rejected']:.0%}" for line in LINES]
        low, high = row["removable cues CI"]
        print(" | ".join([row["venue"], row["text"], *rates,
                          f"{row['removable cues']:.3f} [{low:.3f}, {high:.3f}]",
                          f"{row['length only']:.3f}", f"{row['all cues']:.3f}"]))
        print(f"    most predictive removable cues: {row['top removable cues']}")


if __name__ == "__main__":
    main()
