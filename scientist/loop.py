"""The generation loop: ideas -> experiments -> write-up -> review and revise, per idea,
resumable per stage (``state.json`` in each idea folder), with a table of scores."""

from __future__ import annotations

import csv
import json
import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from pydantic import BaseModel, Field

from corpus.paper import load_paper
from reviewer.build import build_reviewer
from reviewer.config import ReasoningEffort, ReviewConfig
from reviewer.models.pricing import Price, add_costs
from reviewer.models.registry import create_model
from reviewer.outcome import ReviewOutcome
from scientist.coder import Coder, CoderKind, describe_editor, make_coder
from scientist.experiments import ExperimentStage
from scientist.ideas import Archive, Idea, check_novelty, generate_idea
from scientist.literature import LiteratureMode, make_literature
from scientist.llm import render
from scientist.revision import ReviseExperiments, bullets, requested_experiment
from scientist.sandbox import Isolation, Sandbox, SandboxLimits
from scientist.templates import load_template
from scientist.writeup import WriteupStage

STAGES = ("novelty", "experiments", "writeup", "review")
Progress = Callable[[str, str], None]


@dataclass(frozen=True)
class ScientistSettings:
    template: str
    out: Path
    model: str
    review_model: str
    num_ideas: int = 1
    rounds: int = 1
    target: float = 6.0
    coder: CoderKind = "aider"
    base_url: str | None = None
    review_base_url: str | None = None
    data_dir: str | None = None
    literature: LiteratureMode = "auto"
    idea_reflections: int = 3
    novelty_rounds: int = 3
    check_novelty: bool = True
    max_runs: int = 5
    max_fixes: int = 4
    run_timeout_s: float = 600.0
    max_pages: int = 8
    use_cache: bool = True
    revise_experiments: ReviseExperiments = "auto"
    gpu: bool = False
    #: Run experiments and aider without the sandbox where bubblewrap cannot start (recorded in each idea's state).
    unsafe_no_sandbox: bool = False
    #: The writing model's price when the tables lack it, and its reasoning effort (None: its default).
    price: Price | None = None
    reasoning_effort: ReasoningEffort | None = None
    review_price: Price | None = None
    review_reasoning_effort: ReasoningEffort | None = None


class RoundRecord(BaseModel):
    round: int
    pdf: str | None
    overall: int | None = None
    decision: str | None = None
    review_cost_usd: float | None = 0.0
    weaknesses: list[str] = Field(default_factory=list)
    questions: list[str] = Field(default_factory=list)
    #: The experiment run made before this round's revision, when the previous review asked for one.
    experiment_run: int | None = None


class IdeaState(BaseModel):
    name: str
    done: list[str] = Field(default_factory=list)
    novel: bool | None = None
    queries: list[str] = Field(default_factory=list)
    rounds: list[RoundRecord] = Field(default_factory=list)
    timings_s: dict[str, float] = Field(default_factory=dict)
    skipped: str | None = None
    #: What held this idea's experiment runs and code edits (one entry per distinct sandbox, e.g. across resumes).
    isolation: list[Isolation] = Field(default_factory=list)
    #: The writing model's notes: who priced its calls, parameters it was asked for but not given.
    notes: list[str] = Field(default_factory=list)

    @classmethod
    def load(cls, folder: Path, name: str) -> "IdeaState":
        path = folder / "state.json"
        return cls.model_validate_json(path.read_text()) if path.exists() else cls(name=name)

    def save(self, folder: Path) -> None:
        (folder / "state.json").write_text(self.model_dump_json(indent=2))


