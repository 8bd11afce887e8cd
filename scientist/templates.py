"""Experiment templates: a folder with the baseline, its plots, the task and a LaTeX skeleton."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

BUILTIN_DIR = Path(__file__).parent / "templates"
REQUIRED = ("experiment.py", "plot.py", "prompt.json", "seed_ideas.json", "latex/template.tex")


class TemplateError(Exception):
    """A template that cannot be used. The message is one line."""


@dataclass(frozen=True)
class Template:
    name: str
    path: Path
    system: str
    task_description: str

    @property
    def seed_ideas(self) -> list[dict]:
        return json.loads((self.path / "seed_ideas.json").read_text())

    @property
    def latex_dir(self) -> Path:
        return self.path / "latex"


def builtin_templates() -> list[str]:
    return sorted(p.name for p in BUILTIN_DIR.iterdir() if (p / "experiment.py").exists())


def load_template(name_or_path: str | Path) -> Template:
    """A built-in template by name, or any folder with the template files."""
    path = Path(name_or_path)
    if not path.is_dir():
        path = BUILTIN_DIR / str(name_or_path)
    if not path.is_dir():
        raise TemplateError(
            f"no template '{name_or_path}': give a folder or one of {', '.join(builtin_templates())}"
        )
    missing = [f for f in REQUIRED if not (path / f).exists()]
    if missing:
        raise TemplateError(f"template {path} lacks {', '.join(missing)}")
    try:
        prompt = json.loads((path / "prompt.json").read_text())
        return Template(path.name, path.resolve(), prompt["system"], prompt["task_description"])
    except (json.JSONDecodeError, KeyError) as exc:
        raise TemplateError(f"{path / 'prompt.json'}: needs 'system' and 'task_description' ({exc})") from None
