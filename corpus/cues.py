"""The blinder's rules for what gives a decision away without reading the science.

OpenReview serves camera-ready PDFs for accepted papers and the anonymous submission for
rejected ones, so the texts differ in ways that have nothing to do with quality: author
blocks, acknowledgments, code links, statements camera-ready versions add. These finders and
the text structure they rely on (front matter, headings, references) are what
``blind.blind_text`` removes by; the venue templates' own lines are in ``venue_rules``. The
leakage audit measures with detectors of its own (``benchmarks/leakage/detectors.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from corpus.venue_rules import is_venue_line

# --- fast matching -----------------------------------------------------------------------


@dataclass(frozen=True)
class Finder:
    """A regex and literals of which every match contains one: only the lines holding a
    literal are searched, which keeps a pass over 900 papers in seconds."""

    regex: re.Pattern[str]
    hints: tuple[str, ...]

    def spans(self, text: str) -> list[tuple[int, int]]:
        spans = set()
        for hint in self.hints:
            found = text.find(hint)
            while found != -1:
                start = text.rfind("\n", 0, found) + 1
                end = text.find("\n", found)
                end = len(text) if end == -1 else end
                spans.add((start, end))
                found = text.find(hint, end)
        return sorted(spans)

    def findall(self, text: str) -> list[str]:
        return [m for start, end in self.spans(text) for m in self.regex.findall(text[start:end])]

    def search(self, text: str) -> bool:
        return any(self.regex.search(text[start:end]) for start, end in self.spans(text))

    def first(self, text: str) -> int | None:
        """Offset of the first match, or None."""
        for start, end in self.spans(text):
            match = self.regex.search(text[start:end])
            if match:
                return start + match.start()
        return None

    def sub(self, replacement, text: str) -> str:
        pieces, done = [], 0
        for start, end in self.spans(text):
            pieces += [text[done:start], self.regex.sub(replacement, text[start:end])]
            done = end
        return "".join(pieces) + text[done:]


def _cased(*words: str) -> tuple[str, ...]:
    return tuple(variant for word in words for variant in (word, word.capitalize(), word.upper()))


# --- shared text structure (also used by the blinding transform) -------------------------

ANONYMITY = Finder(
    re.compile(
        r"anonymous\s+authors?|paper\s+under\s+double[\s-]*blind\s+review|left\s+blank\s+in\s+anonymous\s+version"
        r"|(?:omitted|removed|hidden|redacted)\s+for\s+(?:anonymity|(?:double[\s-]*)?blind\s+review)",
        re.I,
    ),
    _cased("anonymous", "double", "omitted", "removed", "hidden", "redacted"),
)
EMAIL = Finder(
    re.compile(r"(?:\{[^{}\n]{1,200}\}|(?<![\w.+-])[\w.+-]+)\s?@\s?[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"), ("@",)
)
#: The rest of an address; it does not end on the sentence's punctuation.
_URL_TAIL = r"(?:[^\s)\]>\"']*[^\s)\]>\"'.,;:])?"
URL = Finder(
    re.compile(
        rf"(?:https?:\s*//|www\.){_URL_TAIL}|https?:$"
        # the rest of a link broken across lines ("https:" / "//openreview.net/...")
        rf"|(?<![\w:/])//[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+(?:/{_URL_TAIL})?"
        rf"|\b(?:github\.com|gitlab\.com|anonymous\.4open\.science|bitbucket\.org|sites\.google\.com)/{_URL_TAIL}",
        re.I,
    ),
    ("//", "http", "www.", "github.com", "gitlab.com", "4open.science", "bitbucket.org", "sites.google"),
)
ABSTRACT_HEADING_RE = re.compile(r"^[#*_\s]*(?:A\s*B\s*S\s*T\s*R\s*A\s*C\s*T|abstract)[*_:.\s]*$", re.I)
#: A numbered or upper-case section heading, optionally markdown/bold ("6 ACKNOWLEDGMENTS").
SECTION_HEADING_RE = re.compile(
    r"^[#*_\s]*(?:[A-Z]?\d+(?:\.\d+)*\.?\s+)?[A-Z][A-Z0-9 ,:;&'’()\-/]{2,80}[*_\s]*$"
)
REFERENCES_HEADING = Finder(
    re.compile(r"^[#*_\s]*(?:\d+\.?\s+)?(?:references|bibliography)[*_:\s]*$", re.I),
    _cased("references", "bibliography"),
)
#: "ACKNOLWEDGEMENT" occurs; NeurIPS names the section "Acknowledgments and Disclosure of Funding".
_ACK_WORDS = r"(?i:ackno\w*(?:\s+(?:and|&)\s+(?:disclosure\s+of\s+)?funding)?|funding|disclosure\s+of\s+funding)"
_SECTION_NUMBER = r"(?:[A-Z]?\d+(?:\.\d+)*\.?\s+)?"
#: An acknowledgments heading: alone on its line ("7 ACKNOWLEDGMENTS", "F ACKNOWLEDGEMENTS AND
#: OPEN-SOURCE ..."), or run in ("**Acknowledgement.** We thank", "Acknowledgments: This work").
ACK_HEADING = Finder(
    re.compile(
        rf"^[#*_\s]*{_SECTION_NUMBER}(?:ACKNO|FUNDING|DISCLOSURE OF FUNDING)[A-Z0-9 ,:;&'’()\-/]*[*_.\s]*$"
        rf"|^[#*_\s]*{_SECTION_NUMBER}{_ACK_WORDS}[*_:.\s]*$"
        rf"|^[#\s]*(?:\*\*|_)\s*{_SECTION_NUMBER}{_ACK_WORDS}"
        rf"|^[#*_\s]*{_ACK_WORDS}[*_]*[.:]\s"
    ),
    _cased("ackno", "funding", "disclosure"),
)
_STATEMENT_WORDS = r"(?i:(?:ethics?|reproducibi?lity)(?:\s+(?:and|&)\s+(?:ethics?|reproducibi?lity))?)"
#: An ethics or reproducibility statement's heading ("8 ETHICS STATEMENT", "E REPRODUCIBILITY
#: STATEMENT", "**Ethics Statement** Not applicable."): venue boilerplate before the references
#: that camera-ready versions add more often than submissions have it.
STATEMENT_HEADING = Finder(
    re.compile(
        rf"^[#*_\s]*(?:[A-Z]?\d+(?:\.\d+)*\.?\s+|[A-Z]\.?\s+)?{_STATEMENT_WORDS}(?i:\s+statements?)?[*_:.\s]*$"
        rf"|^[#\s]*(?:\*\*|_)\s*{_SECTION_NUMBER}{_STATEMENT_WORDS}(?i:\s+statements?)?[*_]*[.:]?(?:\*\*|_|\s)"
    ),
    _cased("ethic", "reproducib"),
)
AFFILIATION_RE = re.compile(
    r"universit|institut|college|school of|department|laborator|\blab\b|research|"
    r"inc\.|ltd|corporation|google|deepmind|microsoft|facebook|meta ai|amazon|nvidia|"
    r"ibm|alibaba|tencent|huawei|baidu|samsung|\bmila\b",
    re.I,
)
#: "Equal contribution", "Work done at ...", "Correspondence to ..." footnotes under the authors.
AUTHOR_FOOTNOTE = Finder(
    re.compile(
        r"^[_*\s]*[∗*†‡§¶♠♦♣♥\d\[\]]*[_*\s]*"
        r"(?:equal\s+contribution|these\s+authors\s+contributed|work\s+(?:was\s+)?done|"
        r"correspond(?:ence|ing\s+author)|project\s+(?:page|website)|now\s+at\b|"
        r"denotes\s+equal|contributed\s+equally).*$",
        re.I,
    ),
    _cased("equal", "work", "correspond", "project", "now at", "contributed"),
)
#: The same notes anywhere in a line that starts with a footnote mark ("1Northeastern University,
#: ...", "_∗M.S. is co affiliated with ..._", "-  indicates equal contribution").
_AUTHOR_NOTE_RE = re.compile(
    r"equal\s+contribution|contributed\s+equally|authors\s+contributed|work\s+(?:was\s+)?(?:mostly\s+)?"
    r"(?:done|performed)|research(?:ed)?\s+(?:during|while)|correspondence\s+(?:to|should)|corresponding\s+authors?"
    r"|\bintern(?:ship)?s?\b"
    r"|affiliat|now\s+at\b",
    re.I,
)
_FOOTNOTE_MARK_RE = re.compile(r"^[_*\s]*(?:-\s+|[∗*†‡§¶♠♦♣♥]|\d{1,2}(?=[A-Z_∗*†‡§¶]|\s+[A-Z]))")
_FIRST_PAGE_CHARS = 6000
_NOTE_LINE_CHARS = 250
_WORD_RE = re.compile(r"[A-Za-z]+")
_FRONT_LINES = 150


def _is_prose(line: str) -> bool:
    """A line of running text (an abstract), as opposed to names and affiliations."""
    s = line.strip()
    if len(s) < 50 or s.startswith(("**", "#", "```")) or "@" in s:
        return False
    words = _WORD_RE.findall(s)
    return len(words) >= 6 and sum(w[0].islower() for w in words) / len(words) >= 0.5


def _is_author_start(line: str) -> bool:
    s = line.strip()
    return (
        s.startswith(("**", "```", "_"))
        or "@" in s
        or bool(ANONYMITY.regex.search(s) or AFFILIATION_RE.search(s))
        or bool(re.search(r"[∗†‡♠♦♣]|\[\*\]", s))
    )


def _is_abstract_opening(line: str) -> bool:
    s = line.strip()
    return len(s) >= 30 and len(_WORD_RE.findall(s)) >= 5 and not _is_author_start(s)


def _is_title_continuation(line: str) -> bool:
    s = line.strip()
    return s.upper() == s and not _is_author_start(s) and not ABSTRACT_HEADING_RE.match(s)


def _is_running_header(line: str) -> bool:
    return is_venue_line(line)


@dataclass(frozen=True)
class FrontMatter:
    """A paper split at the start of its abstract's text."""

    title: list[str]
    #: Everything between title and abstract text: authors, affiliations, anonymity markers.
    block: list[str]
    body: str