@dataclass
class Scientist:
    settings: ScientistSettings
    progress: Progress = lambda idea, message: None
    review_costs: list[float | None] = field(default_factory=list)

    def __post_init__(self):
        s = self.settings
        self.template = load_template(s.template)
        self.review_config = ReviewConfig(model=s.review_model, base_url=s.review_base_url, price=s.review_price,
                                          reasoning_effort=s.review_reasoning_effort)
        self.model = create_model(s.model, base_url=s.base_url, use_cache=s.use_cache, price=s.price,
                                  reasoning_effort=s.reasoning_effort)
        self.literature = make_literature(s.literature, s.data_dir)
        self.sandbox = Sandbox(SandboxLimits(timeout_s=s.run_timeout_s), data_dir=s.data_dir, gpu=s.gpu,
                               unsafe_no_sandbox=s.unsafe_no_sandbox)
        #: What holds the experiments and the code editor; printed once and recorded in each idea's state.
        self.isolation = replace(self.sandbox.isolation, editor=describe_editor(s.coder, self.sandbox.sandboxed))
        s.out.mkdir(parents=True, exist_ok=True)
        self.archive = Archive(s.out / "ideas.json", self.template.seed_ideas)

    @property
    def cost_usd(self) -> float | None:
        """None (unknown) when a model's price is."""
        return add_costs((self.model.stats.cost_usd, *self.review_costs))

    def _coder_for(self, folder: Path):
        kind = self.settings.coder
        return lambda files: make_coder(kind, model=self.model, folder=folder, files=files, sandbox=self.sandbox)

    async def run(self) -> list[IdeaState]:
        plan_path = self.settings.out / "plan.json"
        names: list[str] = json.loads(plan_path.read_text()) if plan_path.exists() else []
        states = []
        for index in range(self.settings.num_ideas):
            if index >= len(names):
                self.progress(f"idea {index}", "generating the idea")
                idea = await generate_idea(self.model, self.template, self.archive,
                                           reflections=self.settings.idea_reflections)
                names.append(idea.Name)
                plan_path.write_text(json.dumps(names))
            states.append(await self.run_idea(self.archive.get(names[index]).idea))
            write_score_table(self.settings.out, states)
        await self.model.aclose()
        return states

    async def run_idea(self, idea: Idea) -> IdeaState:
        folder = self.settings.out / idea.Name
        if not folder.exists():
            shutil.copytree(self.template.path, folder, ignore=shutil.ignore_patterns("latex", "__pycache__"))
        state = IdeaState.load(folder, idea.Name)
        say = lambda message: self.progress(idea.Name, message)  # noqa: E731
        for stage in STAGES:
            if stage in state.done or state.skipped:
                continue
            say(stage)
            if self.isolation not in state.isolation:
                state.isolation.append(self.isolation)
                state.save(folder)
            started = time.monotonic()
            await getattr(self, f"_{stage}")(idea, folder, state, say)
            state.timings_s[stage] = round(state.timings_s.get(stage, 0.0) + time.monotonic() - started, 2)
            state.done.append(stage)
            state.notes += [note for note in self.model.notes if note not in state.notes]
            state.save(folder)
        say("finished" if not state.skipped else f"skipped: {state.skipped}")
        return state

    async def _novelty(self, idea: Idea, folder: Path, state: IdeaState, say) -> None:
        if not self.settings.check_novelty:
            return
        state.novel, state.queries = await check_novelty(self.model, idea, self.literature,
                                                         rounds=self.settings.novelty_rounds)
        self.archive.get(idea.Name).novel = state.novel
        self.archive.save()
        if not state.novel:
            state.skipped = "not novel"

    def _experiment_stage(self, idea: Idea, folder: Path, say) -> ExperimentStage:
        return ExperimentStage(idea_dir=folder, idea=idea, sandbox=self.sandbox, coder_for=self._coder_for(folder),
                               max_runs=self.settings.max_runs, max_fixes=self.settings.max_fixes, log=say)

    async def _experiments(self, idea: Idea, folder: Path, state: IdeaState, say) -> None:
        report = await self._experiment_stage(idea, folder, say).run()
        if not report.successful_runs:
            state.skipped = "no experiment run succeeded"

    def _writeup_stage(self, idea: Idea, folder: Path, say) -> WriteupStage:
        return WriteupStage(idea_dir=folder, idea=idea, model=self.model, literature=self.literature,
                            max_pages=self.settings.max_pages, max_fixes=self.settings.max_fixes, log=say)

    async def _writeup(self, idea: Idea, folder: Path, state: IdeaState, say) -> None:
        writer = self._writeup_stage(idea, folder, say)
        await writer.write(self.template.latex_dir)
        report = await writer.compile(self._coder_for(folder)(["latex/template.tex"]))
        if report.pdf is None:
            state.skipped = "the paper did not compile: " + "; ".join(report.errors[:3])

    async def _review(self, idea: Idea, folder: Path, state: IdeaState, say) -> None:
        s = self.settings
        reviewer = build_reviewer(self.review_config, data_dir=s.data_dir, use_cache=s.use_cache)
        writer = self._writeup_stage(idea, folder, say)
        coder = self._coder_for(folder)(["latex/template.tex"])
        try:
            while len(state.rounds) < s.rounds:
                number = len(state.rounds)
                extra_run = None
                if number > 0:
                    say(f"revising for round {number}")
                    extra_run = await self._revise(idea, folder, state, writer, coder, say)
                say(f"review round {number}")
                record = await self._review_round(reviewer, writer.tex, folder / "rounds" / f"round_{number}")
                record.experiment_run = extra_run
                state.rounds.append(record)
                self.archive.get(idea.Name).scores = [r.overall for r in state.rounds if r.overall is not None]
                self.archive.save()
                state.save(folder)
                if (state.rounds[-1].overall or 0) >= s.target:
                    break
        finally:
            await reviewer.aclose()

    async def _revise(self, idea: Idea, folder: Path, state: IdeaState, writer: WriteupStage, coder: Coder,
                      say) -> int | None:
        """Another experiment run where the last review asks for one, then the LaTeX revision; the run's number."""
        previous = state.rounds[-1]
        feedback = {"weaknesses": bullets(previous.weaknesses), "questions": bullets(previous.questions)}
        plan = await requested_experiment(self.model, self.template.system, notes=(folder / "notes.txt").read_text(),
                                          mode=self.settings.revise_experiments, **feedback)
        record = None
        if plan is not None:
            say("running the experiment the review asked for")
            record = await self._experiment_stage(idea, folder, say).revision_run(
                render("experiment_revision", plan=plan, **feedback))
            writer.copy_figures()
        new_run = (f"Run {record.run} was made for this review (status {record.status}); report its results."
                   if record else "No new experiment was run for this review.")
        await coder.edit(render("revision", new_run=new_run, notes=(folder / "notes.txt").read_text(), **feedback))
        await writer.compile(coder)
        return record.run if record else None

    async def _review_round(self, reviewer, tex: Path, round_dir: Path) -> RoundRecord:
        round_dir.mkdir(parents=True, exist_ok=True)
        number = int(round_dir.name.split("_")[1])
        pdf = tex.with_suffix(".pdf")
        if not pdf.exists():
            return RoundRecord(round=number, pdf=None)
        kept = round_dir / "paper.pdf"
        shutil.copy(pdf, kept)
        shutil.copy(tex, round_dir / "paper.tex")
        outcome: ReviewOutcome = await reviewer.review(load_paper(kept, paper_id=tex.parents[1].name))
        (round_dir / "review.json").write_text(json.dumps(outcome.to_json_dict(), indent=2))
        self.review_costs.append(outcome.meta.cost_usd)
        review = outcome.review
        return RoundRecord(round=number, pdf=str(kept), overall=review.Overall if review else None,
                           decision=review.Decision if review else None, review_cost_usd=outcome.meta.cost_usd,
                           weaknesses=review.Weaknesses if review else [],
                           questions=review.Questions if review else [])


def write_score_table(out: Path, states: list[IdeaState]) -> None:
    """``scores.csv`` and ``scores.md``: one row per idea per review round."""
    header = ["idea", "round", "overall", "decision", "pdf"]
    rows = [[s.name, r.round, r.overall, r.decision, r.pdf] for s in states for r in s.rounds]
    rows += [[s.name, "", "", f"skipped: {s.skipped}", ""] for s in states if s.skipped]
    with (out / "scores.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows([header, *rows])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in rows]
    (out / "scores.md").write_text("\n".join(lines) + "\n")
