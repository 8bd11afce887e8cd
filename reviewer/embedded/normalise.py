"""One representation of a paper's text, whether it came as markdown (the benchmark's
snapshot texts, from pymupdf4llm) or from the PDF reader: the offline model's features must
not see the format.

Markdown adds marks the PDF reader never writes (``#`` headings, ``**bold**``, ``_italic_``,
``|table|`` rows, code fences); the PDF reader keeps what markdown drops (page numbers,
running headers, words hyphenated at line ends, ligatures). Both are reduced to plain
sentences: marks and repeated page furniture removed, hyphenation joined, all whitespace
one space.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

_TABLE_ROW = re.compile(r"^\s*\|.*$", re.M)
_PAGE_BREAK = re.compile(r"^\s*-{3,}\s*$", re.M)
_CODE_FENCE = re.compile(r"^\s*```.*$", re.M)
_HEADING_MARK = re.compile(r"^\s*#+\s*", re.M)
_EMPHASIS = re.compile(r"\*\*|__|(?<![\w\\])_(?=\S)|(?<=\S)_(?![\w])")
#: ``[∗]`` and ``[1]``-style footnote marks that markdown brackets and the PDF reader leaves bare.
_BRACKETED_MARK = re.compile(r"\[([^\w\s\[\]]{1,3})\]")
_BARE_NUMBER_LINE = re.compile(r"^\s*\d{1,3}\s*$", re.M)
_LINE_END_HYPHEN = re.compile(r"(?<=[a-z])-\s*\n\s*(?=[a-z])")
_WHITESPACE = re.compile(r"\s+")
#: A short line seen this often is page furniture (running header or footer), not content.
_FURNITURE_REPEATS, _FURNITURE_CHARS = 3, 100


def normalise(text: str) -> str:
    """The text without format marks or page furniture, as one line of plain sentences."""
    text = unicodedata.normalize("NFKC", text)
    for pattern in (_TABLE_ROW, _PAGE_BREAK, _CODE_FENCE, _BARE_NUMBER_LINE):
        text = pattern.sub("", text)
    text = _HEADING_MARK.sub("", text)
    text = _BRACKETED_MARK.sub(r"\1", _EMPHASIS.sub("", text))
    text = _drop_furniture(text)
    text = _LINE_END_HYPHEN.sub("", text)
    return _WHITESPACE.sub(" ", text).strip()


def _drop_furniture(text: str) -> str:
    lines = text.split("\n")
    counts = Counter(line.strip() for line in lines if 0 < len(line.strip()) <= _FURNITURE_CHARS)
    repeated = {line for line, count in counts.items() if count >= _FURNITURE_REPEATS}
    return "\n".join(line for line in lines if line.strip() not in repeated)
