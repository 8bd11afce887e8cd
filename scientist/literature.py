"""Finding related papers: Semantic Scholar (optional key, backs off on 429), OpenAlex as
its fallback, and an offline TF-IDF search over the ICLR corpus of the data root."""

from __future__ import annotations

import asyncio
import csv
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal, Protocol

import httpx

S2_URL = "https://api.semanticscholar.org/graph/v1"
OPENALEX_URL = "https://api.openalex.org"
LiteratureMode = Literal["auto", "online", "offline"]


class LiteratureError(Exception):
    """A search that failed (network, server, missing corpus)."""


@dataclass(frozen=True)
class Reference:
    title: str
    authors: list[str]
    year: int | None
    venue: str
    abstract: str
    citations: int | None
    source: str

    @property
    def bibtex_key(self) -> str:
        surname = re.sub(r"[^a-z]", "", (self.authors[0].split()[-1] if self.authors else "anon").lower())
        word = next((w for w in re.findall(r"[a-z]+", self.title.lower()) if len(w) > 3), "paper")
        return f"{surname or 'anon'}{self.year or ''}{word}"

    def bibtex(self) -> str:
        fields = {
            "title": "{" + self.title + "}",
            "author": " and ".join(self.authors) or "Anonymous",
            "year": str(self.year or ""),
            "journal": self.venue or "arXiv preprint",
        }
        body = ",\n".join(f"  {key} = {{{value}}}" for key, value in fields.items() if value)
        return f"@article{{{self.bibtex_key},\n{body}\n}}\n"

    def describe(self, index: int) -> str:
        return (f"{index}: {self.title}. {', '.join(self.authors[:4])}. {self.venue} {self.year or ''}. "
                f"Cited by {self.citations if self.citations is not None else 'n/a'}.\n"
                f"Abstract: {self.abstract[:600]}")


class Searcher(Protocol):
    name: str

    async def search(self, query: str, limit: int = 10) -> list[Reference]: ...


class SemanticScholar:
    name = "semantic_scholar"

    def __init__(self, base_url: str | None = None, api_key: str | None = None, *,
                 max_retries: int = 5, base_delay: float = 1.0, transport: httpx.AsyncBaseTransport | None = None):
        key = api_key or os.environ.get("S2_API_KEY")
        self.client = httpx.AsyncClient(base_url=base_url or os.environ.get("S2_BASE_URL", S2_URL),
                                        headers={"x-api-key": key} if key else {}, timeout=30, transport=transport)
        self.max_retries = max_retries
        self.base_delay = base_delay

    async def search(self, query: str, limit: int = 10) -> list[Reference]:
        params = {"query": query, "limit": limit,
                  "fields": "title,authors,venue,year,abstract,citationCount"}
        response = await _get_with_backoff(self.client, "/paper/search", params, self.max_retries, self.base_delay)
        return [
            Reference(p.get("title") or "", [a.get("name", "") for a in p.get("authors") or []], p.get("year"),
                      p.get("venue") or "", p.get("abstract") or "", p.get("citationCount"), self.name)
            for p in response.json().get("data") or []
        ]


class OpenAlex:
    name = "openalex"

    def __init__(self, base_url: str | None = None, *, max_retries: int = 5, base_delay: float = 1.0,
                 transport: httpx.AsyncBaseTransport | None = None):
        self.client = httpx.AsyncClient(base_url=base_url or os.environ.get("OPENALEX_BASE_URL", OPENALEX_URL),
                                        timeout=30, transport=transport)
        self.max_retries = max_retries
        self.base_delay = base_delay

    async def search(self, query: str, limit: int = 10) -> list[Reference]:
        params = {"search": query, "per-page": limit}
        response = await _get_with_backoff(self.client, "/works", params, self.max_retries, self.base_delay)
        return [
            Reference(
                w.get("title") or "",
                [a["author"]["display_name"] for a in w.get("authorships") or [] if a.get("author")],
                w.get("publication_year"),
                ((w.get("primary_location") or {}).get("source") or {}).get("display_name") or "",
                _abstract(w.get("abstract_inverted_index")),
                w.get("cited_by_count"),
                self.name,
            )
            for w in response.json().get("results") or []
        ]


