"""The write-up: section by section into the LaTeX template (one reflection each), with
references from the literature tool, then compile-and-fix until the paper is clean."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from reviewer.models.wrapper import Model
from scientist.coder import Coder
from scientist.ideas import Idea, IdeaWork
from scientist.latex import CompileReport, check_paper
from scientist.literature import Literature, LiteratureError, Reference
from scientist.llm import Chat, render

# Placeholder in latex/template.tex -> the section written into it, in writing order.
SECTIONS = {
    "TITLE HERE": "Title",
    "ABSTRACT HERE": "Abstract",
    "INTRO HERE": "Introduction",
    "RELATED WORK HERE": "Related Work",
    "METHOD HERE": "Method",
    "EXPERIMENTAL SETUP HERE": "Experimental Setup",
    "RESULTS HERE": "Results",
    "CONCLUSIONS HERE": "Conclusions",
}
FENCED_LATEX = re.compile(r"```(?:latex|tex)?\s*\n(.*?)```", re.DOTALL)


def _latex_answer(answer: str) -> str:
    blocks = FENCED_LATEX.findall(answer)
    return (blocks[-1] if blocks else answer).strip()


def unique_references(references: list[Reference]) -> dict[str, Reference]:
    """References under distinct BibTeX keys (a letter is added on a clash)."""
    keyed: dict[str, Reference] = {}
    for reference in references:
        if any(r.title.lower() == reference.title.lower() for r in keyed.values()):
            continue
        key, suffix = reference.bibtex_key, 0
        while key in keyed:
            suffix += 1
            key = f"{reference.bibtex_key}{chr(ord('a') + suffix - 1)}"
        keyed[key] = reference
    return keyed


def write_bib(references: dict[str, Reference], path: Path) -> None:
    entries = []
    for key, reference in references.items():
        entries.append(reference.bibtex().replace(reference.bibtex_key, key, 1))
    path.write_text("\n".join(entries))


async def find_references(literature: Literature, idea: Idea, limit: int = 8) -> list[Reference]:
    try:
        return await literature.search(idea.Title, limit=limit)
    except LiteratureError:
        return []


@dataclass(kw_only=True)
class WriteupStage(IdeaWork):
    model: Model
    literature: Literature
    max_pages: int = 8

    @property
    def tex(self) -> Path:
        return self.idea_dir / "latex" / "template.tex"

    def _evidence(self) -> str:
        notes = (self.idea_dir / "notes.txt").read_text()
        figures = sorted(p.name for p in (self.idea_dir / "figures").glob("*.png"))
        return f"{notes}\nFigure files you may include: {', '.join(figures) or 'none'}"

    def copy_figures(self) -> None:
        for figure in (self.idea_dir / "figures").glob("*.png"):
            shutil.copy(figure, self.tex.parent / figure.name)

    async def write(self, template_latex: Path) -> None:
        latex_dir = self.tex.parent
        shutil.rmtree(latex_dir, ignore_errors=True)
        shutil.copytree(template_latex, latex_dir)
        self.copy_figures()
        references = unique_references(await find_references(self.literature, self.idea))
        write_bib(references, latex_dir / "references.bib")
        citations = "\n".join(f"\\cite{{{k}}}: {r.title} ({r.year})" for k, r in references.items()) or "none"
        chat = Chat(self.model, render("writeup_system"), temperature=0.5)
        text = self.tex.read_text()
        for placeholder, section in SECTIONS.items():
            self.log(f"writing {section}")
            draft = await chat.ask(render("writeup_section", section=section, title=self.idea.Title,
                                          idea=self.idea.Experiment, evidence=self._evidence(),
                                          citations=citations))
            refined = await chat.ask(render("writeup_reflection", section=section))
            text = text.replace(placeholder, _latex_answer(refined) or _latex_answer(draft), 1)
        self.tex.write_text(text)

    async def compile(self, coder: Coder) -> CompileReport:
        """Compile; errors, missing figures and citations, overflow and chktex go to the coder."""
        report = check_paper(self.tex, max_pages=self.max_pages)
        if report.chktex:
            await coder.edit(render("latex_chktex", warnings="\n".join(report.chktex)))
            report = check_paper(self.tex, max_pages=self.max_pages)
        for attempt in range(self.max_fixes):
            if report.ok:
                break
            self.log(f"LaTeX fix {attempt + 1}: {len(report.errors)} problem(s)")
            await coder.edit(render("latex_fix", errors="\n".join(report.errors)))
            report = check_paper(self.tex, max_pages=self.max_pages)
        return report
