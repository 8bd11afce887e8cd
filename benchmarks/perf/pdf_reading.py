"""Reading speed of the PDF reader on the shared papers (the ten AI-Scientist PDFs and the three
few-shot PDFs): with every check, without the render check, and bare text extraction for
reference; and what tesseract OCR costs (a whole page, and one line as the glyph check does).

    python benchmarks/perf/pdf_reading.py [--data-dir DIR] [--repeat 3] [--ocr-pages 6]

Pages/s is the best of ``--repeat`` passes (no cache, one process), by the wall clock and by the
process's CPU time. The machine may be shared: the load average is printed before and after, and
the bare extraction shows how fast it runs at the moment.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import pymupdf

from corpus.dataset import data_root
from corpus.glyph_check import ocr_available, ocr_text, tessdata
from corpus.pdf_reader import FLAGS, PageReader, extract


def _papers(root: Path) -> list[tuple[Path, bytes]]:
    paths = sorted((root / "ai_scientist_papers" / "pdfs").glob("*.pdf")) + sorted((root / "fewshot").glob("*.pdf"))
    return [(path, path.read_bytes()) for path in paths]


def _best_pages_per_s(read, papers, repeat: int) -> tuple[float, float, int]:
    """Pages a second by the wall clock and by this process's CPU time (what a quiet machine
    gives: on a shared one the wall clock also counts the time other processes hold the CPU)."""
    wall = cpu = float("inf")
    pages = 0
    for _ in range(repeat):
        started, used = time.perf_counter(), time.process_time()
        pages = sum(read(path, data) for path, data in papers)
        wall, cpu = min(wall, time.perf_counter() - started), min(cpu, time.process_time() - used)
    return pages / wall, pages / cpu, pages


def _bare(path: Path, data: bytes) -> int:
    with pymupdf.open(stream=data, filetype="pdf") as doc:
        for page in doc:
            page.get_text("dict", flags=FLAGS)
        return doc.page_count


def _page_kinds(papers) -> tuple[int, int, int]:
    """Pages read without the glyph trace (plainly visible), pages where the pixels decided
    something, and all pages."""
    plain = rendered = total = 0
    for _, data in papers:
        with pymupdf.open(stream=data, filetype="pdf") as doc:
            masks: dict = {}
            for page in doc:
                visibility = PageReader(page, masks=masks).visibility
                plain += visibility is None
                rendered += visibility is not None and visibility.rendered
                total += 1
    return plain, rendered, total


def _ocr_costs(papers, pages: int) -> dict:
    """Milliseconds to OCR a whole page at 300 dpi, and one text line as the glyph check does."""
    page_ms, line_ms = [], []
    docs = [pymupdf.open(stream=data, filetype="pdf") for _, data in papers]
    try:
        sample = [doc[number] for doc in docs for number in range(min(2, doc.page_count))][:pages]
        for page in sample:
            started = time.perf_counter()
            page.get_textpage_ocr(full=True, dpi=300, tessdata=tessdata()).extractText()
            page_ms.append((time.perf_counter() - started) * 1000)
            lines = [line for block in page.get_text("dict", flags=FLAGS)["blocks"] for line in block["lines"]]
            for line in lines[len(lines) // 2:len(lines) // 2 + 3]:
                started = time.perf_counter()
                ocr_text(page, line["bbox"])
                line_ms.append((time.perf_counter() - started) * 1000)
    finally:
        for doc in docs:
            doc.close()
    return {"pages": len(page_ms), "ms_per_page": statistics.median(page_ms),
            "lines": len(line_ms), "ms_per_line": statistics.median(line_ms)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--ocr-pages", type=int, default=6)
    args = parser.parse_args()
    papers = _papers(data_root(args.data_dir, needed_for="the benchmark"))
    print(f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())} ({os.cpu_count()} CPUs)")
    configurations = {
        "every check (render + OCR glyph check)": lambda path, data: extract(path, data, None).pages,
        "without the render check": lambda path, data: extract(path, data, None, render=False).pages,
        "bare text extraction (no checks)": _bare,
    }
    for name, read in configurations.items():
        wall, cpu, pages = _best_pages_per_s(read, papers, args.repeat)
        print(f"{name}: {wall:.1f} pages/s wall clock, {cpu:.1f} pages/s of CPU time "
              f"({pages} pages, {len(papers)} PDFs, best of {args.repeat})")
    plain, rendered, total = _page_kinds(papers)
    print(f"of {total} pages: {plain} plainly visible (no glyph trace needed), {rendered} rendered for the pixels")
    if ocr_available():
        costs = _ocr_costs(papers, args.ocr_pages)
        print(f"OCR (tesseract via pymupdf, 300 dpi): {costs['ms_per_page']:.0f} ms a whole page (median of "
              f"{costs['pages']}), {costs['ms_per_line']:.0f} ms a line (median of {costs['lines']})")
    else:
        print("OCR not available (tesseract's English data not found): no OCR cost measured")
    print(f"load average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
