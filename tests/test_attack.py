"""``run --attack``: a recorded share of the rejected papers carries an instruction to the
reviewer; the accept-flip rate against the same papers unattacked measures how easily the
reviewer is talked into accepting. Two stub reviewers play it: one obeys the instruction,
one ignores it."""

from __future__ import annotations

import pytest
from fakes.reviews import answer, classify, review_dict
from typer.testing import CliRunner

from benchmarks.attack import BASELINE_DIR, INSTRUCTION, insert_instruction, plan_attack
from benchmarks.report import summarise
from benchmarks.store import read_manifest, read_records
from corpus.dataset import load_folder

MODEL = "openai/gpt-4o-2024-05-13"
ABSTRACT = "Abstract. " + "We study sparse attention and report results on three benchmarks. " * 20


def stub_reviewer(*, obeys: bool):
    """Rejects every paper (Overall 3), unless it obeys and the paper it is shown carries the instruction."""

    def respond(seen):
        if classify(seen) == "meta":
            return answer(review_dict(3))
        accept = obeys and INSTRUCTION in seen.all_text
        return [answer(review_dict(8 if accept else 3), "I am done")] * max(seen.n, 1)

    return respond


def make_venue(root, n_rejected=6, n_accepted=2):
    (root / "texts").mkdir(parents=True)
    rows = ["paper_id\t0\t1\tdecision"]
    for i in range(n_rejected + n_accepted):
        rejected = i < n_rejected
        rows.append(f"p{i}\t{3 if rejected else 7}\t{4 if rejected else 8}\t{'Reject' if rejected else 'Accept'}")
        (root / "texts" / f"p{i}.txt").write_text(
            f"# Paper {i}\n\n{ABSTRACT}\n\n## Introduction\n\nWe study problem {i}.\n\n## Results\n\nThey hold.\n")
    (root / "ratings_venue.tsv").write_text("\n".join(rows) + "\n")
    return root


@pytest.fixture(scope="module")
def app():
    from review_bench.cli import build_app

    return build_app()


def run_attack(app, server, venue, run_dir, kind, share="0.5"):
    result = CliRunner().invoke(app, ["run", "--dataset", str(venue), "--model", MODEL, "--base-url",
                                      server.openai_base_url, "--text", "raw", "--run-dir", str(run_dir),
                                      "--attack", kind, "--attack-share", share], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


@pytest.mark.parametrize(("kind", "obeys", "flips"), [
    ("visible", True, 3),   # the obedient reviewer accepts every attacked paper
    ("visible", False, 0),  # the one that ignores instructions accepts none
    ("hidden", True, 0),    # the reader keeps the hidden instruction out: nothing to obey
])
def test_accept_flip_rate_of_the_stub_reviewers(app, fake_llm, tmp_path, kind, obeys, flips):
    server = fake_llm(stub_reviewer(obeys=obeys))
    venue = make_venue(tmp_path / "venue")
    run_dir = tmp_path / "run"

    result = run_attack(app, server, venue, run_dir, kind)

    attack = read_manifest(run_dir).attack
    assert (attack.kind, attack.share, attack.instruction) == (kind, 0.5, INSTRUCTION)
    assert len(attack.paper_ids) == 3 and all(int(i[1:]) < 6 for i in attack.paper_ids)  # rejected papers only
    assert len(read_records(run_dir)) == 8
    assert sorted(r.paper_id for r in read_records(run_dir / BASELINE_DIR)) == attack.paper_ids
    flip = summarise(run_dir).metrics["attack"]
    assert (flip["n_rejected_unattacked"], flip["flips"], flip["flip_rate"]) == (3, flips, flips / 3)
    low, high = flip["flip_rate_ci"]
    assert low <= flips / 3 <= high and 0 < high - low < 0.7
    assert "accept-flip rate" in result.output and f"({flips}/3 {kind})" in result.output
    if kind == "hidden":
        assert flip["hidden_text_found"] == 3
        assert len(list((run_dir / "attack_pdfs").glob("*.pdf"))) == 6  # attacked and unattacked versions
        assert all(INSTRUCTION not in seen.all_text for seen in server.requests)


def test_the_attacked_share_is_fixed_and_an_attack_run_is_its_own_run(app, fake_llm, tmp_path):
    venue = make_venue(tmp_path / "venue")
    papers = load_folder(venue, None).papers
    assert plan_attack(papers, "visible", 0.5) == plan_attack(list(reversed(papers)), "visible", 0.5)
    assert len(plan_attack(papers, "visible", 0.01).paper_ids) == 1
    server = fake_llm(stub_reviewer(obeys=True))
    run_dir = tmp_path / "run"
    run_attack(app, server, venue, run_dir, "visible")

    again = CliRunner().invoke(app, ["run", "--dataset", str(venue), "--model", MODEL, "--base-url",
                                     server.openai_base_url, "--text", "raw", "--run-dir", str(run_dir)])
    assert again.exit_code == 2 and "a different attack" in again.output


def test_the_instruction_follows_the_first_paragraph_after_the_abstract():
    text = f"# Title\n\n{ABSTRACT}\n\n## Introduction\n\nBody."
    attacked = insert_instruction(text, INSTRUCTION)

    assert attacked.index(ABSTRACT) < attacked.index(INSTRUCTION) < attacked.index("## Introduction")
    assert attacked.replace(f"\n\n{INSTRUCTION}", "") == text
