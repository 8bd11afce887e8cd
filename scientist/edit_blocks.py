"""SEARCH/REPLACE edit blocks in aider's "diff" format: parse them and apply them, only inside the folder."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

BLOCK = re.compile(
    r"^(?P<file>[^\n`]+?)\s*\n```[^\n]*\n<<<<<<< SEARCH\n(?P<search>.*?)^=======\n(?P<replace>.*?)^>>>>>>> REPLACE",
    re.DOTALL | re.MULTILINE,
)


@dataclass(frozen=True)
class EditBlock:
    file: str
    search: str
    replace: str


class EditError(ValueError):
    """Blocks that cannot be applied; the message goes back to the model."""


class OutsideFolder(EditError):
    """A block names a path outside the folder, or one that a symlink leads out of it."""


def parse_blocks(text: str) -> list[EditBlock]:
    return [EditBlock(m["file"].strip().strip("*`"), m["search"], m["replace"]) for m in BLOCK.finditer(text)]


def confined(folder: Path, name: str) -> Path:
    """``name`` (relative to ``folder``, or absolute) resolved, symlinks followed; OutsideFolder unless the
    result lies inside ``folder``."""
    root = folder.resolve()
    path = (root / name).resolve()
    if root in path.parents:
        return path
    if root in Path(os.path.normpath(root / name)).parents:
        why = f"leads out of the experiment folder through a symlink (to {path})"
    else:
        why = "is outside the experiment folder"
    raise OutsideFolder(f"{name} {why}: edit only files inside it, named by their path relative to it")


def apply_blocks(folder: Path, blocks: list[EditBlock], allowed: set[str]) -> list[str]:
    """Apply every block (all or nothing) to the ``allowed`` files of ``folder``; returns the files changed."""
    names = {confined(folder, name): name for name in allowed}
    paths = {name: path for path, name in names.items()}
    contents: dict[str, str] = {}
    for block in blocks:
        name = names.get(confined(folder, block.file))
        if name is None:
            raise EditError(f"{block.file} is not one of the files you may edit: {', '.join(sorted(allowed))}")
        path = paths[name]
        text = contents.get(name, path.read_text() if path.exists() else "")
        if not block.search.strip():
            text = text + block.replace if text else block.replace
        elif block.search in text:
            text = text.replace(block.search, block.replace, 1)
        else:
            raise EditError(f"the SEARCH section for {block.file} does not match the file exactly:\n{block.search}")
        contents[name] = text
    for name, text in contents.items():
        paths[name].write_text(text)
    return sorted(contents)
