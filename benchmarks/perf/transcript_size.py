"""How much disk transcripts take: a benchmark run at the original configuration (few-shot 1,
ensemble 5, reflections 5) against the loopback fake LLM server of the tests, once with
transcripts and once with ``--no-transcript``.

The fake answers are as long as real ones (about 3.5k characters: a thought, then the review
JSON with several strengths, weaknesses and questions), made of sentences of the paper under
review so that they compress like English, and no reflection says "I am done" (every round
runs: the most calls a paper can take without repairs).

    python benchmarks/perf/transcript_size.py --limit 500 --data-dir ../shared/datasets

It prints the sizes of both run dirs, what the transcripts would take stored other ways, and
how long reading the records and one transcript takes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from fakes.llm_server import FakeLLMServer, SeenRequest
from fakes.reviews import answer, classify, review_dict

from benchmarks.store import RECORDS, read_records, read_transcript
from benchmarks.transcript_file import BLOCKS, TRANSCRIPTS

MODEL = "openai/gpt-4o-2024-05-13"
SENTENCE = re.compile(r"[A-Z][^.!?\n]{40,220}[.!?]")


def realistic_reviewer():
    """Answers of realistic length, from the sentences of the text each request carries."""

    def one(seen: SeenRequest, salt: int) -> str:
        # The longest message: the paper (drafts, reflections, repairs) or the members' reviews (meta).
        source = max((m["content"] for m in seen.messages if isinstance(m["content"], str)), key=len)
        sentences = SENTENCE.findall(source) or ["The method is evaluated on several benchmarks."]
        rng = random.Random(hashlib.sha256(f"{salt}{seen.all_text[-3000:]}".encode()).digest())

        def some(count: int) -> str:
            return " ".join(rng.choice(sentences) for _ in range(count))

        review = review_dict(
            rng.randint(3, 8),
            Summary=some(6),
            Strengths=[some(1) for _ in range(4)],
            Weaknesses=[some(2) for _ in range(5)],
            Questions=[some(1) for _ in range(4)],
            Limitations=[some(1) for _ in range(2)],
        )
        return answer(review, thought=some(10))

    def respond(seen: SeenRequest):
        if classify(seen) == "review":
            return [one(seen, i) for i in range(seen.n)]
        return one(seen, 0)

    return respond


def run(label: str, server: FakeLLMServer, run_dir: Path, args, extra: list[str]) -> float:
    command = [sys.executable, "-m", "review_bench", "run", "iclr2022", "--data-dir", str(args.data_dir),
               "--model", MODEL, "--base-url", server.openai_base_url, "--limit", str(args.limit),
               "--fewshot", "1", "--ensemble", "5", "--reflections", "5", "--no-cache",
               "--concurrency", "8", "--run-dir", str(run_dir), *extra]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    if done.returncode != 0:
        sys.exit(f"{label} run failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - started


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and p.name != ".lock")


def mb(size: int) -> str:
    return f"{size / 1e6:.2f} MB"


def alternatives(run_dir: Path) -> dict[str, int]:
    """Bytes the same transcripts would take stored other ways."""
    records = read_records(run_dir)
    transcripts = [read_transcript(run_dir, r) for r in records]
    pooled = [t.model_dump_json() for t in transcripts if t is not None]
    shared_out = [
        t.model_copy(update={"blocks": [b.model_copy(update={"text": None}) if b.shared else b
                                        for b in t.blocks]}).model_dump_json()
        for t in transcripts if t is not None
    ]
    flat = [
        json.dumps([{"step": c.step, "messages": [t.text(i) for i in c.input],
                     "answers": [t.text(a.message) for a in c.answers]} for c in t.calls])
        for t in transcripts if t is not None
    ]
    return {
        "every call's messages in full, uncompressed": sum(len(x.encode()) for x in flat),
        "pooled, shared blocks in every record, uncompressed": sum(len(x.encode()) for x in pooled),
        "pooled, shared blocks once per run, uncompressed": sum(len(x.encode()) for x in shared_out),
        "pooled, shared blocks once per run, gzip per record (stored)": (run_dir / TRANSCRIPTS).stat().st_size,
    }


def read_times(run_dir: Path) -> tuple[float, float]:
    started = time.perf_counter()
    records = read_records(run_dir)
    records_s = time.perf_counter() - started
    started = time.perf_counter()
    for record in records:
        read_transcript(run_dir, record)
    return records_s, (time.perf_counter() - started) / max(1, len(records))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=500)
    parser.add_argument("--data-dir", type=Path,
                        default=Path(os.environ.get("REVIEW_BENCH_DATA", ROOT.parent / "shared" / "datasets")))
    parser.add_argument("--keep", type=Path, help="Keep the two run dirs here (default: a temporary folder).")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="transcript-size-"))
    os.environ["REVIEW_BENCH_CACHE_DIR"] = str(work / "cache")
    with FakeLLMServer(responder=realistic_reviewer()) as server:
        with_s = run("with transcripts", server, work / "with", args, [])
        requests = len(server.requests)
        without_s = run("without transcripts", server, work / "without", args, ["--no-transcript"])
    with_dir, without_dir = work / "with", work / "without"
    answers = []
    for record in read_records(with_dir):
        transcript = read_transcript(with_dir, record)
        answers += [len(transcript.text(a.message)) for call in transcript.calls for a in call.answers]
    print(f"{args.limit} papers, few-shot 1, ensemble 5, reflections 5; {requests} requests answered; "
          f"answers {min(answers)}-{max(answers)} chars (mean {sum(answers) / len(answers):.0f})")
    print(f"run time: {with_s:.0f} s with transcripts, {without_s:.0f} s without\n")
    print("| run dir | records.jsonl | transcripts.jsonl.gz | blocks/ | total |")
    print("| --- | --- | --- | --- | --- |")
    for label, run_dir in (("with transcripts", with_dir), ("--no-transcript", without_dir)):
        transcripts = run_dir / TRANSCRIPTS
        blocks = run_dir / BLOCKS
        print(f"| {label} | {mb((run_dir / RECORDS).stat().st_size)} | "
              f"{mb(transcripts.stat().st_size) if transcripts.exists() else '-'} | "
              f"{mb(dir_size(blocks)) if blocks.exists() else '-'} | {mb(dir_size(run_dir))} |")
    print("\nThe transcripts stored other ways:\n")
    for label, size in alternatives(with_dir).items():
        print(f"- {label}: {mb(size)}")
    for label, run_dir in (("with transcripts", with_dir), ("--no-transcript", without_dir)):
        records_s, one_s = read_times(run_dir)
        print(f"\nreading {label}: records {records_s * 1000:.0f} ms"
              + (f", one transcript {one_s * 1000:.1f} ms on average" if label.startswith("with") else ""))
    print(f"\nrun dirs: {work}")


if __name__ == "__main__":
    main()
