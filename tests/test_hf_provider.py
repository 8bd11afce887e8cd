"""The hf/ backend on a tiny random Llama model built in the test (nothing downloaded)."""

from __future__ import annotations

import asyncio
import sys

import pytest

from finetune.tiny_model import build_tiny_model
from reviewer.models.base import ChatMessage, FatalError, GenerateConfig, MissingDependencyError
from reviewer.models.hf_provider import HFProvider, render_chat

GREEDY = GenerateConfig(temperature=0.0, max_tokens=12)
PROMPTS = [[ChatMessage("user", text)] for text in ("a paper", "The paper proposes a method and evaluates it.", "x")]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="module")
def provider(tiny_dir):
    return HFProvider(tiny_dir)


def spy_batches(provider: HFProvider) -> list[int]:
    """Record the size of each batch the provider generates."""
    sizes: list[int] = []
    run = provider._batcher.run_batch

    def counting(prompts, config):
        sizes.append(len(prompts))
        return run(prompts, config)

    provider._batcher.run_batch = counting
    return sizes


def test_generates_one_greedy_answer_with_real_token_counts(provider):
    messages = [ChatMessage("system", "Be critical."), ChatMessage("user", "Review this paper.")]
    first = asyncio.run(provider.generate(messages, GREEDY))
    again = asyncio.run(provider.generate(messages, GREEDY))

    assert len(first.texts) == 1 and first.texts == again.texts
    prompt = render_chat(provider.tokenizer, [{"role": m.role, "content": m.content} for m in messages])
    assert first.usage.input_tokens == provider.count_tokens(prompt)
    assert first.usage.output_tokens in range(1, GREEDY.max_tokens + 1)
    assert first.cost_usd == 0.0 and first.model == f"hf/{provider.model_dir}"


def test_returns_n_sampled_answers_in_one_request(provider):
    assert provider.supports_n
    completion = asyncio.run(provider.generate(PROMPTS[1], GenerateConfig(temperature=1.0, max_tokens=16, n=3)))
    assert len(completion.texts) == 3
    assert len(set(completion.texts)) > 1  # sampled, not one answer copied
    greedy = asyncio.run(provider.generate(PROMPTS[1], GenerateConfig(temperature=0.0, max_tokens=8, n=3)))
    assert len(greedy.texts) == 3 and len(set(greedy.texts)) == 1


def test_concurrent_requests_share_one_left_padded_batch(tiny_dir):
    provider = HFProvider(tiny_dir, batch_window_s=0.05)
    alone = [asyncio.run(provider.generate(p, GREEDY)).texts for p in PROMPTS]
    sizes = spy_batches(provider)

    async def together():
        return await asyncio.gather(*(provider.generate(p, GREEDY) for p in PROMPTS))

    batched = [c.texts for c in asyncio.run(together())]
    assert sizes == [3]
    assert batched == alone  # padding on the left does not change any answer


def test_requests_with_different_settings_get_separate_batches(tiny_dir):
    provider = HFProvider(tiny_dir, batch_window_s=0.05, max_batch=2)
    sizes = spy_batches(provider)
    sampled = GenerateConfig(temperature=0.9, max_tokens=6)

    async def mixed():
        return await asyncio.gather(*(provider.generate(p, GREEDY) for p in PROMPTS),
                                    provider.generate(PROMPTS[0], sampled))

    completions = asyncio.run(mixed())
    assert sorted(sizes) == [1, 1, 2]  # 3 greedy split by max_batch, 1 sampled alone
    assert all(len(c.texts) == 1 for c in completions)


def test_a_failed_batch_fails_each_of_its_requests(tiny_dir):
    provider = HFProvider(tiny_dir, batch_window_s=0.05)

    def out_of_memory(prompts, config):
        raise FatalError("hf/tiny: generation failed: CUDA out of memory")

    provider._batcher.run_batch = out_of_memory

    async def together():
        return await asyncio.gather(*(provider.generate(p, GREEDY) for p in PROMPTS), return_exceptions=True)

    errors = asyncio.run(together())
    assert [type(e) for e in errors] == [FatalError] * 3
    assert provider._batcher._drainer is None  # ready for the next requests


def test_context_window_and_count_tokens_come_from_the_model(provider):
    assert provider.context_window == 4096
    ids = provider.tokenizer("The paper proposes", add_special_tokens=False)["input_ids"]
    assert provider.count_tokens("The paper proposes") == len(ids) > 0


def test_a_prompt_longer_than_the_window_is_a_fatal_error(tiny_dir):
    small = HFProvider(build_tiny_model(tiny_dir.parent / "small", max_positions=64))
    with pytest.raises(FatalError, match="accepts 64"):
        asyncio.run(small.generate([ChatMessage("user", "word " * 200)], GREEDY))


def test_fallback_template_without_a_chat_template(tmp_path):
    provider = HFProvider(build_tiny_model(tmp_path / "base", chat_template=False))
    text = render_chat(provider.tokenizer, [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}])
    assert text == "<|bos|>### System:\nS\n\n### User:\nU\n\n### Assistant:\n"
    assert len(asyncio.run(provider.generate([ChatMessage("user", "U")], GREEDY)).texts) == 1


def test_bad_folders_are_one_line_fatal_errors(tmp_path, tiny_dir):
    with pytest.raises(FatalError, match="no such model folder"):
        HFProvider(tmp_path / "missing")
    with pytest.raises(FatalError, match="no config.json"):
        HFProvider(tmp_path)
    with pytest.raises(FatalError, match="not a LoRA adapter folder"):
        HFProvider(tiny_dir, adapter=tmp_path)


def test_missing_transformers_names_the_extra(monkeypatch, tiny_dir):
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(MissingDependencyError, match=r"review-bench\[hf\]"):
        HFProvider(tiny_dir)


def test_cache_identity_follows_the_adapter_weights(tmp_path, tiny_dir):
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    (adapter / "adapter_model.safetensors").write_bytes(b"first")
    provider = HFProvider(tiny_dir, adapter=adapter)
    before = provider.cache_identity()
    (adapter / "adapter_model.safetensors").write_bytes(b"second")
    after = provider.cache_identity()

    assert before["model_dir"] == str(tiny_dir.resolve()) and before["adapter"] == str(adapter.resolve())
    assert before["adapter_sha256"] != after["adapter_sha256"]
    assert HFProvider(tiny_dir).cache_identity()["adapter"] is None


def test_registry_builds_the_hf_provider(tiny_dir):
    from reviewer.models.registry import create_model

    model = create_model(f"hf/{tiny_dir}", use_cache=False)
    assert isinstance(model.provider, HFProvider)
    assert model.context_window == 4096
