"""Text of a PDF as a human reader sees it; text a human cannot see is kept out and reported.

Hidden text is how prompt injections reach an LLM reviewer ("ignore all previous
instructions..."). ``corpus.visibility`` decides what a reader of the rendered page can see;
this module assembles the visible text in reading order (pymupdf's structured text), leaves out
what is hidden or clipped away, and reports each hidden span with its reason and an excerpt.
Visible text that reads like an instruction to an LLM reviewer is checked against the drawn
glyphs by OCR (``corpus.glyph_check``): a font whose character map lies shows one text to the
reader and hands another to the model.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pymupdf
from pydantic import BaseModel, ValidationError

from corpus.files import atomic_write
from corpus.files import cache_dir as default_cache_dir
from corpus.injection import fold_text
from corpus.paper import HiddenSpan, HiddenText, PaperInputError
from corpus.visibility import PageVisibility, Run, char, core, glyph_key, plainly_visible, share_inside

#: Bump when extraction changes, so cached results from older rules are not reused.
EXTRACTOR_VERSION = 2
EXCERPT_CHARS = 200
MAX_REPORTED_SPANS = 50
#: pymupdf4llm's page separator, which the benchmark's paper texts use too.
PAGE_BREAK = "\n\n-----\n\n"
BLOCK_BREAK = "\n\n"
# TEXT_MEDIABOX_CLIP leaves out glyphs outside the page or entirely removed by a clip path.
FLAGS = (pymupdf.TEXTFLAGS_DICT | pymupdf.TEXT_MEDIABOX_CLIP) & ~pymupdf.TEXT_PRESERVE_IMAGES
#: Hidden text with a word in it is reported; hidden digits and symbols alone (clipped axis
#: ticks, white padding zeros in a table) are kept out without a warning.
WORD = re.compile(r"[^\W\d_]{2}|[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
NOT_ALNUM = re.compile(r"[\W_]+")
SPACES = re.compile(r"[ \u00a0\t\n\r\u3000]+")
MANY_SPACES = re.compile(r" {2,}")


class PdfText(BaseModel):
    text: str
    pages: int
    hidden: HiddenText
    extractor: int = EXTRACTOR_VERSION


def read_pdf(
    path: str | Path, max_pages: int | None = None, cache_dir: str | Path | None = None
) -> PdfText:
    """The visible text of the first ``max_pages`` pages, cached by the file's content."""
    from corpus.glyph_check import ocr_available

    path = Path(path)
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    root = Path(cache_dir) if cache_dir else default_cache_dir()
    ocr = "ocr" if ocr_available() else "no-ocr"
    cache_file = root / "pdf_text" / f"{digest}-{'all' if max_pages is None else max_pages}-{ocr}.json"
    cached = _load_cached(cache_file)
    if cached:
        return cached
    result = extract(path, data, max_pages)
    atomic_write(cache_file, result.model_dump_json())
    return result


def _load_cached(cache_file: Path) -> PdfText | None:
    try:
        cached = PdfText.model_validate_json(cache_file.read_text(encoding="utf-8"))
    except (OSError, ValidationError):
        return None
    return cached if cached.extractor == EXTRACTOR_VERSION else None


def extract(path: Path, data: bytes, max_pages: int | None, *, render: bool = True, ocr: bool = True) -> PdfText:
    """Read the PDF without the cache. ``render=False`` skips the pixel check (undecided text
    counts as visible) and ``ocr=False`` the glyph check: for measuring what they cost."""
    try:
        doc = pymupdf.open(stream=data, filetype="pdf")
    except pymupdf.FileDataError as exc:
        raise PaperInputError(f"{path}: not a readable PDF (corrupted or truncated)") from exc
    with doc:
        if doc.needs_pass:
            raise PaperInputError(f"{path}: the PDF is encrypted; give a copy without a password")
        if doc.page_count == 0:
            raise PaperInputError(f"{path}: the PDF has no pages")
        count = doc.page_count if max_pages is None else min(max_pages, doc.page_count)
        masks: dict = {}  # image masks decoded for one page serve the others
        pages = [PageReader(doc[number], render=render, masks=masks) for number in range(count)]
        notes = []
        if ocr:
            from corpus.glyph_check import check_glyphs

            notes = check_glyphs(pages)
    text = PAGE_BREAK.join(page.text for page in pages if page.text)
    if not text:
        raise PaperInputError(
            f"{path}: the PDF has no extractable text (scanned or empty?); run OCR on it first"
        )
    spans = [span for page in pages for span in page.hidden]
    return PdfText(text=text, pages=count, hidden=summarise(spans, text, notes))


