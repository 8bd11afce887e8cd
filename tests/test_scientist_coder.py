"""The coders: aider-chat (its own environment, in the sandbox) through the gateway to the reviewer's
model wrapper and the fake server, and the built-in SEARCH/REPLACE coder. A scripted model asks each to
write outside the folder (a relative path out, an absolute path elsewhere, a dotfile in the home folder,
through a symlink): each attempt is blocked, the files outside stay as they were, and edits inside work."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from fakes.llm_server import Fault
from scientist_fakes import LR_EDIT

from reviewer.models.registry import create_model
from scientist.coder import AiderCoder, BuiltinCoder, describe_editor
from scientist.edit_blocks import OutsideFolder, confined
from scientist.gateway import serve
from scientist.sandbox import Sandbox

MODEL = "openai/gpt-4o-2024-05-13"
LINE = "def train(points, steps=50, train_steps=1500, lr=3e-3, seed=0):\n    pass\n"
ATTEMPTS = ("a relative path out (../)", "an absolute path to a folder elsewhere", "a dotfile in the home folder",
            "a symlink in the folder leading out")


@dataclass
class Outside:
    """An experiment folder and what lies outside it: a file beside it, a folder elsewhere, a fake home
    (``HOME`` points there) with a dotfile, and a symlink in the folder that leads to the folder elsewhere.
    All of it is outside /tmp, where the sandbox's private /tmp would hide it whatever the sandbox binds."""

    base: Path

    def __post_init__(self):
        self.folder.mkdir()
        (self.folder / "experiment.py").write_text(LINE)
        self.beside.write_text("original\n")
        self.elsewhere.mkdir()
        (self.base / "home").mkdir()
        self.dotfile.write_text("original\n")
        (self.folder / "link").symlink_to(self.elsewhere)

    @property
    def folder(self) -> Path:
        return self.base / "experiment"

    @property
    def beside(self) -> Path:
        return self.base / "outside.txt"

    @property
    def elsewhere(self) -> Path:
        return self.base / "elsewhere"

    @property
    def dotfile(self) -> Path:
        return self.base / "home" / ".bashrc"

    @property
    def targets(self) -> dict[str, str]:
        """Each attempt: the path as the model names it."""
        paths = ["../outside.txt", str(self.elsewhere / "planted.txt"), str(self.dotfile), "link/linked.txt"]
        return dict(zip(ATTEMPTS, paths))

    def traces(self) -> list[str]:
        """What the attempts changed outside the folder (aider's own files, which it keeps in a private HOME,
        would show in the home folder too)."""
        found = [f"{path} changed" for path in (self.beside, self.dotfile) if path.read_text() != "original\n"]
        new = [path for folder in (self.elsewhere, self.dotfile.parent) for path in folder.iterdir()]
        return found + [str(path) for path in new if path != self.dotfile]


def _append(path: str) -> str:
    """An edit block that appends a line to ``path`` (or creates it): an empty SEARCH section."""
    return f"{path}\n```\n<<<<<<< SEARCH\n=======\nescaped\n>>>>>>> REPLACE\n```\n"


@pytest.fixture
def outside(monkeypatch):
    base = Path(tempfile.mkdtemp(prefix="coder-outside-", dir="/var/tmp" if os.access("/var/tmp", os.W_OK) else None))
    world = Outside(base)
    monkeypatch.setenv("HOME", str(base / "home"))
    yield world
    shutil.rmtree(base, ignore_errors=True)


def _attacker(outside: Outside):
    """Answers the first instruction with a real edit and every attempt to write outside, then nothing."""
    attempts = "\n".join(_append(path) for path in outside.targets.values())
    return lambda seen: (f"Raising the learning rate.\n\n{LR_EDIT}\n{attempts}" if "Raise" in seen.last_user
                         else "Nothing to change.")


def test_aider_edits_inside_the_folder_through_the_gateway_and_nothing_outside(aider_bin, bwrap_works, outside,
                                                                               fake_llm):
    server = fake_llm(_attacker(outside))
    model = create_model(MODEL, base_url=server.openai_base_url)
    coder = AiderCoder(model, outside.folder, ["experiment.py"], Sandbox(), timeout_s=120, executable=aider_bin)

    async def two_edits():
        started = time.monotonic()
        first = await coder.edit("Raise the learning rate to 1e-2.")
        elapsed, calls = time.monotonic() - started, len(server.requests)
        return first, elapsed, calls, await coder.edit("Anything else?")

    result, elapsed, calls, again = asyncio.run(two_edits())
    # The edit inside applied; every write outside was kept from the host, and reported.
    assert result.changed == ["experiment.py"], result
    assert "lr=1e-2" in (outside.folder / "experiment.py").read_text()
    assert outside.traces() == []
    # The sandbox removed the symlink that leads out after the run; the other paths were named outside.
    link, *named = result.refused
    assert link == f"a symlink out of the folder: link -> {outside.elsewhere} (removed)"
    assert [r.split(" ")[0] for r in named] == list(outside.targets.values())[:3]
    assert result.error.startswith("refused: a symlink out of the folder")
    for attempt, path in outside.targets.items():
        print(f"\nATTEMPT | aider in bubblewrap | {attempt}: {path} | blocked, file outside untouched")
    # aider -> relay -> gateway (Unix socket) -> Model -> fake server: the server saw our model name, the
    # Model counted the calls.
    seen = server.requests[0]
    assert "Raise the learning rate" in seen.last_user and seen.body["model"] == "gpt-4o-2024-05-13"
    assert model.stats.calls == len(server.requests) > calls >= 1 and model.stats.cost_usd > 0
    print(f"\naider edit in the sandbox through the gateway: {elapsed:.1f}s, {calls} call(s) counted")

    # The next instruction told the model what was refused.
    told = server.requests[calls].last_user
    assert "those edits were refused" in told and "a symlink out of the folder: link" in told
    assert "../outside.txt is outside the experiment folder" in told
    assert again.error is None and again.refused == [] and outside.traces() == []