def split_front_matter(text: str) -> FrontMatter:
    lines = text.split("\n")
    front = lines[:_FRONT_LINES]
    heading = next((i for i, line in enumerate(front) if ABSTRACT_HEADING_RE.match(line)), None)
    search_from = heading + 1 if heading is not None else 0
    start = next((i for i in range(search_from, len(front)) if _is_prose(front[i])), None)
    if start is None:
        return FrontMatter(title=[], block=[], body=text)
    # An abstract may open with a line dense in names ("We present AutoOED, an Automated ...").
    while start - 1 > search_from and _is_abstract_opening(front[start - 1]):
        start -= 1
    title: list[str] = []
    # Skip running headers and extraction debris ("p p") before the title.
    first = next(
        (i for i, line in enumerate(front[:start])
         if (len(line.strip()) > 4 or line.startswith("#")) and not _is_running_header(line)),
        start,
    )
    if first < start and front[first].lstrip().startswith("#"):
        for line in front[first:start]:
            if line.strip() and not line.lstrip().startswith("#") and not _is_title_continuation(line):
                break
            if line.strip():
                title.append(line.strip())
    else:
        for line in front[first:min(start, first + 8)]:
            if not line.strip() or _is_author_start(line) or ABSTRACT_HEADING_RE.match(line):
                break
            # A title in capitals ends at the first line that is not (the authors' names).
            if title and title[0].upper() == title[0] and not _is_title_continuation(line):
                break
            title.append(line.strip())
    block = [
        line for line in front[:start]
        if line.strip() and line.strip() not in title and not ABSTRACT_HEADING_RE.match(line)
    ]
    return FrontMatter(title=title, block=block, body="\n".join(lines[start:]))


