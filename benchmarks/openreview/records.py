"""A submission with its reviews and decision, read from OpenReview notes of either API.

API v1 notes hold plain values (``content.rating == "6: ..."``) and name one ``invitation``;
API v2 notes wrap each value (``content.rating.value == 6``) and list ``invitations``.
``Submission`` is the same for both, so one writer serves every venue.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from benchmarks.openreview.venues import SUB_SCORE_FIELDS, Venue

#: A paper's state after the venue decided (None before, or when the notes do not say).
STATUSES = ("accepted", "rejected", "withdrawn", "desk_rejected")


def content_value(content: dict, key: str):
    """``content[key]`` of a v1 note, ``content[key]["value"]`` of a v2 note."""
    entry = (content or {}).get(key)
    return entry.get("value") if isinstance(entry, dict) and "value" in entry else entry


def reply_invitations(reply: dict) -> list[str]:
    return reply.get("invitations") or ([reply["invitation"]] if reply.get("invitation") else [])


def replied_by(reply: dict, name: str) -> bool:
    """A reply posted through a ``.../-/<name>`` invitation (``Official_Review``, ``Decision``; API v1
    also ``.../-/Paper7/Meta_Review``)."""
    return any(invitation.endswith(f"/{name}") for invitation in reply_invitations(reply))


def posted_at(note: dict) -> int | None:
    """When a note was created (ms since the epoch): ``tcdate``, else ``cdate``."""
    value = note.get("tcdate") or note.get("cdate")
    return int(value) if value else None


@dataclass(frozen=True)
class Review:
    id: str
    posted_at: int | None
    #: The venue's own values, and the same on the NeurIPS form (None where they do not map).
    rating_raw: str | float | None
    rating: float | None
    confidence_raw: str | float | None
    confidence: float | None
    scores_raw: dict[str, str | float] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)
    #: The review's text fields in the form's order (summary, strengths, weaknesses, ...).
    text: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Submission:
    paper_id: str
    title: str
    keywords: str
    abstract: str = ""
    number: int | None = None
    #: One per official review, in the order the reviews were posted.
    reviews: list[Review] = field(default_factory=list)
    #: One of STATUSES, or None while the venue has not decided.
    status: str | None = None
    #: The decision as the venue words it: "Accept (Oral)", "Reject", "Withdrawn", "Desk Rejected".
    decision: str | None = None
    submitted_at: int | None = None
    decided_at: int | None = None

    @property
    def ratings(self) -> list[float]:
        return [review.rating for review in self.reviews if review.rating is not None]

    @property
    def first_review_at(self) -> int | None:
        times = [review.posted_at for review in self.reviews if review.posted_at is not None]
        return min(times) if times else None

    @property
    def benchmark_decision(self) -> str | None:
        """The decision as the benchmark's ratings files hold it: Accept... or Reject..."""
        if self.status == "accepted":
            return self.decision if self.decision.lower().startswith("accept") else f"Accept ({self.decision})"
        if self.status == "rejected":
            return self.decision if self.decision.lower().startswith("reject") else f"Reject ({self.decision})"
        if self.status in ("withdrawn", "desk_rejected"):
            return f"Reject ({self.decision})"
        return None


def parse_submission(note: dict, venue: Venue) -> Submission:
    """A submission note (JSON of either API, with its replies under ``details``) as a record."""
    content = note.get("content") or {}
    details = note.get("details") or {}
    replies = details.get("replies") or details.get("directReplies") or []
    reviews = sorted(
        (_review(reply, venue) for reply in replies if any(replied_by(reply, n) for n in venue.review_names)),
        key=lambda review: review.posted_at or 0,
    )
    if venue.recommendation_name:
        reviews = _with_recommendations(reviews, replies, venue)
    keywords = content_value(content, "keywords") or []
    status, decision, decided_at = _decision(content, replies, venue)
    return Submission(
        paper_id=note["id"],
        number=note.get("number"),
        title=" ".join(str(content_value(content, "title") or "").split()),
        abstract=" ".join(str(content_value(content, "abstract") or "").split()),
        keywords=", ".join(keywords) if isinstance(keywords, list) else str(keywords),
        reviews=reviews,
        status=status,
        decision=decision,
        submitted_at=posted_at(note),
        decided_at=decided_at,
    )


