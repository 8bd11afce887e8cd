"""Blinding rules per venue family: the lines a venue's LaTeX template prints that say whether
a paper is a submission or a camera-ready version, and which venue and year it is.

Written from the templates' notice strings and author placeholders (``iclr20XX_conference.sty``,
``colm20XX_conference.sty``, ``neurips_20XX.sty``, ``icml20XX.sty``, ``tmlr.sty``): running
headers ("Under review as a conference paper at ICLR 2025"), first-page footers ("Submitted to
39th Conference on Neural Information Processing Systems (NeurIPS 2025). Do not distribute.",
"Proceedings of the 42nd International Conference on Machine Learning, ... Copyright 2025 by
the author(s)."), arXiv-option notices ("Preprint. Under review."), and the anonymous author
boxes. A notice may be wrapped over lines and wrapped in bold/italic marks; it is only removed
where it stands alone (from a line's start to a line's end), so a reference entry that names
the same conference keeps its text. A dataset's card says which family its papers come from;
without one, every family's rules apply (the generic fallback).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

FAMILIES = ("iclr", "neurips", "icml", "colm", "tmlr")
_VENUE_PREFIXES = {"iclr": "iclr", "neurips": "neurips", "nips": "neurips", "icml": "icml", "colmweb": "colm",
                   "colm": "colm", "tmlr": "tmlr"}


@dataclass(frozen=True)
class BlindProfile:
    """The venue family whose template lines to remove (None: every family's, the generic
    fallback), and the submission deadline after which citations give a camera-ready version
    away (None: do not mask citations, e.g. for texts of the versions the reviewers saw)."""

    family: str | None = None
    deadline: date | None = None


GENERIC = BlindProfile()


def family_of(venue: str | None) -> str | None:
    """``ICLR.cc/2025/Conference`` -> ``iclr``; ``NeurIPS.cc/...`` -> ``neurips``; unknown -> None."""
    if not venue:
        return None
    head = re.split(r"[./]", venue.strip().lower(), maxsplit=1)[0]
    return _VENUE_PREFIXES.get(re.sub(r"\d+$", "", head))


def year_of(venue: str | None) -> int | None:
    """``ICLR.cc/2025/Conference`` -> 2025; None without a four-digit year."""
    found = re.search(r"(?<!\d)((?:19|20)\d\d)(?!\d)", venue or "")
    return int(found.group(1)) if found else None


def profile_from_card(card: dict | None) -> BlindProfile:
    """The profile a dataset card asks for: ``blinding.family`` and ``blinding.mask_citations_after``
    (as ``data download`` writes them), else the family of ``venue`` and the manifest's
    ``submission_deadline``."""
    if not card:
        return GENERIC
    blinding = card.get("blinding") or {}
    family = blinding.get("family") or card.get("family") or family_of(card.get("venue"))
    deadline = blinding["mask_citations_after"] if "mask_citations_after" in blinding else card.get(
        "submission_deadline")
    return BlindProfile(
        family=family if family in FAMILIES else None,
        deadline=date.fromisoformat(deadline) if deadline else None,
    )


# --- the template lines ------------------------------------------------------------------

#: Between two words of a notice: spaces, a line break, bold/italic marks.
_GAP = r"[\s*_]+"
_START = r"^[ \t*_>#]*"
_END = r"[ \t*_]*$"
_ORDINAL = r"\d{1,2}(?:st|nd|rd|th)"
_YEAR = r"(?:19|20)\d\d"


def _phrase(*words: str) -> str:
    """Words (regex pieces) joined by any gap a PDF extraction can put between them."""
    return _GAP.join(words)


def _notice(body: str) -> re.Pattern[str]:
    return re.compile(_START + body + _END, re.M | re.I)


@dataclass(frozen=True)
class VenueLines:
    """One family's lines to remove, and single words one of which each of them contains (a fast
    pre-check that a line break inside a notice cannot defeat)."""

    patterns: tuple[re.Pattern[str], ...]
    literals: tuple[str, ...]


_NEURIPS_TRACKS = ("Track on Datasets and Benchmarks", "Datasets and Benchmarks Track",
                   "Track on Evaluations and Datasets", "Position Paper Track", "Creative AI Track")
_CONFERENCE_PAPER = _phrase("(?:published|under", "review)", "as", "a", "conference", "paper", "at")
VENUE_LINES: dict[str, VenueLines] = {
    "iclr": VenueLines(
        (_notice(_phrase(_CONFERENCE_PAPER, "ICLR", _YEAR)),),
        ("iclr",),
    ),
    "colm": VenueLines(
        (_notice(_phrase(_CONFERENCE_PAPER, "COLM", _YEAR)),),
        ("colm",),
    ),
    "neurips": VenueLines(
        (
            # submission footer, and the camera-ready one (with the track it names, if any)
            _notice(_phrase(r"(?:submitted", r"to)?" + r"\s*" + _ORDINAL, "Conference", "on", "Neural", "Information",
                            "Processing", r"Systems", r"\((?:NeurIPS|NIPS)", _YEAR + r"\)[.,]?")
                    + r"(?:[ \t*_]+(?:" + "|".join(_NEURIPS_TRACKS) + r")\.?|[ \t*_]+Workshop:[^\n]{1,160})?"
                    + r"(?:" + _GAP + _phrase("Do", "not", r"distribute\.?") + r")?"),
            _notice(_phrase("Submitted", "to", "the", r"[^\n]{1,120}?", "at", r"(?:NeurIPS|NIPS)", _YEAR + r"\.",
                            "Do", "not", r"distribute\.?")),
        ),
        ("nips", "neurips"),
    ),
    "icml": VenueLines(
        (
            _notice(_phrase("Preliminary", "work.", "Under", "review", "by", "the", "International", "Conference", "on",
                            "Machine", "Learning", r"\(ICML\)\.", "Do", "not", r"distribute\.?")),
            _notice(_phrase("Proceedings", "of", "the", _ORDINAL, "International", "Conference", "on", "Machine",
                            r"Learning,") + r"[\s\S]{0,160}?" + _phrase("PMLR", r"\d+,", _YEAR + r"\.", "Copyright",
                                                                        _YEAR, "by", "the", r"author\(s\)\.?")),
        ),
        ("icml", "pmlr"),
    ),
    "tmlr": VenueLines(
        (
            _notice(_phrase("Under", "review", "as", "submission", "to", "TMLR")),
            _notice(_phrase("Published", "in", "Transactions", "on", "Machine", "Learning", "Research",
                            r"\(\d{1,2}/" + _YEAR + r"\)")),
            _notice(_phrase("Reviewed", "on", r"OpenReview:") + r"(?:\s*\S*openreview\.net\S*)?"),
        ),
        ("tmlr", "transactions", "openreview"),
    ),
}
#: The arXiv option of several templates ("Preprint. Under review.", "Preprint. Work in
#: progress.", "Preprint. February 11, 2026.", "Preprint.").
PREPRINT = VenueLines(
    (_notice(r"Preprint\.(?:" + _GAP + r"(?:Under" + _GAP + r"review\.?|Work" + _GAP + r"in" + _GAP
             + r"progress\.?|[A-Z][a-z]+" + _GAP + r"\d{1,2}," + _GAP + _YEAR + r"\.?))?"),),
    ("preprint",),
)
#: Anonymous author boxes: ICLR, COLM and TMLR ("Anonymous authors / Paper under double-blind
#: review"), NeurIPS ("Anonymous Author(s) / Affiliation / Address / email"),
#: ICML ("Anonymous Authors1" and its footnote "1Anonymous Institution, Anonymous City, ...
#: Correspondence to: Anonymous Author <anon.email@domain.com>.").
ANONYMOUS_BOXES = VenueLines(
    (
        _notice(_phrase(r"Anonymous", r"Author\(s\)") + r"(?:" + _GAP + r"Affiliation" + _GAP + r"Address"
                + _GAP + r"`?email`?)?"),
        _notice(r"Anonymous" + _GAP + r"Authors?[*_]*(?:\[?\d\]?|\^?\d)?"
                + r"(?:" + _GAP + _phrase("Paper", "under", r"double[\s-]*blind", "review") + r")?"),
        _notice(_phrase(r"\[?\d?\]?Anonymous", r"Institution,", "Anonymous", "City,", "Anonymous", "Region,",
                        "Anonymous", r"Country\.") + r"(?:" + _GAP + _phrase("Correspondence", "to:", "Anonymous", "Author")
                + r"[\s*_<]*anon\.email@domain\.com[\s*_>]*\.?)?"),
    ),
    ("anonymous",),
)


def venue_lines(profile: BlindProfile) -> list[VenueLines]:
    """The rules for ``profile``: its family's lines (every family's without one), the
    preprint notices and the anonymous author boxes."""
    families = [profile.family] if profile.family in VENUE_LINES else list(VENUE_LINES)
    return [*(VENUE_LINES[family] for family in families), PREPRINT, ANONYMOUS_BOXES]


def remove_venue_lines(text: str, profile: BlindProfile) -> str:
    lowered = text.lower()
    windows = _windows(lowered, [literal for lines in venue_lines(profile) for literal in lines.literals])
    if not windows:
        return text
    rules = [pattern for lines in venue_lines(profile) for pattern in lines.patterns]
    pieces, done = [], 0
    for start, end in windows:
        window = text[start:end]
        for pattern in rules:
            window = pattern.sub("", window)
        pieces += [text[done:start], window]
        done = end
    return "".join(pieces) + text[done:]


#: Lines around a literal that a wrapped notice can span.
_WINDOW_LINES = 4


def _windows(lowered: str, literals: list[str]) -> list[tuple[int, int]]:
    """Whole-line spans around each occurrence of a literal, merged: only they can hold a notice,
    so the rules run on them instead of the whole text (a notice's regex cannot use a literal
    prefix to skip ahead, being anchored at a line start)."""
    spans = []
    for literal in literals:
        found = lowered.find(literal)
        while found != -1:
            start = end = found
            for _ in range(_WINDOW_LINES):
                start = max(lowered.rfind("\n", 0, max(start - 1, 0)), -1) + 1 if start > 0 else 0
                next_break = lowered.find("\n", end + 1)
                end = len(lowered) if next_break == -1 else next_break
            spans.append((start, end))
            found = lowered.find(literal, found + len(literal))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def is_venue_line(line: str) -> bool:
    """A running header or footer of any family (e.g. the line above a paper's title)."""
    return any(pattern.fullmatch(line.strip()) for lines in VENUE_LINES.values() for pattern in lines.patterns)


# --- margin line numbers -----------------------------------------------------------------

#: Submissions of ICLR and ICML carry zero-padded line numbers in the margins ("058", "087 088"),
#: which text extraction keeps as lines of their own; camera-ready versions have none. Lines of
#: three-digit numbers are also axis ticks and table cells, so they are only removed from a text
#: that shows the numbering's signature: several numbers below 100 written with a leading zero.
_MARGIN_NUMBERS_RE = re.compile(r"^[ \t]*\d{3}(?:[ \t]+\d{3}){0,5}[ \t]*$\n?", re.M)
_MIN_ZERO_PADDED = 3


_ZERO_PADDED_RE = re.compile(r"\n[ \t]*(0\d\d)(?=[ \t]*\n|[ \t]+\d{3}\b)")


def remove_margin_numbers(text: str) -> str:
    if len(set(_ZERO_PADDED_RE.findall(text))) < _MIN_ZERO_PADDED:
        return text
    return _MARGIN_NUMBERS_RE.sub("", text)


# --- citations after the deadline --------------------------------------------------------

#: How many years after the deadline citations are looked for.
_LATE_YEARS = 9


#: An arXiv id's number part; the four digits (year and month) before the dot are read in code.
_ARXIV_TAIL_RE = re.compile(r"(?<=\d{4})\.\d{4,5}(?:v\d+)?(?!\d)")


@lru_cache(maxsize=16)
def _late_year_pattern(deadline: date) -> re.Pattern[str]:
    """Years after the deadline's; the look-behind follows the first character so that the
    regex engine can scan for it fast."""
    years = "|".join(str(year)[2:] for year in range(deadline.year + 1, deadline.year + _LATE_YEARS + 1))
    return re.compile(rf"20(?<![\d.,]20)(?:{years})[a-z]?(?![\d]|\.\d|,\d)")


def mask_late_citations(text: str, deadline: date) -> str:
    """arXiv ids from the deadline's month on become XXXX.XXXXX and later years 20XX: camera-ready
    versions cite them, submissions cannot."""
    first = (deadline.year % 100, deadline.month)
    last = (deadline.year + _LATE_YEARS) % 100
    pieces, done = [], 0
    for match in _ARXIV_TAIL_RE.finditer(text):
        start = match.start() - 4
        if start > 0 and (text[start - 1].isdigit() or text[start - 1] == "."):
            continue
        year, month = int(text[start:start + 2]), int(text[start + 2:match.start()])
        if 1 <= month <= 12 and first <= (year, month) and year <= last:
            pieces += [text[done:start], "XXXX.XXXXX"]
            done = match.end()
    text = "".join(pieces) + text[done:]
    return _late_year_pattern(deadline).sub("20XX", text)