def author_notes(text: str) -> list[tuple[int, int]]:
    """Line spans (start, end) of the author footnotes at the foot of the first page:
    affiliations, equal contribution, internships, corresponding author. A note's
    continuation lines (no blank line between) go with it."""
    page_end = text.find("\n-----", 0, _FIRST_PAGE_CHARS)
    page_end = min(len(text), _FIRST_PAGE_CHARS) if page_end == -1 else page_end
    spans, offset, in_note = [], 0, False
    for line in text[:page_end].split("\n"):
        s = line.strip()
        if not s:
            in_note = False
        elif len(s) <= _NOTE_LINE_CHARS:
            starts_note = bool(_FOOTNOTE_MARK_RE.match(s)) and not is_section_heading(s) and bool(
                _AUTHOR_NOTE_RE.search(s) or (AFFILIATION_RE.search(s) and not _is_prose(s))
            )
            continues = in_note and (len(s) < 30 or bool(_AUTHOR_NOTE_RE.search(s) or AFFILIATION_RE.search(s)))
            in_note = starts_note or continues
            if in_note:
                spans.append((offset, offset + len(line)))
        else:
            in_note = False
        offset += len(line) + 1
    return spans


def is_section_heading(line: str) -> bool:
    s = line.strip()
    return bool(s) and bool(SECTION_HEADING_RE.match(s)) and any(c.isalpha() for c in s)


