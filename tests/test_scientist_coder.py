"""The coders: aider-chat (its own environment, a subprocess) against the fake server, and
the built-in SEARCH/REPLACE coder through the reviewer's model wrapper."""

from __future__ import annotations

import asyncio

from scientist_fakes import LR_EDIT

from reviewer.models.registry import create_model
from scientist.coder import AiderCoder, BuiltinCoder, aider_executable
from scientist.edit_blocks import EditError, apply_blocks, parse_blocks

LINE = "def train(points, steps=50, train_steps=1500, lr=3e-3, seed=0):\n    pass\n"


def test_aider_applies_an_edit_block_from_the_fake_server(tmp_path, fake_llm):
    assert aider_executable(), "aider is not installed: run scientist/install_aider.sh"
    server = fake_llm(lambda seen: "Raising the learning rate.\n\n" + LR_EDIT)
    (tmp_path / "experiment.py").write_text(LINE)
    coder = AiderCoder("openai/gpt-4o-2024-05-13", tmp_path, ["experiment.py"], base_url=server.openai_base_url,
                       timeout_s=120)
    result = asyncio.run(coder.edit("Raise the learning rate to 1e-2."))
    assert result.error is None and result.changed == ["experiment.py"]
    assert "lr=1e-2" in (tmp_path / "experiment.py").read_text()
    assert "Raise the learning rate" in server.requests[0].last_user
    assert coder.tokens["sent"] > 0


def test_builtin_coder_retries_when_a_block_does_not_match(tmp_path, fake_llm):
    answers = iter(["experiment.py\n```python\n<<<<<<< SEARCH\nnot in the file\n=======\nx\n>>>>>>> REPLACE\n```", LR_EDIT])
    server = fake_llm(lambda seen: next(answers))
    (tmp_path / "experiment.py").write_text(LINE)
    model = create_model("openai/gpt-4o-2024-05-13", base_url=server.openai_base_url)
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
