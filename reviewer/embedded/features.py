"""What the offline model sees of a paper: TF-IDF words of the blinded main text, plus a few
structure densities. Absolute length is left out on purpose: accepted papers are served as
longer camera-ready versions, so length measures the version, not the paper."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import StandardScaler

from benchmarks.leakage.blind import blind_text

#: Per 1,000 characters of main text (log1p), each a pattern and its regex flags.
STRUCTURE_PATTERNS: dict[str, tuple[str, int]] = {
    "headings": (r"^#+ ", re.M),
    "math_symbols": (r"\$", 0),
    "figure_refs": (r"\b(?:Figure|Fig\.) \d", 0),
    "table_refs": (r"\bTable \d", 0),
    "citations": (r"\(\w[^()]{0,60}\d{4}[a-z]?\)", 0),
    "theorems": (r"\b(?:Theorem|Lemma|Proposition|Corollary)\b", 0),
    "decimal_numbers": (r"\d+\.\d+", 0),
    "appendix_mentions": (r"\bappendix\b", re.I),
}
_COMPILED = {name: re.compile(pattern, flags) for name, (pattern, flags) in STRUCTURE_PATTERNS.items()}
#: Scales the standardised structure columns against the unit-norm TF-IDF row.
STRUCTURE_WEIGHT = 0.1
#: Words only: numbers and years say when a version was written, not how good it is.
TOKEN_PATTERN = r"(?u)\b[a-zA-Z][a-zA-Z]+\b"


def model_text(text: str) -> str:
    """The blinded main text (no references or appendix), at training and review time alike."""
    return blind_text(text, body_only=True)


def structure_vector(text: str) -> np.ndarray:
    per_k = max(len(text), 1) / 1000
    return np.log1p([len(regex.findall(text)) / per_k for regex in _COMPILED.values()])


@dataclass
class PaperFeatures:
    """Fitted TF-IDF vocabulary and structure scaler; rows are [tf-idf terms | structure]."""

    vectorizer: TfidfVectorizer = field(
        default_factory=lambda: TfidfVectorizer(
            sublinear_tf=True, min_df=3, max_df=0.9, max_features=20000,
            stop_words="english", token_pattern=TOKEN_PATTERN,
        )
    )
    scaler: StandardScaler = field(default_factory=StandardScaler)

    def fit(self, texts: list[str]) -> PaperFeatures:
        self.vectorizer.fit(texts)
        self.scaler.fit(np.array([structure_vector(t) for t in texts]))
        return self

    def transform(self, texts: list[str]) -> csr_matrix:
        words = self.vectorizer.transform(texts)
        structure = self.scaler.transform(np.array([structure_vector(t) for t in texts]))
        return hstack([words, csr_matrix(structure * STRUCTURE_WEIGHT)]).tocsr()

    @property
    def n_terms(self) -> int:
        return len(self.vectorizer.vocabulary_)

    def names(self) -> list[str]:
        terms = [f"term '{t}'" for t in self.vectorizer.get_feature_names_out()]
        return terms + [f"structure: {name} per 1k chars" for name in STRUCTURE_PATTERNS]
