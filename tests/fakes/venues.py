"""A small dataset folder as a user would bring it (``run --dataset``): ratings plus texts."""

from __future__ import annotations

from pathlib import Path


def tiny_venue(root: Path, n: int = 3) -> Path:
    """Papers v0..v{n-1}, one rating each, alternating Reject and Accept."""
    (root / "texts").mkdir(parents=True)
    rows = ["paper_id\t0\tdecision"]
    for i in range(n):
        rows.append(f"v{i}\t{4 + i}\t{'Accept' if i % 2 else 'Reject'}")
        (root / "texts" / f"v{i}.txt").write_text(f"# Paper v{i}\n\nWe study problem {i} with care.\n")
    (root / "ratings_v.tsv").write_text("\n".join(rows) + "\n")
    return root
