"""The experiments stage: the coder edits the experiment per the plan, every run executes
in the sandbox, failures go back to the coder, ``notes.txt`` records each run, plots last."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from scientist.coder import Coder
from scientist.ideas import IdeaWork
from scientist.llm import render
from scientist.sandbox import Sandbox, SandboxResult

DONE_MARK = "ALL_COMPLETED"
CoderFactory = Callable[[list[str]], Coder]


@dataclass
class RunRecord:
    run: int
    status: str
    attempts: int
    elapsed_s: float
    results: dict | None = None
    blocked: list[str] = field(default_factory=list)


@dataclass
class ExperimentReport:
    runs: list[RunRecord]
    figures: list[str]
    plot_status: str

    @property
    def successful_runs(self) -> list[RunRecord]:
        return [r for r in self.runs if r.results is not None]

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, path: Path) -> "ExperimentReport":
        data = json.loads(path.read_text())
        return cls([RunRecord(**run) for run in data["runs"]], data["figures"], data["plot_status"])


@dataclass(kw_only=True)
class ExperimentStage(IdeaWork):
    sandbox: Sandbox
    coder_for: CoderFactory
    max_runs: int = 5

    def _execute(self, run: int) -> tuple[SandboxResult, dict | None]:
        folder = self.idea_dir / f"run_{run}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        for source in self.idea_dir.glob("*.py"):
            shutil.copy(source, folder / source.name)
        result = self.sandbox.run(folder, ["experiment.py", "--out_dir", "."])
        if not result.ok:
            return result, None
        info = folder / "final_info.json"
        try:
            if not info.is_file():  # absent, or e.g. a FIFO that would block the read
                raise ValueError("no such file")
            return result, json.loads(info.read_text())
        except (OSError, ValueError) as exc:
            result.status, result.stderr = "error", f"{result.stderr}\nThe run wrote no readable final_info.json: {exc}"
            return result, None

    def _note(self, text: str) -> None:
        with (self.idea_dir / "notes.txt").open("a") as handle:
            handle.write(text.rstrip() + "\n\n")

    async def _run_with_fixes(self, run: int, coder: Coder) -> RunRecord:
        attempts, elapsed = 0, 0.0
        while True:
            attempts += 1
            result, results = self._execute(run)
            elapsed += result.elapsed_s
            self.log(f"run {run} attempt {attempts}: {result.status} ({result.elapsed_s:.1f}s)")
            if results is not None or attempts > self.max_fixes:
                break
            await coder.edit(render("experiment_fix", run=run, problem=result.explain()))
        return RunRecord(run, result.status, attempts, elapsed, results, result.blocked)

    async def run(self) -> ExperimentReport:
        self._note(f"# Title: {self.idea.Title}\n# Experiment description: {self.idea.Experiment}")
        baseline = await self._run_with_fixes(0, self.coder_for(["experiment.py"]))
        runs = [baseline]
        self._note(f"## Run 0: Baseline\nStatus: {baseline.status}\nResults: {json.dumps(baseline.results)}")
        coder = self.coder_for(["experiment.py"])
        reply = await coder.edit(render("experiment_plan", title=self.idea.Title, idea=self.idea.Experiment,
                                        max_runs=self.max_runs, baseline=json.dumps(baseline.results, indent=2)))
        for run in range(1, self.max_runs + 1):
            if DONE_MARK in reply.reply or (not reply.changed and run > 1):
                break
            record = await self._run_with_fixes(run, coder)
            runs.append(record)
            self._note(f"## Run {run}\nChange: {_first_lines(reply.reply)}\nStatus: {record.status}\n"
                       f"Results: {json.dumps(record.results)}")
            if run == self.max_runs:
                break
            reply = await coder.edit(render("experiment_next", run=run, next_run=run + 1, status=record.status,
                                            results=json.dumps(record.results, indent=2), done_mark=DONE_MARK))
        figures, plot_status = await self._plot()
        report = ExperimentReport(runs, figures, plot_status)
        report.save(self.idea_dir / "experiments.json")
        return report

    async def revision_run(self, request: str) -> RunRecord:
        """One more run after the plan's runs, asked for by a review: edit, run with fixes, re-plot."""
        path = self.idea_dir / "experiments.json"
        report = ExperimentReport.load(path)
        run = max(r.run for r in report.runs) + 1
        coder = self.coder_for(["experiment.py"])
        reply = await coder.edit(request)
        record = await self._run_with_fixes(run, coder)
        report.runs.append(record)
        self._note(f"## Run {run} (asked for by the review)\nChange: {_first_lines(reply.reply)}\n"
                   f"Status: {record.status}\nResults: {json.dumps(record.results)}")
        report.figures, report.plot_status = await self._run_plots(self.coder_for(["plot.py"]))
        report.save(path)
        return record

    async def _plot(self) -> tuple[list[str], str]:
        coder = self.coder_for(["plot.py"])
        await coder.edit(render("plot_request"))
        return await self._run_plots(coder)

    async def _run_plots(self, coder: Coder) -> tuple[list[str], str]:
        """plot.py over every run folder (visible read-only), in the sandbox, with fixes; writes ``figures/``."""
        folder = self.idea_dir / "figures"
        for attempt in range(self.max_fixes + 1):
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            shutil.copy(self.idea_dir / "plot.py", folder / "plot.py")
            result = self.sandbox.run(folder, ["plot.py", "--runs_dir", "..", "--out_dir", "."],
                                      readable=[self.idea_dir])
            self.log(f"plots attempt {attempt + 1}: {result.status}")
            if result.ok or attempt == self.max_fixes:
                break
            await coder.edit(render("plot_fix", problem=result.explain()))
        figures = sorted(p.name for p in folder.glob("*.png"))
        self._note("## Figures\n" + "\n".join(f"- {name}" for name in figures))
        return figures, result.status


def _first_lines(text: str, limit: int = 600) -> str:
    return " ".join(text.split())[:limit]
