"""Remove what gives a paper's decision away, and leave the science alone.

Accepted papers are often served as camera-ready versions, rejected ones as anonymous
submissions. ``blind_text`` brings both to the same anonymous form: no venue header, footer or
anonymous-author placeholder of the venue's template (``venue_rules``, per venue family), no
margin line numbers, no author block, no emails or links, no acknowledgments or author
footnotes, no ethics or reproducibility statements (venue boilerplate that camera-ready
versions add), no sentences on where the code is, "supplementary material" called "appendix"
as in camera-ready versions, and arXiv ids/years that postdate the submission deadline masked
(when the dataset's card names one).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from corpus.cues import (
    ACK_HEADING,
    ANONYMITY,
    AUTHOR_FOOTNOTE,
    EMAIL,
    REFERENCES_HEADING,
    STATEMENT_HEADING,
    SUPPLEMENTARY,
    URL,
    Finder,
    author_notes,
    code_statements,
    is_section_heading,
    references_start,
    split_front_matter,
)
from corpus.dataset import CARD_FILE, Dataset, paper_loader
from corpus.files import atomic_write, files_fingerprint
from corpus.venue_rules import GENERIC, BlindProfile, mask_late_citations, remove_margin_numbers, remove_venue_lines

URL_TOKEN = "[URL]"
#: An acknowledgments or statement section without a following heading ends after this many characters.
_MAX_SECTION_CHARS = 3000
#: A markdown link to a web address: the visible text is kept, the target dropped.
_MD_LINK = Finder(re.compile(r"\[([^\[\]\n]*)\]\((?:https?://|www\.)[^()\s]*(?:\([^()\s]*\)[^()\s]*)*\)"), ("](",))
_REPEATED_URL = Finder(re.compile(r"\[URL\](?:[\s.,;:]*\[URL\])+"), ("[URL]",))
#: Anonymity markers, with the bold/italic marks around them.
_ANONYMITY_MARKER = Finder(re.compile(rf"[*_]*(?:{ANONYMITY.regex.pattern})[*_]*", re.I), ANONYMITY.hints)
_BLANK_RUNS_RE = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")


def blind_text(text: str, body_only: bool = False, profile: BlindProfile = GENERIC) -> str:
    """The paper without author identity, venue status or post-deadline references.
    ``profile`` names the venue family and deadline (``Dataset.blinding``); the default applies
    every family's template rules and masks no citations."""
    text = remove_margin_numbers(remove_venue_lines(text, profile))
    front = split_front_matter(text)
    if front.title or front.block:
        text = "\n".join(front.title) + "\n\nABSTRACT\n\n" + front.body
    if body_only:
        cut = references_start(text)
        text = text[:cut] if cut is not None else text
    text = _drop_sections(AUTHOR_FOOTNOTE.sub("", _cut(text, author_notes(text))))
    text = _ANONYMITY_MARKER.sub("", text)
    text = URL.sub(URL_TOKEN, _MD_LINK.sub(r"\1", text))
    text = _REPEATED_URL.sub(URL_TOKEN, text)
    text = EMAIL.sub("", text)
    text = _cut(text, [span for kind in code_statements(text) for span in kind])
    text = SUPPLEMENTARY.sub(_appendix, text)
    if profile.deadline is not None:
        text = mask_late_citations(text, profile.deadline)
    return _BLANK_RUNS_RE.sub("\n\n", text).strip() + "\n"


def _cut(text: str, spans: list[tuple[int, int]]) -> str:
    """The text without the (possibly overlapping) ``spans``."""
    pieces, done = [], 0
    for start, end in sorted(spans):
        if start >= done:
            pieces.append(text[done:start])
            done = end
        else:
            done = max(done, end)
    return "".join(pieces) + text[done:]


def _appendix(match: re.Match[str]) -> str:
    return "Appendix" if match.group(0)[0].isupper() else "appendix"


def _drop_sections(text: str) -> str:
    """The text without acknowledgments, funding, ethics and reproducibility sections (each
    from its heading up to the next section heading)."""
    spans = []
    for finder in (ACK_HEADING, STATEMENT_HEADING):
        for start, end in finder.spans(text):
            if finder.regex.match(text[start:end]):
                spans.append((start, _section_end(text, end + 1)))
    return _cut(text, spans)


def _section_end(text: str, position: int) -> int:
    """Where a dropped section that goes on at ``position`` ends: the next heading's line."""
    skipped = 0
    while position < len(text) and skipped < _MAX_SECTION_CHARS:
        line_end = text.find("\n", position)
        line_end = len(text) if line_end == -1 else line_end
        line = text[position:line_end]
        if is_section_heading(line) or REFERENCES_HEADING.regex.match(line):
            break
        skipped += len(line) + 1
        position = line_end + 1
    return min(position, len(text))


def blind_dataset(dataset: Dataset, target: Path, *, body_only: bool = False, progress=None) -> Path:
    """Write ``dataset`` blinded to ``target``: the ratings file, metadata and card copied, each
    text blinded into ``target/texts/<paper_id>.txt``. Returns ``target``."""
    if target.resolve() == dataset.folder.resolve():
        raise ValueError(f"{target}: refusing to overwrite the source dataset")
    (target / "texts").mkdir(parents=True, exist_ok=True)
    if dataset.ratings_path is not None:
        shutil.copyfile(dataset.ratings_path, target / dataset.ratings_path.name)
    if (dataset.folder / "metadata.tsv").is_file():
        shutil.copyfile(dataset.folder / "metadata.tsv", target / "metadata.tsv")
    if dataset.card is not None:
        card = {**dataset.card, "blinded_copy_of": str(dataset.folder), "blinding_rules": rules_fingerprint()}
        atomic_write(target / CARD_FILE, json.dumps(card, indent=2) + "\n")
    load = paper_loader("blind", body_only=body_only)
    for item in dataset.papers:
        atomic_write(target / "texts" / f"{item.paper_id}.txt", load(item).text)
        if progress is not None:
            progress()
    return target


def rules_fingerprint() -> str:
    """Short hash of the blinding code and rules: a run records it, so a resume that would blind
    its remaining papers differently is caught."""
    from corpus import cues, venue_rules

    return files_fingerprint([Path(__file__), Path(cues.__file__), Path(venue_rules.__file__)])
