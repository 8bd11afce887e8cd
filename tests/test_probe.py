"""The contamination probe against the loopback fake OpenAI server: titles and abstract halves
in, decision recall and ROUGE-L out, a resumable probe folder that reports show beside the
run of the same model."""

from __future__ import annotations

import json

import pytest
from fakes.runs import paper_record, write_run
from typer.testing import CliRunner

from benchmarks.probe import halves, lcs_length, probe_items, probe_metrics, read_probe, rouge_l
from benchmarks.records import DatasetInfo
from benchmarks.report import summarise, write_report
from corpus.abstract import abstract_of
from corpus.dataset import load_benchmark

MODEL = "openai/gpt-4o-2024-05-13"


@pytest.fixture(scope="module")
def app():
    from review_bench.cli import build_app

    return build_app()


def test_rouge_l_by_hand():
    assert lcs_length(["a", "b", "c", "d"], ["a", "c", "d", "e"]) == 3
    assert rouge_l("A b, c d", "a c d e") == pytest.approx(0.75)  # P = R = 3/4
    assert rouge_l("the same words", "The same words.") == 1.0
    assert rouge_l("", "anything") == 0.0 and rouge_l("x y", "a b") == 0.0
    # a continuation that runs on past the abstract is cut to the abstract's length
    assert rouge_l("a b c d and then much more", "a b c d") == 1.0


def test_the_abstract_comes_out_of_an_iclr_text(shared_datasets):
    text = (shared_datasets / "iclr2022" / "texts" / "tDirSp3pczB.txt").read_text(encoding="utf-8")
    abstract = abstract_of(text)
    assert abstract.startswith("Contrastive unsupervised representation learning (CURL) encourages")
    assert abstract.endswith("consistent with experiments on synthetic, vision, and language datasets.")
    first, second = halves(abstract)
    assert f"{first} {second}" == abstract and abs(len(first.split()) - len(second.split())) <= 1


def scripted(items):
    """Knows the first two papers (right decision, abstract recited), not the others; the
    third paper's first answer is not JSON."""
    by_title = {item.title: (i, item) for i, item in enumerate(items)}
    by_prefix = {item.prefix: (i, item) for i, item in enumerate(items)}
    garbled = set()

    def respond(seen):
        prompt = seen.last_user
        if "Do you know this paper" in prompt:
            i, item = next(v for t, v in by_title.items() if t in prompt)
            if i == 2 and i not in garbled:
                garbled.add(i)
                return "I am not sure."
            decision = ("Accept" if item.human.accepted else "Reject") if i < 2 else "Unknown"
            return "```json\n" + json.dumps({"knows_paper": i < 2, "decision": decision}) + "\n```"
        if "Answer again" in prompt:
            return '{"knows_paper": false, "decision": "Unknown"}'
        i, item = next(v for p, v in by_prefix.items() if p in prompt)
        return item.reference if i < 2 else "Something entirely unrelated to the paper."

    return respond


