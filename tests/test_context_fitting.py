import asyncio

from fakes.reviews import answer, review_dict

from corpus.paper import Paper
from reviewer.config import ReviewConfig
from reviewer.models.mock_provider import MockProvider
from reviewer.models.wrapper import Model
from reviewer.pipeline import LLMReviewer
from reviewer.tokens import estimate_tokens, fit_text


def test_fit_keeps_the_front_and_marks_the_cut():
    text = "TITLE AND ABSTRACT\n" + "\n".join(f"body line {i}" for i in range(5000))
    fitted = fit_text(text, 500)
    assert fitted.truncated and fitted.text.startswith("TITLE AND ABSTRACT")
    assert "were cut here" in fitted.text
    assert estimate_tokens(fitted.text) <= 500
    assert fitted.omitted_chars > 0
    assert not fit_text("short", 500).truncated


def test_long_paper_is_cut_to_the_window_and_reported():
    seen = []

    def respond(messages, config):
        seen.append(sum(estimate_tokens(m.content) for m in messages))
        return answer(review_dict(6))
    provider = MockProvider("mock/small", respond, context_window=8000)
    reviewer = LLMReviewer(Model(provider, use_cache=False), ReviewConfig(model="mock/small", max_tokens=1000), [])
    outcome = asyncio.run(reviewer.review(Paper("long", "Abstract. " + "word " * 40000)))
    assert outcome.ok
    assert outcome.meta.truncated and outcome.meta.truncation["original_tokens"] > 8000
    assert seen[0] + 1000 <= 8000


def test_window_too_small_is_a_context_failure():
    provider = MockProvider("mock/tiny", lambda m, c: answer(review_dict(6)), context_window=3000)
    reviewer = LLMReviewer(Model(provider, use_cache=False), ReviewConfig(model="mock/tiny", max_tokens=2000), [])
    outcome = asyncio.run(reviewer.review(Paper("p", "text")))
    assert outcome.failure.kind == "context"
