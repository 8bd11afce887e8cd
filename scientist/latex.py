"""Compiling the paper and checking it: LaTeX errors, chktex, missing figures, citations
without a reference, page overflow."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

TEX_TOOLS = ("pdflatex", "bibtex", "chktex")
INSTALL_HINT = "install TeX Live with scientist/install_tex.sh"


class TexMissingError(RuntimeError):
    def __init__(self, tool: str):
        super().__init__(f"'{tool}' is not installed: {INSTALL_HINT}")


def require_tex() -> None:
    for tool in TEX_TOOLS:
        if shutil.which(tool) is None:
            raise TexMissingError(tool)


@dataclass
class CompileReport:
    pdf: Path | None
    pages: int = 0
    errors: list[str] = field(default_factory=list)
    chktex: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.pdf is not None and not self.errors


def _run(command: list[str], folder: Path, timeout: float) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(command, cwd=folder, capture_output=True, text=True, errors="replace",
                              timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(command, 124, "", f"{command[0]} timed out after {timeout:.0f}s")


def compile_pdf(tex: Path, *, timeout: float = 120.0) -> tuple[Path | None, list[str]]:
    """pdflatex, bibtex, pdflatex twice (latexmk when present); the PDF and the errors."""
    require_tex()
    folder, stem = tex.parent, tex.stem
    pdf = folder / f"{stem}.pdf"
    pdf.unlink(missing_ok=True)
    if shutil.which("latexmk"):
        # -norc: a latexmkrc is Perl that latexmk would run here, outside the sandbox, and the code editor
        # can write one into the paper's folder.
        steps = [["latexmk", "-norc", "-pdf", "-interaction=nonstopmode", "-halt-on-error", "-f", tex.name]]
    else:
        latex = ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name]
        steps = [latex, ["bibtex", stem], latex, latex]
    output = ""
    for step in steps:
        output += _run(step, folder, timeout).stdout
    log = folder / f"{stem}.log"
    errors = _log_errors(log.read_text(errors="replace") if log.exists() else output)
    return (pdf if pdf.exists() else None), errors


def _log_errors(log: str) -> list[str]:
    errors = []
    lines = log.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("! "):
            context = " ".join(l.strip() for l in lines[index + 1: index + 3] if l.strip())
            errors.append(f"{line[2:]} {context}".strip())
        elif re.search(r"(Citation|Reference) `[^']+' .*undefined", line):
            errors.append(line.strip())
        elif "File `" in line and "not found" in line:
            errors.append(line.strip())
    return list(dict.fromkeys(errors))


def chktex(tex: Path) -> list[str]:
    require_tex()
    done = _run(["chktex", "-q", "-v0", "-n2", "-n8", "-n24", "-n13", "-n1", tex.name], tex.parent, 60)
    return [line for line in done.stdout.splitlines() if line.strip()][:20]


def missing_figures(tex: Path) -> list[str]:
    text = tex.read_text()
    names = re.findall(r"\\includegraphics(?:\[[^\]]*\])?\{([^}]+)\}", text)
    return [name for name in names if not (tex.parent / name).exists()]


def missing_citations(tex: Path, bib: Path) -> list[str]:
    cited = {key.strip() for group in re.findall(r"\\cite[tp]?\*?(?:\[[^\]]*\])?\{([^}]+)\}", tex.read_text())
             for key in group.split(",")}
    known = set(re.findall(r"@\w+\{([^,]+),", bib.read_text())) if bib.exists() else set()
    return sorted(cited - known)


def page_count(pdf: Path) -> int:
    import pymupdf

    with pymupdf.open(pdf) as document:
        return document.page_count


def check_paper(tex: Path, *, max_pages: int) -> CompileReport:
    pdf, errors = compile_pdf(tex)
    errors += [f"figure file {name} does not exist; use only: {', '.join(sorted(p.name for p in tex.parent.glob('*.png')))}"
               for name in missing_figures(tex)]
    errors += [f"citation key {key} is not in references.bib" for key in missing_citations(tex, tex.parent / "references.bib")]
    pages = page_count(pdf) if pdf else 0
    if pages > max_pages:
        errors.append(f"the paper has {pages} pages; the limit is {max_pages}: shorten it")
    return CompileReport(pdf, pages, list(dict.fromkeys(errors)), chktex(tex))