def _review(reply: dict, venue: Venue) -> Review:
    content = reply.get("content") or {}
    rating_raw = _first(content, venue.rating_fields)
    confidence_raw = _first(content, venue.confidence_fields)
    scores_raw = {name: content_value(content, name) for name in SUB_SCORE_FIELDS if content_value(content, name)}
    scores = {SUB_SCORE_FIELDS[name]: venue.sub_scores.to_form(raw) for name, raw in scores_raw.items()}
    numeric = {*venue.rating_fields, *venue.confidence_fields, *SUB_SCORE_FIELDS}
    text = {
        name: value for name in content
        if name not in numeric and isinstance(value := content_value(content, name), str) and value.strip()
    }
    return Review(
        id=reply.get("id", ""),
        posted_at=posted_at(reply),
        rating_raw=rating_raw,
        rating=venue.rating.to_form(rating_raw) if rating_raw is not None else None,
        confidence_raw=confidence_raw,
        confidence=venue.confidence.to_form(confidence_raw) if confidence_raw is not None else None,
        scores_raw=scores_raw,
        scores={name: value for name, value in scores.items() if value is not None},
        text=text,
    )


def _first(content: dict, names: tuple[str, ...]):
    for name in names:
        value = content_value(content, name)
        if value is not None and value != "":
            return value
    return None


def _with_recommendations(reviews: list[Review], replies: list[dict], venue: Venue) -> list[Review]:
    """TMLR: each reviewer's rating is in their official recommendation, signed like their review."""
    signed = {reply.get("id"): tuple(reply.get("signatures") or []) for reply in replies}
    recommended = {signed[reply.get("id")]: _review(reply, venue) for reply in replies
                   if replied_by(reply, venue.recommendation_name)}
    merged = []
    for review in reviews:
        recommendation = recommended.get(signed.get(review.id))
        if recommendation is not None:
            review = replace(review, rating_raw=recommendation.rating_raw, rating=recommendation.rating)
        merged.append(review)
    return merged


def _decision(content: dict, replies: list[dict], venue: Venue) -> tuple[str | None, str | None, int | None]:
    """(status, decision, when) from the submission's venue id and its decision reply."""
    venueid = content_value(content, "venueid")
    for status in ("withdrawn", "desk_rejected"):
        if venueid and venueid == venue.status_ids.get(status):
            name = "Withdrawal" if status == "withdrawn" else "Desk_Rejection"
            when = [posted_at(r) for r in replies if replied_by(r, name)]
            return status, "Withdrawn" if status == "withdrawn" else "Desk Rejected", (when or [None])[0]
    for reply in replies:
        if replied_by(reply, venue.decision_name):
            decided = _first(reply.get("content") or {}, venue.decision_fields)
            if decided:
                decided = str(decided).strip()
                return ("accepted" if decided.lower().startswith("accept") else "rejected"), decided, posted_at(reply)
    # ICLR 2019 (API v1) posted the decision as the meta-review's recommendation.
    for reply in replies:
        recommendation = str(content_value(reply.get("content") or {}, "recommendation") or "")
        if replied_by(reply, "Meta_Review") and recommendation.startswith(("Accept", "Reject")):
            return ("accepted" if recommendation.startswith("Accept") else "rejected"), recommendation.strip(), \
                posted_at(reply)
    if venueid and venueid == venue.status_ids.get("rejected"):
        return "rejected", "Reject", None
    if venueid and venueid == venue.venue_id:
        return "accepted", _tier(content_value(content, "venue")), None
    return None, None, None


def _tier(venue_name: str | None) -> str:
    """"ICLR 2025 Oral" -> "Accept (Oral)"; "TMLR" -> "Accept"."""
    found = re.search(r"\b(?:19|20)\d\d\s+(.+)$", venue_name or "")
    return f"Accept ({found.group(1).strip().title()})" if found else "Accept"

