"""Hand-made run folders (manifest.json + records.jsonl) for scoring and report tests."""

from __future__ import annotations

from pathlib import Path

from benchmarks.records import DatasetInfo, PaperRecord, RunManifest
from corpus.dataset import HumanLabel


def paper_record(
    paper_id: str,
    overall: float | None,
    accepted: bool | None,
    *,
    own: str | None = None,
    overall_mean: float | None = None,
    ratings: list[float] | None = None,
    text_chars: int | None = None,
) -> PaperRecord:
    """A reviewed paper (``overall`` given) or a failed one (``overall=None``)."""
    human = None
    if accepted is not None:
        ratings = ratings if ratings is not None else ([7.0, 6.0] if accepted else [3.0, 5.0])
        human = HumanLabel(
            ratings=ratings,
            mean_rating=sum(ratings) / len(ratings),
            decision="Accept (Poster)" if accepted else "Reject",
            accepted=accepted,
        )
    if overall is None:
        return PaperRecord(
            paper_id=paper_id, ok=False, human=human, failure={"kind": "parse", "message": "bad"},
            text_chars=text_chars,
        )
    return PaperRecord(
        paper_id=paper_id,
        ok=True,
        review={"Overall": overall},
        overall=overall,
        overall_mean=overall_mean,
        own_decision=own or ("Accept" if overall >= 6 else "Reject"),
        human=human,
        text_chars=text_chars,
    )


def write_run(
    run_dir: Path,
    records: list[PaperRecord],
    *,
    config: dict | None = None,
    name: str = "",
    dataset: DatasetInfo | None = None,
    **manifest_fields,
) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    manifest = RunManifest(
        name=name or run_dir.name,
        config=config or {},
        dataset=dataset or DatasetInfo(name="test", n_papers=len(records), text_mode="raw"),
        status="complete",
        **manifest_fields,
    )
    (run_dir / "manifest.json").write_text(manifest.model_dump_json(), encoding="utf-8")
    lines = "".join(record.model_dump_json() + "\n" for record in records)
    (run_dir / "records.jsonl").write_text(lines, encoding="utf-8")
    return run_dir