def test_probe_command_scores_recall_and_overlap(app, fake_llm, shared_datasets, tmp_path):
    items, _ = probe_items(load_benchmark("iclr2022", "eval", shared_datasets), 4)
    server = fake_llm(scripted(items))
    out = tmp_path / "runs" / "probe"
    args = ["probe", MODEL, "--data-dir", str(shared_datasets), "--limit", "4", "--base-url",
            server.openai_base_url, "--out", str(out)]
    dry = CliRunner().invoke(app, [*args, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "4 papers, 8 requests" in dry.output and "input tokens" in dry.output and not server.requests

    done = CliRunner(env={"COLUMNS": "200"}).invoke(app, args)
    assert done.exit_code == 0, done.output
    assert len(server.requests) == 9  # two per paper, and one repair
    titles = [r.last_user for r in server.requests if "Do you know" in r.last_user]
    assert any(items[0].title in t for t in titles) and "ICLR 2022" in titles[0]
    assert all(r.body["temperature"] == 0 for r in server.requests)
    manifest, records = read_probe(out)
    assert manifest.kind == "probe" and manifest.config["model"] == MODEL and manifest.status == "complete"
    by_id = {r.paper_id: r for r in records}
    assert all(r.ok for r in records) and by_id[items[2].paper_id].calls == 3
    assert [by_id[item.paper_id].rouge_l for item in items[:2]] == [1.0, 1.0]

    metrics = json.loads((out / "probe.json").read_text())
    assert metrics == json.loads(json.dumps(probe_metrics(records)))  # recomputable from the records
    assert metrics["n_scored"] == 4 and metrics["claims_known"] == 0.5 and metrics["answered"] == 0.5
    assert metrics["decision_recall"] == 0.5 and metrics["decision_accuracy_answered"] == 1.0
    accepted = [item.human.accepted for item in items]
    said_accept = [accepted[0], accepted[1], False, False]
    said_reject = [not accepted[0], not accepted[1], False, False]
    base = sum(accepted) / 4
    assert metrics["decision_recall_chance"] == pytest.approx(sum(said_accept) / 4 * base + sum(said_reject) / 4 * (1 - base))
    assert metrics["rouge_l"] > metrics["rouge_l_other_paper"]
    assert "decision recall" in done.output and "ROUGE-L" in done.output

    again = CliRunner().invoke(app, args)  # resumes: every paper is done
    assert again.exit_code == 0 and len(server.requests) == 9
    elsewhere = CliRunner().invoke(app, [*args[:-1], str(tmp_path / "other")])  # answers come from the cache
    assert elsewhere.exit_code == 0 and len(server.requests) == 9


def test_reports_show_the_probe_beside_the_run_of_the_same_model(app, fake_llm, shared_datasets, tmp_path):
    items, _ = probe_items(load_benchmark("iclr2022", "eval", shared_datasets), 2)
    server = fake_llm(scripted(items))
    iclr = DatasetInfo(name="iclr2022", split="eval")
    run = write_run(tmp_path / "runs" / "run", [paper_record(f"p{i}", 3 + i % 5, i % 2 == 0) for i in range(10)],
                    config={"model": MODEL}, dataset=iclr)
    other = write_run(tmp_path / "elsewhere" / "run", [paper_record("p0", 5, True), paper_record("p1", 3, False)],
                      config={"model": MODEL}, dataset=iclr)
    done = CliRunner().invoke(app, ["probe", MODEL, "--data-dir", str(shared_datasets), "--limit", "2",
                                    "--base-url", server.openai_base_url, "--out", str(tmp_path / "runs" / "probe"),
                                    "--for-run", str(other)])
    assert done.exit_code == 0, done.output
    for run_dir in (run, other):  # found beside the run; pointed to from the other
        summary = summarise(run_dir)
        assert summary.probe is not None and summary.probe[1]["decision_recall"] == 1.0
    md_path, _ = write_report([run], tmp_path / "report")
    markdown = md_path.read_text(encoding="utf-8")
    assert "| contamination probe | decision recall 1.00" in markdown
    assert "ROUGE-L 1.00" in markdown
    assert "| contamination probe | – |" in write_report(
        [write_run(tmp_path / "x" / "run", [paper_record("p0", 5, True), paper_record("p1", 3, False)],
                   config={"model": "anthropic/claude-3-5-sonnet-20240620"}, dataset=iclr)],
        tmp_path / "r2")[0].read_text()


def test_probe_of_another_model_cannot_point_a_run(app, fake_llm, shared_datasets, tmp_path):
    server = fake_llm(lambda seen: "{}")
    run = write_run(tmp_path / "run", [paper_record("p0", 5, True)], config={"model": "anthropic/claude-3-5-sonnet-20240620"})
    done = CliRunner().invoke(app, ["probe", MODEL, "--data-dir", str(shared_datasets), "--limit", "1",
                                    "--base-url", server.openai_base_url, "--out", str(tmp_path / "p"),
                                    "--for-run", str(run)])
    assert done.exit_code == 2 and "not of openai/gpt-4o-2024-05-13" in done.output
    assert not server.requests and not (tmp_path / "p").exists()
