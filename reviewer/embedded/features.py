"""What the offline model sees of a paper: TF-IDF words of the blinded main text, plus
structure densities and style measures. Absolute length is left out on purpose: accepted
papers are served as longer camera-ready versions, so length measures the version, not the
paper. Markdown table cells were left out too: they separate accepted from rejected train
papers but do not track the rating among the rejected ones alone (all submissions, one
version), the mark of a version cue rather than a quality."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import StandardScaler

from corpus.blind import blind_text

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
    "bold_marks": (r"\*\*", 0),
    "equation_numbers": (r"\(\d{1,3}\)\s*$", re.M),
    "non_ascii_chars": (r"[^\x00-\x7f]", 0),
    "list_items": (r"^\s*(?:[-•*]|\d+\.)\s", re.M),
    "algorithm_refs": (r"\bAlgorithm \d", 0),
    "we_propose": (r"\bwe (?:propose|introduce|present)\b", re.I),
}
_COMPILED = {name: re.compile(pattern, flags) for name, (pattern, flags) in STRUCTURE_PATTERNS.items()}
#: Style measures (log1p), each independent of the text's length.
STYLE_MEASURES = ("words per sentence", "letters per word", "distinct words per 10 of the first 3,000")
_WORD, _SENTENCE_END = re.compile(r"[A-Za-z]+"), re.compile(r"[.!?]\s")
_TTR_WORDS = 3000
#: Scales the standardised structure columns against the unit-norm TF-IDF row.
STRUCTURE_WEIGHT = 0.1
#: Words only: numbers and years say when a version was written, not how good it is.
TOKEN_PATTERN = r"(?u)\b[a-zA-Z][a-zA-Z]+\b"


def model_text(text: str) -> str:
    """The blinded main text (no references or appendix), at training and review time alike."""
    return blind_text(text, body_only=True)


def structure_vector(text: str) -> np.ndarray:
    """Structure densities (per 1,000 characters) followed by the style measures, all log1p."""
    per_k = max(len(text), 1) / 1000
    densities = [len(regex.findall(text)) / per_k for regex in _COMPILED.values()]
    words = _WORD.findall(text)
    first = {w.lower() for w in words[:_TTR_WORDS]}
    style = [
        len(words) / max(len(_SENTENCE_END.findall(text)), 1),
        sum(map(len, words)) / max(len(words), 1),
        10 * len(first) / max(min(len(words), _TTR_WORDS), 1),
    ]
    return np.log1p(densities + style)


@dataclass
class PaperFeatures:
    """Fitted TF-IDF vocabulary and structure scaler; rows are [tf-idf terms | structure]."""

    vectorizer: TfidfVectorizer = field(
        default_factory=lambda: TfidfVectorizer(
            sublinear_tf=True, min_df=0.03, max_df=0.5,
            stop_words="english", token_pattern=TOKEN_PATTERN,
        )
    )
    scaler: StandardScaler = field(default_factory=StandardScaler)

    def fit_transform(self, texts: list[str]) -> csr_matrix:
        """Fit on ``texts`` and return their rows (each text is tokenized once)."""
        words = self.vectorizer.fit_transform(texts)
        structure = self.scaler.fit_transform(np.array([structure_vector(t) for t in texts]))
        return self._rows(words, structure)

    def transform(self, texts: list[str]) -> csr_matrix:
        words = self.vectorizer.transform(texts)
        structure = self.scaler.transform(np.array([structure_vector(t) for t in texts]))
        return self._rows(words, structure)

    @staticmethod
    def _rows(words: csr_matrix, structure: np.ndarray) -> csr_matrix:
        return hstack([words, csr_matrix(structure * STRUCTURE_WEIGHT)]).tocsr()

    @property
    def n_terms(self) -> int:
        return len(self.vectorizer.vocabulary_)

    def names(self) -> list[str]:
        terms = [f"term '{t}'" for t in self.vectorizer.get_feature_names_out()]
        return (terms + [f"structure: {name} per 1k chars" for name in STRUCTURE_PATTERNS]
                + [f"style: {name}" for name in STYLE_MEASURES])