def test_aider_without_the_sandbox_writes_outside(aider_bin, outside, fake_llm, monkeypatch):
    """The control: with --unsafe-no-sandbox the same answer reaches every target, so what stops it above
    is the sandbox (not aider, not file permissions); the result says the edits were not refused."""
    monkeypatch.setenv("PATH", str(outside.base))  # no bwrap
    sandbox = Sandbox(unsafe_no_sandbox=True)
    assert not sandbox.sandboxed
    model = create_model(MODEL, base_url=fake_llm(_attacker(outside)).openai_base_url)
    coder = AiderCoder(model, outside.folder, ["experiment.py"], sandbox, timeout_s=120, executable=aider_bin)
    result = asyncio.run(coder.edit("Raise the learning rate to 1e-2."))
    assert result.changed == ["experiment.py"], result
    assert sorted(outside.traces()) == sorted([f"{outside.beside} changed", f"{outside.dotfile} changed",
                                               str(outside.elsewhere / "planted.txt"),
                                               str(outside.elsewhere / "linked.txt")])
    assert result.error.startswith("NOT refused (--unsafe-no-sandbox)") and result.refused == []
    assert describe_editor("aider", sandbox.sandboxed).startswith("aider UNSANDBOXED (--unsafe-no-sandbox)")


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


@pytest.mark.parametrize("attempt", ATTEMPTS)
def test_builtin_coder_refuses_edits_outside_the_folder_and_says_why(outside, fake_llm, attempt):
    path = outside.targets[attempt]
    answers = iter([f"Trying.\n\n{_append(path)}", LR_EDIT])
    server = fake_llm(lambda seen: next(answers))
    model = create_model(MODEL, base_url=server.openai_base_url)
    result = asyncio.run(BuiltinCoder(model, outside.folder, ["experiment.py"]).edit("Raise the learning rate."))
    assert outside.traces() == []
    (refusal,) = result.refused
    assert refusal.startswith(f"{path} ") and refusal in server.requests[1].last_user  # told to the model
    why = "leads out of the experiment folder through a symlink" if "symlink" in attempt else "is outside"
    assert why in refusal
    assert result.changed == ["experiment.py"] and "lr=1e-2" in (outside.folder / "experiment.py").read_text()
    print(f"\nATTEMPT | built-in coder | {attempt}: {path} | blocked: {refusal}")


def test_builtin_coder_neither_reads_nor_writes_a_listed_file_that_links_out(outside, fake_llm):
    (outside.folder / "notes.tex").symlink_to(outside.dotfile)
    server = fake_llm(lambda seen: LR_EDIT)
    model = create_model(MODEL, base_url=server.openai_base_url)
    result = asyncio.run(BuiltinCoder(model, outside.folder, ["experiment.py", "notes.tex"]).edit("Edit."))
    assert server.requests == [] and result.changed == []  # the file's content never reached the model
    assert "notes.tex leads out of the experiment folder through a symlink" in result.error
    assert outside.traces() == []


def test_confined_accepts_paths_that_stay_inside(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "inner").symlink_to(tmp_path / "experiment.py")
    for name in ("experiment.py", "./experiment.py", "sub/../experiment.py", str(tmp_path / "experiment.py"),
                 "sub/inner"):
        assert confined(tmp_path, name) == (tmp_path / "experiment.py").resolve()
    with pytest.raises(OutsideFolder):
        confined(tmp_path, ".")


def test_the_scientist_runs_aider_in_its_sandbox_and_records_what_confines_the_editor(aider_bin, bwrap_works,
                                                                                    tmp_path):
    from scientist.loop import Scientist, ScientistSettings

    def scientist(coder: str) -> Scientist:
        return Scientist(ScientistSettings(template="diffusion_2d", out=tmp_path / coder, model="mock/accept",
                                           review_model="mock/accept", coder=coder, literature="auto"))

    aider, builtin = scientist("aider"), scientist("builtin")
    coder = aider._coder_for(tmp_path)(["experiment.py"])
    assert isinstance(coder, AiderCoder) and coder.sandbox is aider.sandbox and aider.sandbox.sandboxed
    assert aider.isolation.editor.startswith("aider in bubblewrap")
    assert "code editor: aider in bubblewrap: writes only the idea folder" in aider.isolation.describe()
    assert builtin.isolation.editor.startswith("the built-in coder")
    assert aider.isolation != builtin.isolation  # recorded apart in an idea's state


@pytest.mark.parametrize("rc", ["latexmkrc", ".latexmkrc"])
def test_a_latexmkrc_the_editor_writes_is_not_run_by_the_compile(latexmk_bin, outside, rc):
    """The editor may write any file in the idea folder; latexmk, which compiles the paper outside the
    sandbox, would run a latexmkrc there as Perl."""
    from scientist.latex import compile_pdf, require_tex

    require_tex()
    mark = outside.elsewhere / "latexmkrc-ran"
    (outside.folder / rc).write_text(f'system("touch {mark}");\n')
    tex = outside.folder / "paper.tex"
    tex.write_text("\\documentclass{article}\n\\begin{document}\nText.\n\\end{document}\n")
    pdf, errors = compile_pdf(tex)
    assert pdf is not None and errors == [] and not mark.exists()
