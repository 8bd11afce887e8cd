"""What the venues' public LaTeX templates print on a paper, as the compiled PDF shows it.

Written from the style files' notice strings and author placeholders: ``iclr20XX_conference.sty``
and ``colm20XX_conference.sty`` (running header), ``neurips_20XX.sty`` (first-page footer,
anonymous author box, acknowledgments section name), ``icml20XX.sty`` (first-page footnote,
anonymous affiliation), ``tmlr.sty`` (running header, "Reviewed on OpenReview" line).

The audit's phrase detector and the dressing of texts as another venue's papers read these;
the blinder's own rules (``corpus/venue_rules.py``) are written separately, so that the audit
does not check the blinding with the rules that did it.
"""

from __future__ import annotations

from dataclasses import dataclass

FAMILIES = ("iclr", "neurips", "icml", "colm", "tmlr")
#: ICML proceedings: (place, PMLR volume) by year, as the camera-ready footnote names them.
_ICML_PROCEEDINGS = {2023: ("Honolulu, Hawaii, USA", 202), 2024: ("Vienna, Austria", 235),
                     2025: ("Vancouver, Canada", 267)}


@dataclass(frozen=True)
class VenueTemplate:
    family: str
    year: int
    #: The line only an anonymous submission carries ("Submitted to ... Do not distribute.").
    submission_notice: str
    #: The line only the accepted, camera-ready version carries.
    camera_ready_notice: str
    #: The author block of an anonymous submission, one entry per printed line.
    anonymous_authors: tuple[str, ...]
    #: The acknowledgments heading of the camera-ready version.
    acknowledgments: str
    #: Other first-page lines of the camera-ready version (e.g. TMLR's review link).
    camera_ready_extra: tuple[str, ...] = ()


def _ordinal(number: int) -> str:
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def template(family: str, year: int) -> VenueTemplate:
    """The marker lines of ``family``'s template for ``year``."""
    if family in ("iclr", "colm"):
        name = family.upper()
        return VenueTemplate(
            family, year,
            submission_notice=f"Under review as a conference paper at {name} {year}",
            camera_ready_notice=f"Published as a conference paper at {name} {year}",
            anonymous_authors=("Anonymous authors", "Paper under double-blind review"),
            acknowledgments="Acknowledgments",
        )
    if family == "neurips":
        conference = f"{_ordinal(year - 1986)} Conference on Neural Information Processing Systems (NeurIPS {year})."
        return VenueTemplate(
            family, year,
            submission_notice=f"Submitted to {conference} Do not distribute.",
            camera_ready_notice=conference,
            anonymous_authors=("Anonymous Author(s)", "Affiliation", "Address", "email"),
            acknowledgments="Acknowledgments and Disclosure of Funding",
        )
    if family == "icml":
        place, volume = _ICML_PROCEEDINGS.get(year, ("Vancouver, Canada", 267))
        return VenueTemplate(
            family, year,
            submission_notice="Preliminary work. Under review by the International Conference on Machine "
                              "Learning (ICML). Do not distribute.",
            camera_ready_notice=f"Proceedings of the {_ordinal(year - 1983)} International Conference on Machine "
                                f"Learning, {place}. PMLR {volume}, {year}. Copyright {year} by the author(s).",
            anonymous_authors=("Anonymous Authors1",
                               ("1Anonymous Institution, Anonymous City, Anonymous Region, Anonymous Country. "
                                "Correspondence to: Anonymous Author <anon.email@domain.com>.")),
            acknowledgments="Acknowledgements",
        )
    if family == "tmlr":
        return VenueTemplate(
            family, year,
            submission_notice="Under review as submission to TMLR",
            camera_ready_notice=f"Published in Transactions on Machine Learning Research (08/{year})",
            anonymous_authors=("Anonymous authors", "Paper under double-blind review"),
            acknowledgments="Acknowledgments",
            camera_ready_extra=("Reviewed on OpenReview: https://openreview.net/forum?id=XXXXXXXXXX",),
        )
    raise ValueError(f"no template for venue family {family!r} (known: {', '.join(FAMILIES)})")


#: Phrases the detector looks for, by kind, over all families (years do not matter: the detector
#: ignores digits). Preprint notices are printed by the templates' arXiv option.
PHRASES: dict[str, tuple[str, ...]] = {
    "submission_notice": tuple(template(f, 2025).submission_notice for f in FAMILIES) + (
        "Preprint. Under review.",),
    "camera_ready_notice": tuple(
        line for f in FAMILIES for line in (template(f, 2025).camera_ready_notice, *template(f, 2025).camera_ready_extra)
    ),
    "anonymous_placeholder": tuple(" ".join(template(f, 2025).anonymous_authors) for f in ("iclr", "neurips", "icml")),
}