def summarise(spans: list[HiddenSpan], visible: str, notes: list[str] | None = None) -> HiddenText:
    """Report the hidden spans that say something the reader cannot see elsewhere: with a word
    in them, and not a piece of visible text (a watermark half covered by a figure, shown whole
    on another page)."""
    worded = [span for span in spans if WORD.search(span.excerpt)]
    seen = _letters(visible) if worded else ""
    reported = [span for span in worded if _letters(span.excerpt) not in seen]
    reasons: dict[str, int] = {}
    for span in reported:
        reasons[span.reason] = reasons.get(span.reason, 0) + 1
    excerpt = re.sub(r"\s+", " ", " ".join(span.excerpt for span in reported)).strip()
    return HiddenText(
        count=len(reported), excerpt=excerpt[:EXCERPT_CHARS], reasons=reasons,
        spans=[span.model_copy(update={"excerpt": span.excerpt[:EXCERPT_CHARS]})
               for span in reported[:MAX_REPORTED_SPANS]],
        unreported=len(spans) - len(reported), notes=notes or [],
    )


def _letters(text: str) -> str:
    return NOT_ALNUM.sub("", fold_text(text))


@dataclass
class Line:
    text: str
    #: None until asked for (``PageReader.with_boxes``): ordinary pages are read without them.
    bbox: tuple[float, float, float, float] | None = None


