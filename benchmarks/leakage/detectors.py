"""The audit's own detectors of what gives a decision away, independent of the blinder.

Checking blinding with the regexes that did the blinding proves nothing, so these detectors
use other methods and were written apart from ``corpus/blind.py`` and ``corpus/venue_rules.py``:

- phrase coverage: the share of a template phrase's word trigrams (``templates.PHRASES``, from the
  venues' style files) found in the first page, after lowercasing, splitting letters from digits
  and ignoring punctuation and line breaks;
- token statistics: tokens that hold an address (``@`` before a dotted domain), a link, a code
  host; counts of words from fixed vocabularies (acknowledgment and funding, affiliations,
  anonymity, the review process) and of years and arXiv ids after the submission deadline;
- line position: lines between the title and the abstract that read as person names, short
  heading-like lines naming a statement section, sentences that promise or point to code.

Sizes (characters, pages, body and appendix length) are measured too: blinding cannot remove
them without cutting science, so the audit reports them apart.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import date

from benchmarks.leakage.templates import PHRASES

#: A phrase counts as present when this share of its word trigrams is on the first page.
PHRASE_COVERAGE = 0.6
FIRST_PAGE_CHARS = 10_000
FRONT_LINES = 60
VENUE_ACRONYMS = ("iclr", "neurips", "nips", "icml", "colm", "tmlr")
_AFFILIATION_WORDS = frozenset(
    "university universität université universidad institute institut department dept laboratory lab labs "
    "college school faculty academy inc ltd corporation google deepmind microsoft meta facebook amazon nvidia "
    "openai anthropic ibm alibaba tencent huawei baidu bytedance samsung apple intel adobe salesforce mila "
    "inria eth epfl mit stanford berkeley cmu oxford cambridge tsinghua".split()
)
_CODE_WORDS_RE = re.compile(r"\b(?:codes?|implementations?|repository|repo|software|codebase)\b")
_FUTURE_RELEASE = ("upon acceptance", "upon publication", "will be released", "will be made available",
                   "will be made publicly available", "will be open sourced", "will release", "to be released",
                   "supplementary material")
_POINTERS = ("available at", "can be found at", "found at", "is at", "hosted at", "[url]", "http", "github")
_STATEMENTS = ("ethics statement", "reproducibility statement", "impact statement", "broader impact",
               "ethical statement", "reproducibility and ethics")
_WORD_RE = re.compile(r"[a-z]+|\d+")
#: An address: "@" (maybe spaced) before a dotted domain.
_ADDRESS_RE = re.compile(r"@ ?[a-z0-9-]+(?:\.[a-z0-9-]+)+")
#: A link: a scheme, "www." or the blinder's placeholder, or a bare host with a path.
_LINK_RE = re.compile(r"https?:|www\.|\[url\]|(?<![/.])(?:github|gitlab|bitbucket)\.(?:com|io|org)")
#: Words of fixed vocabularies, counted in one pass: each group is one detector.
_VOCABULARY_RE = re.compile(
    r"\b(?:(?P<code_host>github|gitlab|bitbucket)"
    r"|(?P<acknowledgment>acknowledg|funding\b|funded\b|grants?\b|sponsor|fellowship)"
    r"|(?P<thanks>we\s+(?:would\s+like\s+to\s+)?thank\b|grateful\s+to\b)"
    r"|(?P<anonymity>anonymous\b|anonymi[sz]ed\b|anonymity\b|double-blind\b)"
    r"|(?P<process>reviewers?\b|rebuttals?\b|camera-ready\b))"
)
_ARXIV_RE = re.compile(r"(?<![\d.])(\d{2})(\d{2})\.\d{4,5}(?!\d)")
_YEAR_RE = re.compile(r"(?<![\d.])(20\d\d)(?![\d])")


@dataclass(frozen=True)
class AuditContext:
    """What the detectors need to know about the venue: its name and year (mentions of it) and
    the submission deadline (citations after it)."""

    venue_year: int | None = None
    deadline: date | None = None


@dataclass(frozen=True)
class DetectorRecord:
    """One text's detections. Booleans are presence; ints are counts; floats are sizes."""

    submission_notice: bool
    camera_ready_notice: bool
    anonymous_placeholder: bool
    venue_mentions: int
    front_name_lines: int
    front_affiliation_words: int
    front_emails: int
    email_tokens: int
    url_tokens: int
    code_host_tokens: int
    acknowledgment_words: int
    thanks_phrases: int
    anonymity_words: int
    review_process_words: int
    code_promise: int
    code_available: int
    statement_headings: int
    late_years: int
    late_arxiv_ids: int
    log_chars: float
    pages: int
    log_body_chars: float
    log_appendix_chars: float

    def as_dict(self) -> dict[str, float]:
        return {name: float(value) for name, value in asdict(self).items()}


