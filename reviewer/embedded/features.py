"""What the offline model sees of a paper: TF-IDF words of the body (title to references) and
of the tail (references and appendix), plus length-normalised structure and style measures of
the body. Every text first goes through the blinder and then ``normalise``, so a paper read
from its PDF and from its markdown snapshot gives the same features.

Absolute length is left out on purpose: accepted papers are served as longer camera-ready
versions, so length measures the version as much as the paper; every count is per 1,000
characters (or per word). Blinding placeholders ([URL], 20XX, XXXX.XXXXX) are dropped: their
number counts what the blinder removed, a version cue. Mentions of "github" were dropped for the
same reason (anonymous submissions point to anonymised repositories). Markdown table cells were
left out too (see SELECTION.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import StandardScaler

from corpus.blind import blind_text
from corpus.cues import references_start
from reviewer.embedded.normalise import normalise

#: Counted per 1,000 characters of normalised body text (then log1p): a regex and its flags
#: (``re.I`` patterns are written in lower case and run on the lower-cased text: faster).
STRUCTURE_PATTERNS: dict[str, tuple[str, int]] = {
    "figure refs": (r"\b(?:Figure|Fig\.) ?\d", 0),
    "table refs": (r"\bTable ?\d", 0),
    "citations": (r"\(\w[^()]{0,60}\d{4}[a-z]?\)|\[\d+(?:, ?\d+)*\]", 0),
    "et al.": (r"et al\.", 0),
    "theorems": (r"\b(?:Theorem|Lemma|Proposition|Corollary)\b", 0),
    "proofs": (r"\bproof\b", re.I),
    "definitions": (r"\bDefinition\b", 0),
    "decimal numbers": (r"\d+\.\d+", 0),
    "percent signs": (r"%", 0),
    "plus-minus": (r"±", 0),
    "appendix mentions": (r"\bappendix\b", re.I),
    "equation refs": (r"\b(?:Eq\.|Equation|Eqn\.)\s*\(?\d", 0),
    "section refs": (r"\bSection \d", 0),
    "algorithm refs": (r"\bAlgorithm \d", 0),
    "'we propose'": (r"\bwe (?:propose|introduce|present)\b", re.I),
    "'novel'": (r"\bnovel\b", re.I),
    "'state of the art'": (r"state[- ]of[- ]the[- ]art", re.I),
    "'outperform'": (r"\boutperform", re.I),
    "'significant'": (r"\bsignificant", re.I),
    "ablations": (r"\bablat", re.I),
    "limitations": (r"\blimitation", re.I),
    "'theory'": (r"\btheor", re.I),
    "'we show'": (r"\bwe (?:show|prove|demonstrate)\b", re.I),
    "hedges": (r"\b(?:may|might|could|possibly|perhaps)\b", re.I),
    "non-ASCII characters": (r"[^\x00-\x7f]", 0),
    "Greek letters": (r"[α-ωΑ-Ω]", 0),
    "math operators": (r"[=≤≥∈∑∏∫∂∇]", 0),
    "digits": (r"\d", 0),
    "all-caps words": (r"\b[A-Z]{2,}\b", 0),
    "benchmark datasets": (r"\b(?:CIFAR|ImageNet|MNIST|COCO|GLUE|SQuAD|WMT|Atari|MuJoCo|D4RL)", 0),
    "questions": (r"\?", 0),
    "'i.e.'/'e.g.'": (r"\b(?:i\.e\.|e\.g\.)", 0),
    "'this paper'": (r"\bthis (?:paper|work)\b", re.I),
    "arXiv mentions": (r"arxiv", re.I),
}
_COMPILED = [(re.compile(pattern), bool(flags & re.I)) for pattern, flags in STRUCTURE_PATTERNS.values()]
#: Per 1,000 characters (log1p).
PUNCTUATION = (",", ".", ";", ":", "(", '"', "“", "—", "–", "-", "/", "=", "[", "!", "'")
#: Per 1,000 words (log1p): how a text is written, whatever it is about.
FUNCTION_WORDS = tuple(
    "the a an of in to is are was were be been being we our us this that these those which who whom whose it its "
    "can could may might will would should must do does did not no and or but if then than as by with for on at "
    "from into over under between through about also however thus therefore hence since while although because "
    "such each both all any some more most less only very well here there where when how what".split()
)
_FUNCTION_INDEX = {word: i for i, word in enumerate(FUNCTION_WORDS)}
#: Length-free style measures (log1p).
STYLE_MEASURES = ("words per sentence", "letters per word", "distinct words per word in the first 3,000",
                  "share of words of 10+ letters")
_WORD, _SENTENCE_END = re.compile(r"[A-Za-z]+"), re.compile(r"[.!?]\s")
_TTR_WORDS = 3000
#: What the blinder writes in place of what it removed.
_BLINDING_MARKS = re.compile(r"\[URL\]|20XX|XXXX\.XXXXX")
#: Scales the standardised dense columns against the unit-norm TF-IDF rows.
DENSE_WEIGHT = 0.07
#: Words only: numbers and years say when a version was written, not how good it is.
TOKEN_PATTERN = r"(?u)\b[a-zA-Z][a-zA-Z]+\b"


@dataclass(frozen=True)
class PreparedPaper:
    """A paper as the model reads it: normalised body and tail, and the body's dense measures."""

    body: str
    tail: str
    dense: np.ndarray

    @property
    def chars(self) -> int:
        return len(self.body) + len(self.tail)