class PageReader:
    """One page: its visible lines (blocks in content order) and its hidden spans."""

    def __init__(self, page: pymupdf.Page, *, render: bool = True, masks: dict | None = None) -> None:
        if page.rotation:  # one coordinate space for the trace, the paint log and the text
            page.set_rotation(0)
        self.page = page
        self.hidden: list[HiddenSpan] = []
        self._textpage = page.get_textpage(flags=FLAGS)
        blocks = [block[4] for block in self._textpage.extractBLOCKS() if block[6] == 0]
        log = page.get_bboxlog()
        if plainly_visible(page, log, self._textpage.extractDICT()):
            self.visibility = None
            self.blocks = [[Line(line.strip()) for line in block.split("\n")] for block in blocks]
            return
        self.visibility = PageVisibility(page, render=render, masks=masks, log=log)
        left_out = len(SPACES.sub("", "".join(blocks))) != self.visibility.glyph_count
        if self.visibility.hidden or left_out:
            # Some glyphs are hidden, or the extraction left some out: go glyph by glyph.
            content = self._textpage.extractRAWDICT()
            self._holding = _spans_holding(content, self.visibility.hidden)
            self.blocks = [[self._line(line) for line in block["lines"]] for block in content["blocks"]]
            if left_out:
                self._find_clipped(content)
        else:
            self.blocks = [[Line(line.strip()) for line in block.split("\n")] for block in blocks]
        self.hidden = self._runs_hidden() + self.hidden

    @property
    def text(self) -> str:
        blocks = ("\n".join(line.text for line in block if line.text) for block in self.blocks)
        return BLOCK_BREAK.join(block for block in blocks if block)

    def with_boxes(self) -> None:
        """Give every line its box (from the structured text; the lines and their text stay)."""
        if all(line.bbox is not None for block in self.blocks for line in block):
            return
        content = self._textpage.extractDICT()
        boxes = [line["bbox"] for block in content["blocks"] for line in block["lines"]
                 if "".join(span["text"] for span in line["spans"]).strip()]
        lines = [line for block in self.blocks for line in block if line.text]
        for line, box in zip(lines, boxes):
            line.bbox = box

    def drop_lines(self, lines: list[Line], reason: str) -> None:
        """Keep these lines out of the text (the glyph check found they lie) and report them."""
        for line in lines:
            self.hidden.append(HiddenSpan(page=self.page.number + 1, reason=reason, excerpt=line.text))
            line.text = ""

    # ---- assembling the visible text ---------------------------------------------------

    def _line(self, line: dict) -> Line:
        """A line of the raw structured text, without its hidden glyphs."""
        parts = [self._span_text(span) for span in line["spans"]]
        return Line(MANY_SPACES.sub(" ", "".join(parts)).strip(), line["bbox"])

    def _span_text(self, span: dict) -> str:
        if id(span) not in self._holding:
            return "".join(c["c"] for c in span["chars"])
        hidden = self.visibility.hidden
        return "".join(c["c"] for c in span["chars"]
                       if c["c"].isspace() or glyph_key(c["c"], c["origin"]) not in hidden)

    def _find_clipped(self, content: dict) -> None:
        """Trace glyphs the extraction left out: clipped away (or off the page), unless a glyph
        the extraction kept lies on the same spot (a duplicate drawn for fake bold)."""
        kept: dict[str, list[tuple[float, float]]] = {}
        keys = set()
        for block in content["blocks"]:
            for line in block["lines"]:
                for span in line["spans"]:
                    for c in span["chars"]:
                        keys.add(glyph_key(c["c"], c["origin"]))
                        kept.setdefault(c["c"], []).append(c["origin"])
        clips = None
        for run in self.visibility.runs:
            for position, glyph in enumerate(run.glyphs):
                if run.verdicts[position] or glyph_key(char(glyph), glyph[2]) in keys:
                    continue
                if any(abs(x - glyph[2][0]) + abs(y - glyph[2][1]) < 0.1 * max(run.size, 1)
                       for x, y in kept.get(char(glyph), ())):
                    continue
                if share_inside(glyph[3], self.page.rect) < 0.5:
                    run.verdicts[position] = "off_page"
                    continue
                if clips is None:
                    clips = [pymupdf.Rect(d["scissor"]) for d in self.page.get_cdrawings(extended=True)
                             if d.get("type") == "clip" and d.get("scissor")]
                if any(share_inside(core(glyph[3]), clip) < 0.5 for clip in clips):
                    run.verdicts[position] = "clipped"

    # ---- reporting -----------------------------------------------------------------------

    def _runs_hidden(self) -> list[HiddenSpan]:
        """Consecutive hidden glyphs (in paint order) with one reason make one reported span."""
        spans: list[HiddenSpan] = []
        current: list[str] = []
        reason: str | None = None

        def close():
            if current:
                spans.append(HiddenSpan(page=self.page.number + 1, reason=reason, excerpt=" ".join(current)))

        for run in self.visibility.runs:
            if not any(run.verdicts):  # a visible run ends the hidden span before it
                close()
                current, reason = [], None
                continue
            for piece_reason, text in _pieces(run):
                if piece_reason != reason:
                    close()
                    current, reason = [], piece_reason
                if piece_reason:
                    current.append(text)
        close()
        return spans


def _spans_holding(content: dict, hidden: dict) -> set[int]:
    """The ids of the spans whose box holds the origin of a hidden glyph: only their characters
    need looking up one by one."""
    spans = [span for block in content["blocks"] for line in block["lines"] for span in line["spans"]]
    if not hidden or not spans:
        return set()
    spots = np.array([(x, y) for _, x, y in hidden], dtype=float) / 10
    boxes = np.array([span["bbox"] for span in spans], dtype=float)
    holds = ((spots[None, :, 0] >= boxes[:, None, 0] - 0.1) & (spots[None, :, 0] <= boxes[:, None, 2] + 0.1)
             & (spots[None, :, 1] >= boxes[:, None, 1] - 0.1) & (spots[None, :, 1] <= boxes[:, None, 3] + 0.1))
    return {id(span) for span, held in zip(spans, holds.any(axis=1)) if held}


def _pieces(run: Run):
    """(verdict, text) of each stretch of a run's glyphs with one verdict, spaces restored
    where the glyphs leave a gap."""
    stretch: list[str] = []
    verdict = run.verdicts[0]
    previous = None
    for glyph, current in zip(run.glyphs, run.verdicts):
        if current != verdict:
            yield verdict, "".join(stretch)
            stretch, verdict = [], current
        elif previous is not None and glyph[3][0] - previous[3][2] > 0.15 * run.size:
            stretch.append(" ")
        stretch.append(char(glyph))
        previous = glyph
    yield verdict, "".join(stretch)