def references_start(text: str) -> int | None:
    """Character offset of the References heading, or None."""
    return REFERENCES_HEADING.first(text)


# --- code statements ---------------------------------------------------------------------

#: "Supplementary material" (submissions) is "appendix" in camera-ready versions.
SUPPLEMENTARY = Finder(re.compile(r"supplement(?:ary|al)\s+materials?", re.I), _cased("supplement"))
_CODE_PROMISE = Finder(
    re.compile(
        r"upon\s+(?:acceptance|publication)|will\s+be\s+(?:made\s+)?(?:publicly\s+)?(?:released|available|open[\s-]*sourced)"
        rf"|{SUPPLEMENTARY.regex.pattern}",
        re.I,
    ),
    (*_cased("upon", "will be"), *SUPPLEMENTARY.hints),
)
_CODE_AVAILABLE = Finder(
    re.compile(
        r"code\s+(?:is|are)\s+(?:publicly\s+)?available|publicly\s+available\s+at|\[URL\]|https?:|github",
        re.I,
    ),
    ("available", "[URL]", *_cased("http", "github")),
)
_CODE_WORDS_RE = re.compile(
    r"\bcodes?\b|implementation|repositor|software|github|\bdemo\b|upon\s+(?:acceptance|publication)", re.I
)
_MAX_SENTENCE = 400


def _sentence_around(text: str, start: int, end: int) -> tuple[int, int]:
    before = max(text.rfind(". ", 0, start), text.rfind(".\n", 0, start), text.rfind("\n\n", 0, start))
    begin = max(before + 2 if before >= 0 else 0, start - _MAX_SENTENCE)
    after = [i for i in (text.find(". ", end), text.find(".\n", end), text.find("\n\n", end)) if i >= 0]
    stop = min(min(after) + 1 if after else len(text), end + _MAX_SENTENCE)
    return begin, stop


def code_statements(text: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Sentences that promise code "upon acceptance" or in the supplementary material
    (submissions) and that link to it (camera-ready versions), as (start, end) offsets."""
    found: tuple[list[tuple[int, int]], list[tuple[int, int]]] = ([], [])
    for kind, finder in enumerate((_CODE_PROMISE, _CODE_AVAILABLE)):
        for line_start, line_end in finder.spans(text):
            for match in finder.regex.finditer(text[line_start:line_end]):
                begin, stop = _sentence_around(text, line_start + match.start(), line_start + match.end())
                if _CODE_WORDS_RE.search(text[begin:stop]) and (begin, stop) not in found[kind]:
                    found[kind].append((begin, stop))
    return found