FEATURES: tuple[str, ...] = tuple(DetectorRecord.__dataclass_fields__)
#: How long the paper is: blinding cannot change these without cutting science.
SIZE_FEATURES: tuple[str, ...] = ("log_chars", "pages", "log_body_chars", "log_appendix_chars")
REMOVABLE_FEATURES: tuple[str, ...] = tuple(name for name in FEATURES if name not in SIZE_FEATURES)


def _words(text: str) -> list[str]:
    """Lower-case letters and digit runs; every digit run reads as '#' (years and ordinals vary)."""
    return ["#" if token[0].isdigit() else token for token in _WORD_RE.findall(text.lower())]


def _trigrams(words: list[str]) -> set[tuple[str, ...]]:
    return {tuple(words[i:i + 3]) for i in range(len(words) - 2)}


_PHRASE_TRIGRAMS = {kind: [_trigrams(_words(p)) for p in phrases] for kind, phrases in PHRASES.items()}
#: The trigrams of a submission notice that no camera-ready notice has ("submitted to", "do not
#: distribute"): NeurIPS prints the camera-ready notice inside the submission one.
_CAMERA_READY_TRIGRAMS = set().union(*_PHRASE_TRIGRAMS["camera_ready_notice"])
_SUBMISSION_ONLY = [grams - _CAMERA_READY_TRIGRAMS for grams in _PHRASE_TRIGRAMS["submission_notice"]]


def _covered(grams: set[tuple[str, ...]], page: set[tuple[str, ...]]) -> bool:
    return bool(grams) and len(grams & page) >= PHRASE_COVERAGE * len(grams)


def _notices(page: set[tuple[str, ...]]) -> tuple[bool, bool]:
    """(a submission notice, a camera-ready notice) on the page. A camera-ready notice that is
    part of a submission notice found on the page does not count."""
    submissions = [
        _covered(grams, page) and _covered(own, page)
        for grams, own in zip(_PHRASE_TRIGRAMS["submission_notice"], _SUBMISSION_ONLY)
    ]
    camera_ready = any(
        _covered(grams, page) and not any(
            found and len(grams & sub) > len(grams) / 2
            for found, sub in zip(submissions, _PHRASE_TRIGRAMS["submission_notice"])
        )
        for grams in _PHRASE_TRIGRAMS["camera_ready_notice"]
    )
    return any(submissions), camera_ready


def _first_page(text: str) -> str:
    lines = text[:FIRST_PAGE_CHARS].split("\n")
    for number, line in enumerate(lines):
        if number > 5 and line.strip() == "-----":
            return "\n".join(lines[:number])
    return "\n".join(lines)


def _bare(line: str) -> str:
    return line.strip().strip("#*_ ").strip().lower()


def _front_lines(first_page: str) -> list[str]:
    """The lines before the abstract (title, authors, affiliations), or the first lines."""
    lines = first_page.split("\n")
    for number, line in enumerate(lines[:FRONT_LINES]):
        if _bare(line).replace(" ", "") == "abstract":
            return lines[:number]
    return lines[:12]


def _name_like(line: str) -> bool:
    """"Ada Lovelace, Alan Turing" and not a title in capitals or a sentence."""
    stripped = line.strip().strip("#*_ ")
    if line.lstrip().startswith("#") or not stripped or stripped.upper() == stripped:
        return False
    tokens = [t.strip(",;*[]()∗†‡") for t in stripped.replace(",", " , ").split()]
    words = [t for t in tokens if t and t.isalpha()]
    if len(words) < 2 or len(words) > 24:
        return False
    capitalised = sum(w[0].isupper() for w in words)
    lower_joiners = sum(w in ("and", "de", "van", "von", "der", "da", "di", "la") for w in words)
    return capitalised + lower_joiners == len(words) and not stripped.endswith(".")


def _sentences(text: str) -> list[str]:
    return [s.lower() for s in re.split(r"(?<=[.!?])\s+|\n\n+", text) if s.strip()]


