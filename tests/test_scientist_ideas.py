"""Ideas against the archive, and the literature clients (429 backoff, fallback, offline)."""

from __future__ import annotations

import asyncio
import json

import httpx
from scientist_fakes import IDEA, scientist_responder

from reviewer.models.registry import create_model
from scientist.ideas import Archive, IdeaError, check_novelty, generate_idea, parse_idea
from scientist.literature import Literature, LiteratureError, LocalCorpus, OpenAlex, SemanticScholar
from scientist.templates import load_template


def test_idea_generation_sees_the_archive_and_its_scores(tmp_path, fake_llm, shared_datasets):
    server = fake_llm(scientist_responder())
    model = create_model("openai/gpt-4o-2024-05-13", base_url=server.openai_base_url)
    template = load_template("diffusion_2d")
    archive = Archive(tmp_path / "ideas.json", template.seed_ideas)
    archive.entries[0].scores = [2]

    async def both():
        idea = await generate_idea(model, template, archive, reflections=3)
        return idea, await check_novelty(model, idea, Literature([LocalCorpus(shared_datasets)]))

    idea, (novel, queries) = asyncio.run(both())
    assert idea.Name == IDEA["Name"]
    assert "review Overall by round: [2]" in server.requests[0].last_user
    assert sum("NEW IDEA JSON" in r.last_user for r in server.requests) == 2  # the reflection said "I am done"
    assert json.loads((tmp_path / "ideas.json").read_text())[-1]["idea"]["Name"] == IDEA["Name"]
    assert novel and queries == ["diffusion learning rate"]
    assert "Diffusion" in server.requests[-1].last_user  # the offline corpus answered the query


def test_invalid_idea_is_explained():
    try:
        parse_idea('```json\n{"Name": "Bad Name", "Title": "t"}\n```')
    except IdeaError as exc:
        assert "Name" in str(exc) and "Experiment" in str(exc)
    else:
        raise AssertionError("an invalid idea was accepted")


def test_semantic_scholar_backs_off_on_429_then_falls_back_to_openalex():
    s2_calls = []

    def s2(request: httpx.Request):
        s2_calls.append(request)
        return httpx.Response(429, headers={"retry-after": "0"})

    def openalex(request: httpx.Request):
        assert request.url.params["search"] == "diffusion"
        work = {"title": "Denoising Diffusion", "authorships": [{"author": {"display_name": "J Ho"}}],
                "publication_year": 2020, "abstract_inverted_index": {"We": [0], "denoise": [1]}, "cited_by_count": 9}
        return httpx.Response(200, json={"results": [work]})

    literature = Literature([
        SemanticScholar("http://s2.test", api_key="k", max_retries=2, base_delay=0, transport=httpx.MockTransport(s2)),
        OpenAlex("http://openalex.test", base_delay=0, transport=httpx.MockTransport(openalex)),
    ])
    (found,) = asyncio.run(literature.search("diffusion"))
    assert len(s2_calls) == 3 and s2_calls[0].headers["x-api-key"] == "k"
    assert (found.title, found.authors, found.abstract, found.source) == ("Denoising Diffusion", ["J Ho"], "We denoise", "openalex")
    assert "@article{ho2020denoising" in found.bibtex()
    assert "429" in literature.failures[0]


def test_every_searcher_failing_is_one_error():
    failing = SemanticScholar("http://s2.test", max_retries=0, transport=httpx.MockTransport(lambda r: httpx.Response(500)))
    try:
        asyncio.run(Literature([failing]).search("x"))
    except LiteratureError as exc:
        assert "every literature search failed" in str(exc)
    else:
        raise AssertionError("no error")
