"""Prompt templates live as text files in ``reviewer/templates``; this renders them.

Placeholders are written ``{{name}}`` so that JSON and LaTeX braces in a template stay
literal. Rendering is strict: a placeholder with no value, or a value with no
placeholder, is an error, so a literal ``{{current_round}}`` never reaches a model.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from corpus.files import files_fingerprint

TEMPLATE_DIR = Path(__file__).parent / "templates"
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
PAPER_DELIMITER = re.compile(r"<\s*/?\s*paper\s*>", re.IGNORECASE)


class PromptError(ValueError):
    pass


@lru_cache(maxsize=None)
def load_template(name: str, directory: Path = TEMPLATE_DIR) -> str:
    path = directory / f"{name}.txt"
    if not path.is_file():
        raise PromptError(f"no prompt template named {name!r} in {directory}")
    return path.read_text(encoding="utf-8")


def placeholders(template: str) -> set[str]:
    return set(PLACEHOLDER.findall(template))


def render_text(template: str, name: str = "<template>", **values) -> str:
    wanted = placeholders(template)
    missing = wanted - values.keys()
    if missing:
        raise PromptError(f"prompt {name!r} needs {sorted(missing)}")
    unused = values.keys() - wanted
    if unused:
        raise PromptError(f"prompt {name!r} has no placeholder for {sorted(unused)}")
    return PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), template)


def render(name: str, directory: Path = TEMPLATE_DIR, **values) -> str:
    return render_text(load_template(name, directory), name, **values)


def as_data(paper: str) -> str:
    """The paper's text with the lines that delimit it in the review request (``<paper>``,
    ``</paper>``) made inert, so that a paper cannot close its own frame and speak outside it."""
    return PAPER_DELIMITER.sub(lambda m: m.group(0).replace("<", "< "), paper)


def templates_fingerprint(directory: Path = TEMPLATE_DIR) -> str:
    """Short hash of every template's name and text: a run records it, so a resume with other prompts is caught."""
    return files_fingerprint(sorted(directory.glob("*.txt")))