def _abstract(inverted: dict | None) -> str:
    if not inverted:
        return ""
    positions = sorted((pos, word) for word, where in inverted.items() for pos in where)
    return " ".join(word for _, word in positions)


async def _get_with_backoff(client: httpx.AsyncClient, path: str, params: dict, retries: int,
                            base_delay: float) -> httpx.Response:
    for attempt in range(retries + 1):
        try:
            response = await client.get(path, params=params)
        except httpx.HTTPError as exc:
            if attempt == retries:
                raise LiteratureError(f"{client.base_url}: {type(exc).__name__}: {exc}") from None
        else:
            if response.status_code == 200:
                return response
            if response.status_code != 429 and response.status_code < 500:
                raise LiteratureError(f"{client.base_url}{path}: HTTP {response.status_code}")
            if attempt == retries:
                raise LiteratureError(f"{client.base_url}{path}: HTTP {response.status_code} after {retries} retries")
            retry_after = response.headers.get("retry-after")
            if retry_after and retry_after.replace(".", "", 1).isdigit():
                await asyncio.sleep(min(float(retry_after), 60.0))
                continue
        await asyncio.sleep(min(base_delay * 2**attempt, 60.0))
    raise AssertionError("unreachable")


class LocalCorpus:
    """TF-IDF over the titles, keywords and openings of the ICLR 2022 papers."""

    name = "local_iclr2022"

    def __init__(self, data_dir: str | Path):
        self.folder = Path(data_dir) / "iclr2022"
        if not (self.folder / "metadata.tsv").is_file():
            raise LiteratureError(f"{self.folder / 'metadata.tsv'}: no local corpus for the offline search")

    async def search(self, query: str, limit: int = 10) -> list[Reference]:
        references, vectorizer, matrix = _index(self.folder)
        scores = (matrix @ vectorizer.transform([query]).T).toarray().ravel()
        best = scores.argsort()[::-1][:limit]
        return [references[i] for i in best if scores[i] > 0]


@lru_cache(maxsize=2)
def _index(folder: Path):
    from sklearn.feature_extraction.text import TfidfVectorizer

    references, documents = [], []
    with (folder / "metadata.tsv").open(newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            text_path = folder / "texts" / f"{row['paper_id']}.txt"
            opening = text_path.read_text(errors="replace")[:3000] if text_path.exists() else ""
            abstract = _section_after(opening, "abstract")
            references.append(Reference(row["title"], [], 2022, "ICLR 2022 submission", abstract, None, "local"))
            documents.append(" ".join([row["title"], row.get("keywords", ""), opening]))
    vectorizer = TfidfVectorizer(stop_words="english", sublinear_tf=True, max_features=50000)
    return references, vectorizer, vectorizer.fit_transform(documents)


def _section_after(text: str, heading: str) -> str:
    found = text.lower().find(heading)
    return " ".join(text[found + len(heading):].split())[:1200] if found >= 0 else ""


class Literature:
    """Tries each searcher in order; the next one answers when one fails."""

    def __init__(self, searchers: list[Searcher]):
        self.searchers = searchers
        self.failures: list[str] = []

    async def search(self, query: str, limit: int = 10) -> list[Reference]:
        for searcher in self.searchers:
            try:
                return await searcher.search(query, limit)
            except LiteratureError as exc:
                self.failures.append(f"{searcher.name}: {exc}")
        raise LiteratureError("every literature search failed: " + "; ".join(self.failures[-len(self.searchers):]))


def make_literature(mode: LiteratureMode, data_dir: str | Path | None) -> Literature:
    online: list[Searcher] = [SemanticScholar(), OpenAlex()]
    offline: list[Searcher] = [LocalCorpus(data_dir)] if data_dir else []
    if mode == "offline" and not offline:
        raise LiteratureError("the offline literature search needs a data folder (--data-dir or REVIEW_BENCH_DATA)")
    return Literature({"online": online, "offline": offline, "auto": online + offline}[mode])
