"""SEARCH/REPLACE edit blocks in aider's "diff" format: parse them and apply them."""

from __future__ import annotations

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


def parse_blocks(text: str) -> list[EditBlock]:
    return [EditBlock(m["file"].strip().strip("*`"), m["search"], m["replace"]) for m in BLOCK.finditer(text)]


def apply_blocks(folder: Path, blocks: list[EditBlock], allowed: set[str]) -> list[str]:
    """Apply every block (all or nothing); returns the files changed."""
    contents: dict[str, str] = {}
    for block in blocks:
        if block.file not in allowed:
            raise EditError(f"{block.file} is not one of the files you may edit: {', '.join(sorted(allowed))}")
        path = folder / block.file
        text = contents.get(block.file, path.read_text() if path.exists() else "")
        if not block.search.strip():
            text = text + block.replace if text else block.replace
        elif block.search in text:
            text = text.replace(block.search, block.replace, 1)
        else:
            raise EditError(f"the SEARCH section for {block.file} does not match the file exactly:\n{block.search}")
        contents[block.file] = text
    for name, text in contents.items():
        (folder / name).write_text(text)
    return sorted(contents)