def prepare(text: str) -> PreparedPaper:
    """Blind, split at the references, drop the blinder's marks and normalise; the same at
    training and review time, for markdown and PDF text alike."""
    blind = _BLINDING_MARKS.sub(" ", blind_text(text))
    cut = references_start(blind)
    body, tail = (blind, "") if cut is None else (blind[:cut], blind[cut:])
    body = normalise(body)
    return PreparedPaper(body=body, tail=normalise(tail), dense=dense_vector(body))


def dense_vector(text: str) -> np.ndarray:
    """Structure densities, punctuation densities, function-word rates and style, all log1p."""
    per_k = max(len(text), 1) / 1000
    lower = text.lower()
    structure = [len(regex.findall(lower if folded else text)) / per_k for regex, folded in _COMPILED]
    punctuation = [text.count(mark) / per_k for mark in PUNCTUATION]
    words = _WORD.findall(text)
    n_words = max(len(words), 1)
    function = np.zeros(len(FUNCTION_WORDS))
    for word in words:
        index = _FUNCTION_INDEX.get(word.lower())
        if index is not None:
            function[index] += 1
    first = {w.lower() for w in words[:_TTR_WORDS]}
    style = [
        len(words) / max(len(_SENTENCE_END.findall(text)), 1),
        sum(map(len, words)) / n_words,
        len(first) / max(min(len(words), _TTR_WORDS), 1),
        sum(len(w) >= 10 for w in words) / n_words,
    ]
    return np.log1p(np.concatenate([structure, punctuation, 1000 * function / n_words, style]))


def dense_names() -> list[str]:
    return ([f"structure: {name} per 1k chars" for name in STRUCTURE_PATTERNS]
            + [f"punctuation: '{mark}' per 1k chars" for mark in PUNCTUATION]
            + [f"style: '{word}' per 1k words" for word in FUNCTION_WORDS]
            + [f"style: {name}" for name in STYLE_MEASURES])


def _vectorizer() -> TfidfVectorizer:
    return TfidfVectorizer(sublinear_tf=True, min_df=0.03, max_df=0.5, stop_words="english",
                           token_pattern=TOKEN_PATTERN)


@dataclass
class PaperFeatures:
    """Fitted vocabularies and dense scaler; rows are [body terms | tail terms | dense]."""

    body: TfidfVectorizer = field(default_factory=_vectorizer)
    tail: TfidfVectorizer = field(default_factory=_vectorizer)
    scaler: StandardScaler = field(default_factory=StandardScaler)

    def fit_transform(self, papers: list[PreparedPaper]) -> csr_matrix:
        body = self.body.fit_transform([p.body for p in papers])
        tail = self.tail.fit_transform([p.tail for p in papers])
        return self._rows(body, tail, self.scaler.fit_transform(np.array([p.dense for p in papers])))

    def transform(self, papers: list[PreparedPaper]) -> csr_matrix:
        body = self.body.transform([p.body for p in papers])
        tail = self.tail.transform([p.tail for p in papers])
        return self._rows(body, tail, self.scaler.transform(np.array([p.dense for p in papers])))

    @staticmethod
    def _rows(body: csr_matrix, tail: csr_matrix, dense: np.ndarray) -> csr_matrix:
        return hstack([body, tail, csr_matrix(dense * DENSE_WEIGHT)]).tocsr()

    @property
    def n_body_terms(self) -> int:
        return len(self.body.vocabulary_)

    def names(self) -> list[str]:
        return ([f"term '{t}'" for t in self.body.get_feature_names_out()]
                + [f"term '{t}' in references/appendix" for t in self.tail.get_feature_names_out()]
                + dense_names())
