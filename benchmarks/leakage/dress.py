"""Texts of one venue dressed as another venue's papers, to test blinding beyond its layout.

An accepted paper gets the camera-ready lines of the target template (the first-page notice,
the acknowledgments heading), a rejected one the submission lines (the "Submitted to ... Do not
distribute." notice, the anonymous author block), as a benchmark built from served PDFs would
hold them. The notice goes where text extraction puts a first-page footer: at the end of the
first page; in two-column templates (ICML) it is wrapped as a column wraps it.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import textwrap
from pathlib import Path

from benchmarks.leakage.templates import VenueTemplate, template
from corpus.dataset import Dataset
from corpus.files import atomic_write

#: The ICLR running headers and anonymous block the source texts may carry.
_ICLR_HEADER_RE = re.compile(r"^(?:Published|Under review) as a conference paper at ICLR \d{4}\s*\n+", re.M)
_ICLR_ANONYMOUS_RE = re.compile(r"^\**Anonymous authors\**\s*\n\s*Paper under double-blind review\s*$", re.M | re.I)
_ACK_HEADING_RE = re.compile(r"^([#*\s\d.]*)ACKNO\w*(?: AND DISCLOSURE OF FUNDING)?\s*$", re.M)
TWO_COLUMN_FAMILIES = ("icml",)
COLUMN_CHARS = 58


def dress(text: str, venue: VenueTemplate, *, accepted: bool, wrap: bool = False) -> str:
    """``text`` with ``venue``'s camera-ready lines (accepted) or submission lines (rejected)."""
    text = _ICLR_HEADER_RE.sub("", text)
    foot = [venue.camera_ready_notice, *venue.camera_ready_extra] if accepted else [venue.submission_notice]
    if accepted:
        text = _ACK_HEADING_RE.sub(lambda m: f"{m.group(1)}{venue.acknowledgments}", text)
    else:
        head, *foot_notes = venue.anonymous_authors if venue.family == "icml" else (
            "\n".join(venue.anonymous_authors),)
        text = _ICLR_ANONYMOUS_RE.sub(lambda _: f"**{head}**" if venue.family == "icml" else head, text)
        foot = [*foot_notes, *foot]
    if wrap:
        foot = [textwrap.fill(line, COLUMN_CHARS) for line in foot]
    return _at_first_page_end(text, "\n\n".join(foot))


def _at_first_page_end(text: str, block: str) -> str:
    page_break = text.find("\n-----\n")
    if page_break == -1:
        lines = text.split("\n")
        cut = min(len(lines), 60)
        return "\n".join(lines[:cut]) + f"\n\n{block}\n\n" + "\n".join(lines[cut:])
    return f"{text[:page_break].rstrip()}\n\n{block}\n{text[page_break:]}"


def dress_dataset(dataset: Dataset, family: str, year: int, out: Path, *, deadline: str | None) -> Path:
    """Write ``dataset`` dressed as ``family`` ``year`` papers to ``out`` (ratings file copied,
    texts dressed, a card naming the source). ``deadline`` is the source venue's submission
    deadline: citations after it still give camera-ready versions away."""
    venue = template(family, year)
    (out / "texts").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(dataset.ratings_path, out / dataset.ratings_path.name)
    for item in dataset.papers:
        wrap = family in TWO_COLUMN_FAMILIES and hashlib.sha256(item.paper_id.encode()).digest()[0] % 2 == 0
        text = item.path.read_text(encoding="utf-8")
        dressed = dress(text, venue, accepted=bool(item.human.accepted), wrap=wrap)
        atomic_write(out / "texts" / f"{item.paper_id}.txt", dressed)
    card = {
        "name": out.name,
        "family": family,
        "year": year,
        "dressed_from": f"{dataset.name} {dataset.split} ({dataset.folder})",
        "note": "accepted papers carry the camera-ready lines of the template, rejected ones the submission lines",
        "blinding": {"family": family, "mask_citations_after": deadline},
    }
    atomic_write(out / "dataset.json", json.dumps(card, indent=2) + "\n")
    return out