def _references_at(lines: list[str]) -> int | None:
    for number, line in enumerate(lines):
        bare = _bare(line)
        if bare in ("references", "bibliography", "reference") or re.fullmatch(r"\d+\.?\s*(references|bibliography)", bare):
            return number
    return None


def _appendix_at(lines: list[str], start: int) -> int | None:
    for number in range(start, len(lines)):
        stripped = lines[number].strip().strip("#*_ ")
        if stripped.lower().startswith(("appendix", "appendices", "supplementary")) or re.match(
            r"A(?:\.1)?\.?\s+[A-Z][A-Za-z]", stripped
        ):
            return number
    return None


def _log(n: int) -> float:
    return round(math.log10(1 + n), 4)


def detect(text: str, context: AuditContext = AuditContext()) -> DetectorRecord:
    first_page = _first_page(text)
    page_trigrams = _trigrams(_words(first_page))
    front = _front_lines(first_page)
    front_tokens = " ".join(front).split()
    lowered = text.lower()
    sentences = _sentences(text)
    lines = text.split("\n")
    refs = _references_at(lines)
    body_chars = len("\n".join(lines[:refs])) if refs is not None else len(text)
    appendix = _appendix_at(lines, refs + 1) if refs is not None else None
    appendix_chars = len("\n".join(lines[appendix:])) if appendix is not None else 0
    submission, camera_ready = _notices(page_trigrams)
    vocabulary = Counter(match.lastgroup for match in _VOCABULARY_RE.finditer(lowered))
    return DetectorRecord(
        submission_notice=submission,
        camera_ready_notice=camera_ready,
        anonymous_placeholder=any(_covered(g, page_trigrams) for g in _PHRASE_TRIGRAMS["anonymous_placeholder"]),
        venue_mentions=_venue_mentions(lowered, context.venue_year),
        front_name_lines=sum(_name_like(line) for line in front),
        front_affiliation_words=sum(t.lower().strip(".,;:()*") in _AFFILIATION_WORDS for t in front_tokens),
        front_emails=len(_ADDRESS_RE.findall(" ".join(front).lower())),
        email_tokens=len(_ADDRESS_RE.findall(lowered)),
        url_tokens=len(_LINK_RE.findall(lowered)),
        code_host_tokens=vocabulary["code_host"],
        acknowledgment_words=vocabulary["acknowledgment"],
        thanks_phrases=vocabulary["thanks"],
        anonymity_words=vocabulary["anonymity"],
        review_process_words=vocabulary["process"],
        code_promise=sum(any(p in s for p in _FUTURE_RELEASE) and _mentions_code(s) for s in sentences),
        code_available=sum(any(p in s for p in _POINTERS) and _mentions_code(s) for s in sentences),
        statement_headings=sum(map(_statement_heading, lines)),
        late_years=_late_years(text, context.deadline),
        late_arxiv_ids=_late_arxiv(text, context.deadline),
        log_chars=_log(len(text)),
        pages=lines.count("-----") + 1,
        log_body_chars=_log(body_chars),
        log_appendix_chars=_log(appendix_chars),
    )


def _statement_heading(line: str) -> bool:
    """A short line that starts by naming an ethics, reproducibility or impact statement (a
    heading, or a run-in heading with a sentence after it)."""
    if len(line) > 120:
        return False
    start = re.sub(r"^[\d.a-z]{1,4}\s+", "", _bare(line))[:45]
    return any(name in start for name in _STATEMENTS)


def _mentions_code(sentence: str) -> bool:
    return bool(_CODE_WORDS_RE.search(sentence))


def _venue_mentions(lowered: str, year: int | None) -> int:
    if year is None:
        return 0
    return len(re.findall(rf"\b(?:{'|'.join(VENUE_ACRONYMS)})\W{{0,3}}{year}\b", lowered))


def _late_years(text: str, deadline: date | None) -> int:
    if deadline is None:
        return 0
    return sum(deadline.year < int(year) <= deadline.year + 6 for year in _YEAR_RE.findall(text))


def _late_arxiv(text: str, deadline: date | None) -> int:
    if deadline is None:
        return 0
    cutoff = (deadline.year % 100) * 100 + deadline.month
    return sum(
        1 <= int(month) <= 12 and int(yy) * 100 + int(month) >= cutoff and int(yy) <= (deadline.year % 100) + 6
        for yy, month in _ARXIV_RE.findall(text)
    )
