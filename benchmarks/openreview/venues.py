"""The venues ``data download`` knows by short name, and how each one's reviews read.

A venue is the OpenReview venue id, the API that serves it (v1 up to ICLR 2023 and NeurIPS
2022, v2 after), the invitation names of its reviews and decisions, the review fields that
hold the rating, the confidence and the sub-scores, and how its rating scale maps onto the
NeurIPS review form (Overall 1-10, the form the reviewer fills in). API v2 venues also
describe themselves in their group's content (submission, review and decision names, rating
and confidence fields, the venue ids of rejected and withdrawn papers); those settings, when
readable, override the defaults here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from corpus.venue_rules import family_of, year_of

V1_LAST_YEAR = {"iclr": 2023, None: 2022}


class UnknownVenue(ValueError):
    pass


def leading_number(raw) -> float | None:
    """6 -> 6.0; "6: marginally above the acceptance threshold" -> 6.0; "3 good" -> 3.0."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, (int, float)):
        return float(raw)
    match = re.match(r"\s*(\d+(?:\.\d+)?)", str(raw)) if raw is not None else None
    return float(match.group(1)) if match else None


@dataclass(frozen=True)
class Scale:
    """How a venue's score maps onto the NeurIPS form. ``table`` maps a raw value (its number
    as text, e.g. "5", or an option's text in lower case, e.g. "leaning accept") to the form's
    value; without a table the raw number is kept when it lies in ``keep``."""

    description: str
    table: dict[str, float] | None = None
    keep: tuple[float, float] = (1, 10)

    def to_form(self, raw) -> float | None:
        number = leading_number(raw)
        if self.table is None:
            low, high = self.keep
            return number if number is not None and low <= number <= high else None
        key = f"{number:g}" if number is not None else str(raw).strip().lower()
        return self.table.get(key)

    def card(self) -> dict:
        return {"description": self.description, "to_neurips_form": self.table or f"kept as is within {self.keep}"}


#: ICLR rates on its own subset of 1-10 (2025: 1, 3, 5, 6, 8, 10) whose 6 is "marginally above
#: the acceptance threshold", the bar the benchmark's human vote uses; the ICLR 2022 benchmark
#: and the AI Scientist's evaluation compare these numbers with the form's Overall as they are.
ICLR_SCALE = Scale("ICLR rating: numbers kept (6 = marginally above the acceptance threshold); 0 raised to 1",
                   table={"0": 1.0, **{str(n): float(n) for n in range(1, 11)}})
NEURIPS_1_10 = Scale("1-10 overall rating with the same options as the NeurIPS form: kept")
#: NeurIPS 2025 rates 1-6 (Strong Reject, Reject, Borderline reject, Borderline accept, Accept,
#: Strong Accept): each option onto the form's option of the same wording.
NEURIPS_1_6 = Scale("NeurIPS 2025 rating 1-6 onto the form's options of the same wording",
                    table={"1": 2.0, "2": 3.0, "3": 4.0, "4": 5.0, "5": 7.0, "6": 8.0})
#: ICML 2025 recommends 1-5 (Reject, Weak reject, Weak accept, Accept, Strong accept).
ICML_1_5 = Scale("ICML 2025 overall recommendation 1-5 onto the form's options of the same wording",
                 table={"1": 3.0, "2": 4.0, "3": 6.0, "4": 7.0, "5": 8.0})
#: TMLR reviews carry no rating; each reviewer's official recommendation does.
TMLR_RECOMMENDATION = Scale("TMLR official recommendation onto the form's options of the same wording",
                            table={"reject": 3.0, "leaning reject": 4.0, "leaning accept": 6.0, "accept": 7.0})
CONFIDENCE_1_5 = Scale("confidence 1-5, as on the form", keep=(1, 5))
SUB_SCORE_1_4 = Scale("sub-scores 1-4, as on the form", keep=(1, 4))

#: Review fields that hold a sub-score, and the form's field each one is.
SUB_SCORE_FIELDS = {
    "soundness": "Soundness", "presentation": "Presentation", "contribution": "Contribution",
    "originality": "Originality", "quality": "Quality", "clarity": "Clarity", "significance": "Significance",
}


