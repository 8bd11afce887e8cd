"""The offline reviewer: fills the review form from the model's prediction, and writes
only what the model can stand behind (its numbers, the features behind them, the nearest
train papers), never invented prose.

Score mapping: Overall = the calibrated predicted rating (1-10) rounded; each 1-4 sub-score =
the rating mapped linearly onto 1-4 (``reviewer.form.sub_score_for_rating``); Decision = Accept
when P(accept) reaches the threshold chosen out of fold on train; Confidence = 1 + round(8 *
|P(accept) - 0.5|), so 1 at a coin flip and 5 at certainty, and 1 for a paper out of the
training distribution (far from every train paper), which the Summary and the meta say."""

from __future__ import annotations

import time

from corpus.paper import Paper
from reviewer.config import ReviewConfig
from reviewer.embedded.model import EmbeddedModel, Neighbour, Prediction
from reviewer.form import SUB_SCORES, ReviewForm, form_score, sub_score_for_rating
from reviewer.outcome import ReviewMeta, ReviewOutcome

MODEL_NAME = "embedded"
#: Similar accepted train papers go to Questions, similar rejected ones to Limitations.
NEIGHBOURS = 3


def _feature_lines(items: list[tuple[str, float]]) -> list[str]:
    return [f"{name}: {value:+.3f} to the predicted rating" for name, value in items]


def _neighbour_lines(neighbours: list[Neighbour]) -> list[str]:
    return [f"Similar train paper: {n.title or n.paper_id} ({n.decision}, similarity {n.similarity:.2f})"
            for n in neighbours]


def _summary(prediction: Prediction) -> str:
    summary = f"Offline model: predicted rating {prediction.rating:.2f}, P(accept) {prediction.p_accept:.2f}"
    if prediction.out_of_distribution:
        summary += (". Out of the training distribution, so these numbers are extrapolations: "
                    + "; ".join(prediction.ood_reasons))
    return summary


def review_form(prediction: Prediction) -> ReviewForm:
    sub_score = sub_score_for_rating(prediction.rating)
    certainty = 0.0 if prediction.out_of_distribution else abs(prediction.p_accept - 0.5)
    accepted = [n for n in prediction.neighbours if n.decision.lower().startswith("accept")][:NEIGHBOURS]
    rejected = [n for n in prediction.neighbours if not n.decision.lower().startswith("accept")][:NEIGHBOURS]
    return ReviewForm(
        Summary=_summary(prediction),
        Strengths=_feature_lines(prediction.raised_by),
        Weaknesses=_feature_lines(prediction.lowered_by),
        Questions=_neighbour_lines(accepted),
        Limitations=_neighbour_lines(rejected),
        **{"Ethical Concerns": False},
        **{name: sub_score for name in SUB_SCORES},
        Overall=form_score("Overall", prediction.rating),
        Confidence=form_score("Confidence", 1 + 8 * certainty),
        Decision="Accept" if prediction.accept else "Reject",
    )


def _trained_on(model: EmbeddedModel) -> str:
    data = model.card.data
    return f"{data['name']} split {data['split']} ({data['n_papers']} papers)"


class EmbeddedReviewer:
    """A ``PaperReviewer`` backed by the trained offline model (CPU, no network)."""

    def __init__(self, model: EmbeddedModel, config: ReviewConfig):
        self.model = model
        self.config = config

    async def review(self, paper: Paper) -> ReviewOutcome:
        started = time.perf_counter()
        prediction = self.model.predict([paper.text])[0]
        form = review_form(prediction)
        meta = ReviewMeta.for_paper(
            paper,
            model=MODEL_NAME,
            config=self.config.model_dump(mode="json"),
            latency_s=time.perf_counter() - started,
            decision_by_threshold=form.decision_at(self.config.threshold),
            threshold=self.config.threshold,
            overall_mean=prediction.rating,
            extra={
                "offline_model": "the offline model (embedded): a TF-IDF + structure ridge trained on "
                f"{_trained_on(self.model)}; the text fields are its evidence, not a reading of the paper",
                "predicted_rating": prediction.rating,
                "p_accept": prediction.p_accept,
                "out_of_distribution": prediction.out_of_distribution,
                "ood_reasons": prediction.ood_reasons,
                "raised_by": prediction.raised_by,
                "lowered_by": prediction.lowered_by,
                "neighbours": [vars(n) for n in prediction.neighbours],
                "model_fingerprint": self.model.card.fingerprint,
                "cv": self.model.card.cv.model_dump(),
            },
        )
        return ReviewOutcome(paper_id=paper.paper_id, review=form, meta=meta)

    @property
    def notes(self) -> list[str]:
        return []  # no API, no price, no parameters to drop

    async def aclose(self) -> None:
        return None
