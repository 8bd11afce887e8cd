import json

import pytest
from fakes.reviews import answer, review_dict

from reviewer.form import FIELD_NAMES, ReviewForm
from reviewer.parsing import ReviewParseError, extract_json, parse_review, says_done


def test_field_names_are_the_original_ones():
    assert FIELD_NAMES == [
        "Summary", "Strengths", "Weaknesses", "Originality", "Quality", "Clarity", "Significance",
        "Questions", "Limitations", "Ethical Concerns", "Soundness", "Presentation", "Contribution",
        "Overall", "Confidence", "Decision",
    ]
    form = ReviewForm.model_validate(review_dict(7))
    assert list(form.to_json_dict()) == FIELD_NAMES
    assert form.to_json_dict()["Ethical Concerns"] is False


@pytest.mark.parametrize("field,value", [
    ("Originality", 5), ("Soundness", 0), ("Overall", 11), ("Overall", 0), ("Confidence", 6), ("Decision", "Maybe"),
])
def test_ranges_are_enforced(field, value):
    with pytest.raises(ReviewParseError, match=field):
        parse_review(answer(review_dict(6, **{field: value})))


def test_missing_field_names_the_field():
    review = review_dict(6)
    del review["Weaknesses"]
    with pytest.raises(ReviewParseError, match="Weaknesses"):
        parse_review(answer(review))


def test_truncated_json_is_a_parse_error():
    text = answer(review_dict(6))
    with pytest.raises(ReviewParseError, match="invalid JSON|no JSON"):
        parse_review(text[: len(text) // 2])


def test_fenced_bare_and_trailing_comma_json():
    review = review_dict(8)
    assert parse_review(answer(review)).Overall == 8
    assert parse_review("Here it is: " + json.dumps(review) + " thanks").Overall == 8
    assert extract_json('```json\n{"a": [1, 2,],}\n```') == {"a": [1, 2]}


def test_lenient_shapes_are_normalised():
    form = parse_review(json.dumps(review_dict(4, Strengths="one strength", Decision="reject.")))
    assert form.Strengths == ["one strength"]
    assert form.Decision == "Reject"


def test_done_marker():
    assert says_done("THOUGHT: fine. I am done\nREVIEW JSON: {}")
    assert says_done("THOUGHT:\nI am done\n\nREVIEW JSON:\n```json\n{}\n```")
    assert says_done("THOUGHT: Everything holds up; **I am done.**\n```json\n{}\n```")
    assert not says_done("THOUGHT: more to do")
    # Only the model's own declaration counts, not the words inside another sentence or the review.
    assert not says_done("THOUGHT: I am not sure I am done yet.\n```json\n{}\n```")
    assert not says_done("THOUGHT: I am done with the first pass, not the second.\n```json\n{}\n```")
    assert not says_done('THOUGHT: revised.\n```json\n{"Summary": "I am done"}\n```')
