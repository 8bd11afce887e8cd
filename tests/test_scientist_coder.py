"""The coders: aider-chat (its own environment, a subprocess) through the loopback gateway
to the reviewer's model wrapper and the fake server, and the built-in SEARCH/REPLACE coder."""

from __future__ import annotations

import asyncio
import time

from fakes.llm_server import Fault
from scientist_fakes import LR_EDIT

from reviewer.models.registry import create_model
from scientist.coder import AiderCoder, BuiltinCoder, aider_executable
from scientist.edit_blocks import EditError, apply_blocks, parse_blocks
from scientist.gateway import serve

MODEL = "openai/gpt-4o-2024-05-13"
LINE = "def train(points, steps=50, train_steps=1500, lr=3e-3, seed=0):\n    pass\n"


def test_aider_edits_through_the_gateway_and_the_model_counts_its_calls(tmp_path, fake_llm):
    assert aider_executable(), "aider is not installed: run scientist/install_aider.sh"
    server = fake_llm(lambda seen: "Raising the learning rate.\n\n" + LR_EDIT)
    (tmp_path / "experiment.py").write_text(LINE)
    model = create_model(MODEL, base_url=server.openai_base_url)
    coder = AiderCoder(model, tmp_path, ["experiment.py"], timeout_s=120)
    started = time.monotonic()
    result = asyncio.run(coder.edit("Raise the learning rate to 1e-2."))
    elapsed = time.monotonic() - started
    assert result.error is None and result.changed == ["experiment.py"]
    assert "lr=1e-2" in (tmp_path / "experiment.py").read_text()
    # aider -> gateway -> Model -> fake server: the server saw our model name, the Model counted the call.
    (seen,) = server.requests
    assert "Raise the learning rate" in seen.last_user and seen.body["model"] == "gpt-4o-2024-05-13"
    assert model.stats.calls == 1 and model.stats.usage.input_tokens > 0 and model.stats.cost_usd > 0
    print(f"\naider edit through the gateway: {elapsed:.1f}s, {model.stats.calls} call(s) counted")



def test_gateway_serves_any_backend_with_retries_and_cache(fake_llm):
    """An OpenAI client -> gateway -> Model(anthropic/) -> fake server: a 429 retried by the Model, a
    repeat answered by its cache, a stream refused, and a failure past the Model's retries made final."""
    import openai

    server = fake_llm(lambda seen: f"echo: {seen.last_user}")
    server.faults.append(Fault(429, retry_after=0))
    model = create_model("anthropic/claude-3-5-sonnet-20240620", base_url=server.url)

    async def ask():
        async with serve(model) as base_url:
            client = openai.AsyncOpenAI(base_url=base_url, api_key="gateway", max_retries=0)
            messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello"}]
            first = await client.chat.completions.create(model="anything", messages=messages, temperature=0)
            second = await client.chat.completions.create(model="anything", messages=messages, temperature=0)
            refused = await _refusal(client.chat.completions.create(model="anything", messages=messages, stream=True))
        server.faults.append(Fault(500))
        no_retries = create_model(MODEL, base_url=server.openai_base_url, max_retries=0)
        async with serve(no_retries) as base_url:
            client = openai.AsyncOpenAI(base_url=base_url, api_key="gateway", max_retries=0)
            failed = await _refusal(client.chat.completions.create(model="anything", messages=messages))
        await no_retries.aclose()
        await model.aclose()
        return first, second, refused, failed

    first, second, refused, failed = asyncio.run(ask())
    assert first.choices[0].message.content == second.choices[0].message.content == "echo: hello"
    assert first.usage.prompt_tokens > 0
    assert [r.api for r in server.requests] == ["anthropic", "anthropic", "openai"]  # 429, retry; the 500
    assert server.requests[1].system == "Be brief."
    assert (model.stats.calls, model.stats.retries, model.stats.cached_calls) == (1, 1, 1)
    assert "--no-stream" in refused
    assert "failed after the gateway's retries" in failed


async def _refusal(request) -> str:
    import openai

    try:
        await request
    except openai.BadRequestError as exc:
        return str(exc)
    raise AssertionError("the gateway answered a request it should refuse")


def test_builtin_coder_retries_when_a_block_does_not_match(tmp_path, fake_llm):
    answers = iter(["experiment.py\n```python\n<<<<<<< SEARCH\nnot in the file\n=======\nx\n>>>>>>> REPLACE\n```", LR_EDIT])
    server = fake_llm(lambda seen: next(answers))
    (tmp_path / "experiment.py").write_text(LINE)
    model = create_model(MODEL, base_url=server.openai_base_url)
    result = asyncio.run(BuiltinCoder(model, tmp_path, ["experiment.py"]).edit("Raise the learning rate."))
    assert result.changed == ["experiment.py"] and "lr=1e-2" in (tmp_path / "experiment.py").read_text()
    assert "does not match" in server.requests[1].last_user


def test_blocks_for_other_files_are_refused(tmp_path):
    (tmp_path / "experiment.py").write_text(LINE)
    blocks = parse_blocks(LR_EDIT.replace("experiment.py", "../outside.py", 1))
    try:
        apply_blocks(tmp_path, blocks, {"experiment.py"})
        raised = False
    except EditError:
        raised = True
    assert raised and (tmp_path / "experiment.py").read_text() == LINE