@dataclass(frozen=True)
class Venue:
    name: str
    venue_id: str
    api: int
    family: str | None
    year: int | None
    #: Per-paper groups are "<venue>/<paper_group><number>" (TMLR: "Paper").
    paper_group: str = "Submission"
    submission_invitation: str = ""
    review_names: tuple[str, ...] = ("Official_Review",)
    rating_fields: tuple[str, ...] = ("rating", "recommendation", "overall_recommendation")
    confidence_fields: tuple[str, ...] = ("confidence",)
    decision_name: str = "Decision"
    decision_fields: tuple[str, ...] = ("decision", "recommendation")
    #: A reply per reviewer that holds the rating instead of the review (TMLR).
    recommendation_name: str | None = None
    rating: Scale = NEURIPS_1_10
    confidence: Scale = CONFIDENCE_1_5
    sub_scores: Scale = SUB_SCORE_1_4
    #: Venue ids a submission's ``venueid`` takes when rejected, withdrawn, desk-rejected.
    status_ids: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        if not self.submission_invitation:
            name = "Blind_Submission" if self.api == 1 else "Submission"
            object.__setattr__(self, "submission_invitation", f"{self.venue_id}/-/{name}")
        defaults = {status: f"{self.venue_id}/{suffix}" for status, suffix in (
            ("rejected", "Rejected_Submission"), ("withdrawn", "Withdrawn_Submission"),
            ("desk_rejected", "Desk_Rejected_Submission"))}
        object.__setattr__(self, "status_ids", {**defaults, **self.status_ids})

    def with_settings(self, content: dict) -> Venue:
        """This venue with the settings its API v2 group publishes (``content.<key>.value``)."""
        def value(key):
            entry = content.get(key)
            return entry.get("value") if isinstance(entry, dict) else None

        changes: dict = {}
        if value("submission_id"):
            changes["submission_invitation"] = value("submission_id")
        if value("submission_name"):
            changes["paper_group"] = value("submission_name")
        if value("review_name"):
            changes["review_names"] = (value("review_name"),)
        if value("decision_name"):
            changes["decision_name"] = value("decision_name")
        for key, attribute in (("decision_field_name", "decision_fields"), ("review_rating", "rating_fields"),
                               ("review_confidence", "confidence_fields")):
            if value(key):
                changes[attribute] = tuple(dict.fromkeys((value(key), *getattr(self, attribute))))
        status_ids = {status: value(f"{status}_venue_id") for status in ("rejected", "withdrawn", "desk_rejected")}
        changes["status_ids"] = {**self.status_ids, **{k: v for k, v in status_ids.items() if v}}
        return replace(self, **changes)

    def card(self) -> dict:
        return {
            "rating": {"fields": list(self.rating_fields), **self.rating.card()},
            "confidence": {"fields": list(self.confidence_fields), **self.confidence.card()},
            "sub_scores": {"fields": SUB_SCORE_FIELDS, **self.sub_scores.card()},
        }


def _conference(name: str, venue_id: str, family: str, year: int, **settings) -> Venue:
    api = 1 if year <= V1_LAST_YEAR.get(family, V1_LAST_YEAR[None]) else 2
    return Venue(name=name, venue_id=venue_id, api=api, family=family, year=year, **settings)


KNOWN: dict[str, Venue] = {
    **{f"iclr{year}": _conference(f"iclr{year}", f"ICLR.cc/{year}/Conference", "iclr", year, rating=ICLR_SCALE)
       for year in range(2018, 2027)},
    "neurips2023": _conference("neurips2023", "NeurIPS.cc/2023/Conference", "neurips", 2023),
    "neurips2024": _conference("neurips2024", "NeurIPS.cc/2024/Conference", "neurips", 2024),
    "neurips2025": _conference("neurips2025", "NeurIPS.cc/2025/Conference", "neurips", 2025, rating=NEURIPS_1_6),
    "icml2024": _conference("icml2024", "ICML.cc/2024/Conference", "icml", 2024),
    "icml2025": _conference("icml2025", "ICML.cc/2025/Conference", "icml", 2025, rating=ICML_1_5,
                            rating_fields=("overall_recommendation", "rating")),
    "colm2024": _conference("colm2024", "colmweb.org/COLM/2024/Conference", "colm", 2024),
    "colm2025": _conference("colm2025", "colmweb.org/COLM/2025/Conference", "colm", 2025),
    "tmlr": Venue(
        name="tmlr", venue_id="TMLR", api=2, family="tmlr", year=None, paper_group="Paper",
        review_names=("Review",), rating_fields=("decision_recommendation",), recommendation_name="Official_Recommendation",
        decision_fields=("recommendation", "decision"), rating=TMLR_RECOMMENDATION,
        status_ids={"rejected": "TMLR/Rejected", "withdrawn": "TMLR/Withdrawn_Submission",
                    "desk_rejected": "TMLR/Desk_Rejected"},
    ),
}


def resolve(name: str) -> Venue:
    """A short name (``iclr2025``) or a full venue id (``ICLR.cc/2025/Conference``)."""
    known = KNOWN.get(name.lower())
    if known is not None:
        return known
    for venue in KNOWN.values():
        if venue.venue_id == name:
            return venue
    if "/" not in name:
        raise UnknownVenue(
            f"unknown venue {name!r}: give one of {', '.join(KNOWN)} or a full OpenReview venue id "
            "(e.g. ICLR.cc/2025/Conference)"
        )
    family, year = family_of(name), year_of(name)
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    if year is None:
        return Venue(name=slug, venue_id=name, api=2, family=family, year=None)
    return _conference(slug, name, family, year, **({"rating": ICLR_SCALE} if family == "iclr" else {}))
