"""End to end: a fake LLM plays every stage; the experiment runs in the sandbox, a real PDF
compiles, the reviewer scores it, and one feedback round changes the paper and its score."""

from __future__ import annotations

import asyncio
import json
import time

from scientist_fakes import IDEA, scientist_responder

from scientist.latex import require_tex
from scientist.loop import Scientist, ScientistSettings


def test_generation_loop_end_to_end(tmp_path, fake_llm, shared_datasets):
    require_tex()  # fails with an install hint when TeX Live is missing; CI installs it
    server = fake_llm(scientist_responder(review_overall=(3, 5)))
    out = tmp_path / "run"
    settings = ScientistSettings(
        template="diffusion_2d", out=out, model="openai/gpt-4o-2024-05-13",
        review_model="openai/gpt-4o-2024-05-13", base_url=server.openai_base_url,
        review_base_url=server.openai_base_url, data_dir=str(shared_datasets), literature="offline",
        rounds=2, target=6, coder="builtin", idea_reflections=2, novelty_rounds=3, max_runs=2,
        run_timeout_s=120,
    )
    started = time.monotonic()
    states = asyncio.run(Scientist(settings).run())
    elapsed = time.monotonic() - started

    (state,) = states
    idea_dir = out / IDEA["Name"]
    assert state.skipped is None and state.novel is True
    assert state.done == ["novelty", "experiments", "writeup", "review"]
    # Baseline and run 1 really ran in the sandbox; run 1 used the edited learning rate.
    report = json.loads((idea_dir / "experiments.json").read_text())
    assert [r["status"] for r in report["runs"]] == ["ok", "ok"]
    assert [i.mechanism for i in state.isolation] == ["bubblewrap"]
    assert "lr=1e-2" in (idea_dir / "run_1" / "experiment.py").read_text()
    assert "chamfer_distance" in report["runs"][1]["results"]["dino"]["means"]
    assert "## Run 1" in (idea_dir / "notes.txt").read_text()
    assert report["figures"] == ["generated_samples.png", "train_loss.png"]
    # A real PDF per round; the second round's paper has the revision and a better score.
    round0, round1 = state.rounds
    assert (round0.overall, round1.overall) == (3, 5)
    # The review asked for no new evidence, so the revision rewrote the paper without another run.
    assert round1.experiment_run is None and len(report["runs"]) == 2
    for record in state.rounds:
        assert open(record.pdf, "rb").read(4) == b"%PDF"
    assert "Limitations" not in (idea_dir / "rounds/round_0/paper.tex").read_text()
    assert "two small point sets only" in (idea_dir / "rounds/round_1/paper.tex").read_text()
    bib = (idea_dir / "latex" / "references.bib").read_text()
    assert "@article{" in bib
    table = (out / "scores.csv").read_text().splitlines()
    assert table[1].startswith("higher_lr,0,3,Reject") and table[2].startswith("higher_lr,1,5,Reject")
    archive = json.loads((out / "ideas.json").read_text())
    assert archive[-1]["scores"] == [3, 5]
    print(f"\nend to end {elapsed:.1f}s; stages {state.timings_s}")

    # Resuming does nothing more: every stage is recorded as done.
    calls = len(server.requests)
    asyncio.run(Scientist(settings).run())
    assert len(server.requests) == calls
