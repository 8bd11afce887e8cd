import pytest

from reviewer.prompts import TEMPLATE_DIR, PromptError, load_template, placeholders, render, render_text


def test_missing_variable_is_an_error():
    with pytest.raises(PromptError, match="current_round"):
        render("reflection", num_reflections=5)


def test_unused_variable_is_an_error():
    with pytest.raises(PromptError, match="typo"):
        render("repair", error="x", typo=1)


def test_reflection_carries_real_round_numbers():
    text = render("reflection", current_round=3, num_reflections=5)
    assert "Round 3/5" in text
    assert "{" not in text.split("```")[0]


def test_every_template_renders_with_its_placeholders():
    for path in TEMPLATE_DIR.glob("*.txt"):
        template = load_template(path.stem)
        text = render(path.stem, **{name: f"<{name}>" for name in placeholders(template)})
        assert "{{" not in text


def test_json_braces_stay_literal():
    assert render_text('{"a": {{x}}}', x=1) == '{"a": 1}'
