"""Research ideas: generated against the archive of earlier ideas and their review scores,
refined by reflection rounds, then checked for novelty with the literature tool."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Callable

from pydantic import BaseModel, Field, ValidationError

from reviewer.models.wrapper import Model
from reviewer.parsing import ReviewParseError, extract_json, says_done, validation_summary
from scientist.literature import Literature, LiteratureError
from scientist.llm import Chat, render
from scientist.templates import Template

Rating = Annotated[int, Field(ge=1, le=10)]


class Idea(BaseModel):
    Name: Annotated[str, Field(pattern=r"^[a-z0-9_]{1,60}$")]
    Title: Annotated[str, Field(min_length=3)]
    Experiment: Annotated[str, Field(min_length=3)]
    Interestingness: Rating
    Feasibility: Rating
    Novelty: Rating


@dataclass(kw_only=True)
class IdeaWork:
    """What every stage of one idea works on: its folder, the idea, a progress log."""

    idea_dir: Path
    idea: Idea
    max_fixes: int = 4
    log: Callable[[str], None] = lambda message: None


class ArchiveEntry(BaseModel):
    idea: Idea
    novel: bool | None = None
    #: Overall score of each review round of the paper written from this idea.
    scores: list[int] = Field(default_factory=list)


class IdeaError(ValueError):
    """The model's answer holds no valid idea; the message goes back to it."""


def parse_idea(text: str) -> Idea:
    try:
        return Idea.model_validate(extract_json(text))
    except ReviewParseError as exc:
        raise IdeaError(str(exc)) from None
    except ValidationError as exc:
        raise IdeaError(validation_summary(exc, limit=6)) from None


class Archive:
    """Every idea so far with its novelty verdict and review scores (``ideas.json``)."""

    def __init__(self, path: Path, seeds: list[dict]):
        self.path = path
        if path.exists():
            self.entries = [ArchiveEntry.model_validate(e) for e in json.loads(path.read_text())]
        else:
            self.entries = [ArchiveEntry(idea=Idea.model_validate(seed)) for seed in seeds]
            self.save()

    def save(self) -> None:
        self.path.write_text(json.dumps([e.model_dump() for e in self.entries], indent=2))

    def get(self, name: str) -> ArchiveEntry:
        return next(e for e in self.entries if e.idea.Name == name)

    def describe(self) -> str:
        lines = []
        for entry in self.entries:
            scores = f"review Overall by round: {entry.scores}" if entry.scores else "not reviewed yet"
            lines.append(f"{entry.idea.model_dump_json()} ({scores})")
        return "\n\n".join(lines)


async def generate_idea(model: Model, template: Template, archive: Archive, *, reflections: int = 3) -> Idea:
    chat = Chat(model, template.system)
    prompt = render("idea_first", task_description=template.task_description,
                    code=(template.path / "experiment.py").read_text(), archive=archive.describe(),
                    reflections=reflections)
    idea, problem = None, ""
    for current in range(1, reflections + 1):
        answer = await chat.ask(prompt)
        try:
            idea = parse_idea(answer)
            problem = ""
        except IdeaError as exc:
            problem = f"Your last answer could not be used: {exc}."
        if idea is not None and says_done(answer):
            break
        prompt = render("idea_reflection", current=current + 1, total=reflections, problem=problem)
    if idea is None:
        raise IdeaError(problem)
    if any(e.idea.Name == idea.Name for e in archive.entries):
        idea = idea.model_copy(update={"Name": f"{idea.Name}_{len(archive.entries)}"})
    archive.entries.append(ArchiveEntry(idea=idea))
    archive.save()
    return idea


async def check_novelty(model: Model, idea: Idea, literature: Literature, *, rounds: int = 5) -> tuple[bool, list[str]]:
    """Query the literature until the model decides; returns the verdict and the queries made."""
    chat = Chat(model, render("novelty_system", rounds=rounds), temperature=0.3)
    results, queries = "No search made yet.", []
    for current in range(1, rounds + 1):
        answer = await chat.ask(render("novelty_round", current=current, total=rounds,
                                       idea=idea.model_dump_json(indent=2), results=results))
        lowered = answer.lower()
        if "decision made: novel" in lowered:
            return True, queries
        if "decision made: not novel" in lowered:
            return False, queries
        try:
            query = str(extract_json(answer)["Query"])
        except (ReviewParseError, KeyError):
            results = 'Answer with a JSON object {"Query": "..."} or with the decision.'
            continue
        queries.append(query)
        try:
            found = await literature.search(query, limit=10)
            results = "\n\n".join(ref.describe(i) for i, ref in enumerate(found)) or "No papers found."
        except LiteratureError as exc:
            results = f"The search failed: {exc}"
    return False, queries
