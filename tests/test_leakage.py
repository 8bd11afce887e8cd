"""The leakage cues, the blinding transform, and the audit on the real evaluation split."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from corpus.blind import blind_text
from corpus.cues import detect_cues
from review_bench.cli import build_app

TITLE = "# SPARSE MIXTURES FOR GRAPH\n## NEURAL NETWORKS\n"
ABSTRACT = """ABSTRACT

We study sparse mixtures of experts for message passing on graphs and show that
routing each node to a small number of experts keeps the accuracy of dense models
while using a fraction of the compute on large benchmark graphs.
"""
BODY = """
1 INTRODUCTION

Graph neural networks aggregate messages from neighbours (Kipf & Welling, 2017).
We minimise the loss L(θ) = Σ_i ℓ(f_θ(x_i), y_i) + λ‖θ‖² over the parameters θ.

| Model | Accuracy |
|---|---|
| GCN | 81.5 |
| Ours | 83.2 |

2 METHOD

Each node picks k experts with a learned router; see Equation (1).
"""
REFERENCES = """
REFERENCES

Thomas Kipf and Max Welling. Semi-supervised classification with graph convolutional networks.
In ICLR, 2017.
"""
APPENDIX = """
A PROOFS

Proof of Theorem 1. The router is Lipschitz, hence the bound follows.
"""

CAMERA_READY = (
    "Published as a conference paper at ICLR 2022\n\n" + TITLE + """
**Ada Lovelace[∗]** **Alan Turing**
University of Cambridge
Google Research
{ada, alan}@cam.ac.uk

""" + ABSTRACT + BODY.replace(
        "see Equation (1).",
        "see Equation (1).\n\n_∗Equal contribution. Work done at DeepMind._",
    ) + """
Our code is available at https://github.com/ada/sparse-gnn. See also
[the project page](https://ada.github.io/sparse).

ACKNOWLEDGMENTS

We thank the anonymous reviewers. This work was supported by the ERC grant no. 12345.
Contact ada@cam.ac.uk for questions.
""" + REFERENCES + """
Grace Hopper. Routing with experts. arXiv:2203.01234, 2022.
""" + APPENDIX
)

SUBMISSION = (
    "Under review as a conference paper at ICLR 2022\n\n" + TITLE + """
**Anonymous authors**
Paper under double-blind review

""" + ABSTRACT + BODY + """
Code will be released upon acceptance.
""" + REFERENCES + APPENDIX
)


def test_blind_removes_identity_venue_and_acknowledgments():
    blinded = blind_text(CAMERA_READY)
    for leaked in ("Lovelace", "Turing", "Cambridge", "Google", "@", "cam.ac.uk", "github", "http",
                   "Published as", "Equal contribution", "DeepMind", "ACKNOWLEDGMENTS", "We thank",
                   "ERC grant", "2203.01234", "2022", "code is available"):
        assert leaked.lower() not in blinded.lower(), leaked
    assert "[the project page]" not in blinded and "the project page" in blinded


def test_blind_keeps_the_science():
    blinded = blind_text(CAMERA_READY)
    assert blinded.startswith(TITLE + "\nABSTRACT\n\nWe study sparse mixtures")
    for kept in ("routing each node to a small number of experts", "1 INTRODUCTION",
                 "L(θ) = Σ_i ℓ(f_θ(x_i), y_i) + λ‖θ‖²", "| Ours | 83.2 |", "2 METHOD",
                 "REFERENCES", "Semi-supervised classification", "In ICLR, 2017.",
                 "Grace Hopper. Routing with experts.", "A PROOFS", "Proof of Theorem 1."):
        assert kept in blinded, kept


def test_camera_ready_and_submission_blind_to_the_same_text():
    submission = blind_text(SUBMISSION)
    assert "Anonymous" not in submission and "double-blind" not in submission
    assert "Under review" not in submission and "upon acceptance" not in submission
    camera_ready = blind_text(CAMERA_READY)
    # What is left to differ is content: the link text and the extra (masked) reference.
    for extra in (" See also\nthe project page.\n\n", "Grace Hopper. Routing with experts. arXiv:XXXX.XXXXX, 20XX.\n\n"):
        assert extra in camera_ready
        camera_ready = camera_ready.replace(extra, "")
    assert camera_ready == submission


def test_blind_is_deterministic_and_idempotent():
    once = blind_text(CAMERA_READY)
    assert blind_text(CAMERA_READY) == once
    assert blind_text(once) == once
    assert blind_text(blind_text(SUBMISSION)) == blind_text(SUBMISSION)


def test_body_only_cuts_references_and_appendix():
    blinded = blind_text(CAMERA_READY, body_only=True)
    assert "2 METHOD" in blinded
    assert "REFERENCES" not in blinded and "Kipf and Max Welling" not in blinded and "PROOFS" not in blinded


def test_acknowledgments_run_in_and_typo_headings_are_removed():
    text = SUBMISSION.replace(
        "Code will be released upon acceptance.",
        "**Acknowledgement.** We thank Bob for help.\n\nACKNOLWEDGEMENT\n\nFunded by the NSF.",
    )
    blinded = blind_text(text)
    assert "Bob" not in blinded and "NSF" not in blinded and "ACKNOLWEDGEMENT" not in blinded
    assert "2 METHOD" in blinded and "REFERENCES" in blinded


def test_statements_are_removed_from_both_versions():
    statements = (
        "\n8 ETHICS STATEMENT\n\nOur data contains no personal information.\n"
        "\nE REPRODUCIBILITY STATEMENT\n\nProofs are in Appendix A; we list every hyperparameter.\n"
        "\n**Ethics and Reproducibility Statement.** Nothing to declare.\n"
    )
    for text in (CAMERA_READY, SUBMISSION):
        with_statements = text.replace("\nREFERENCES\n", statements + "\nREFERENCES\n", 1)
        assert detect_cues(with_statements).ethics_statement and detect_cues(with_statements).reproducibility_statement
        blinded = blind_text(with_statements)
        for gone in ("ETHICS", "personal information", "REPRODUCIBILITY", "hyperparameter", "Nothing to declare"):
            assert gone not in blinded, gone
        assert blinded == blind_text(text)


def test_supplementary_material_reads_appendix_and_code_in_it_is_dropped():
    text = SUBMISSION.replace(
        "see Equation (1).",
        "see Equation (1). Proofs are in the supplementary material.\nSee Supplementary Materials, Section A.\n\n"
        "Our implementation is included in the supplementary material. Training takes an hour.",
    )
    blinded = blind_text(text)
    assert "Proofs are in the appendix." in blinded and "See Appendix, Section A." in blinded
    assert "implementation" not in blinded and "Training takes an hour." in blinded
    assert detect_cues(blinded).anonymous_code_links == 0


def test_first_page_author_notes_are_removed_and_science_footnotes_kept():
    notes = (
        "\n\n_∗Equal contribution. †Work performed as a Google Research intern._\n"
        "1Northeastern University, Department of Electrical Engineering, Boston, MA, USA.\n"
        "Learning Group, University of Cambridge\n"
        "2We use the ℓ2 norm throughout.\n\n-----\n"
    )
    text = CAMERA_READY.replace("\n2 METHOD\n", notes + "\n2 METHOD\n")
    assert detect_cues(text).author_footnote
    blinded = blind_text(text)
    for gone in ("Equal contribution", "Google", "Northeastern", "Cambridge"):
        assert gone not in blinded, gone
    assert "2We use the ℓ2 norm throughout." in blinded and "1 INTRODUCTION" in blinded
    assert not detect_cues(blinded).author_footnote


def test_cues_on_camera_ready_and_submission():
    camera, submission = detect_cues(CAMERA_READY), detect_cues(SUBMISSION)
    assert camera.published_header and not camera.anonymity_marker
    assert camera.author_block and camera.affiliation_lines == 2 and camera.front_emails == 1
    assert camera.author_footnote and camera.acknowledgments and camera.thanks_or_funding >= 2
    assert camera.emails == 2 and camera.code_links == 1 and camera.urls == 2
    # The code link and the project page (on github.io) both say where the code is.
    assert camera.late_arxiv_ids == 1 and camera.late_year_mentions == 1 and camera.code_available == 2
    assert submission.anonymity_marker and submission.under_review_header and not submission.author_block
    assert not submission.acknowledgments and submission.emails == 0 and submission.code_promise == 1
    assert submission.late_arxiv_ids == 0 and submission.pages == 1
    assert camera.log_appendix_chars > 0 and camera.log_chars > submission.log_chars


def test_blinded_texts_carry_no_leakage_cues():
    for text in (CAMERA_READY, SUBMISSION):
        cues = detect_cues(blind_text(text))
        assert not (cues.anonymity_marker or cues.published_header or cues.under_review_header)
        assert not (cues.author_block or cues.acknowledgments or cues.author_footnote)
        assert cues.emails == cues.late_arxiv_ids == cues.late_year_mentions == cues.code_promise == 0


def test_data_blind_writes_a_blinded_copy(tmp_path):
    source = tmp_path / "data" / "iclr2022"
    (source / "texts").mkdir(parents=True)
    (source / "ratings_eval.tsv").write_text("paper_id\t0\tdecision\npA\t8\tAccept (Poster)\npR\t3\tReject\n")
    (source / "metadata.tsv").write_text("paper_id\ttitle\tkeywords\npA\tA\t\npR\tR\t\n")
    (source / "texts" / "pA.txt").write_text(CAMERA_READY)
    (source / "texts" / "pR.txt").write_text(SUBMISSION)
    out = tmp_path / "blind"
    result = CliRunner().invoke(build_app(), ["data", "blind", "--data-dir", str(tmp_path / "data"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    copy = out / "iclr2022"
    assert (copy / "ratings_eval.tsv").read_text() == (source / "ratings_eval.tsv").read_text()
    assert (copy / "metadata.tsv").is_file()
    assert (copy / "texts" / "pA.txt").read_text() == blind_text(CAMERA_READY)
    assert (copy / "texts" / "pR.txt").read_text() == blind_text(SUBMISSION)


def _write_dataset(root, n_each=6):
    """A tiny benchmark: camera-ready texts accepted, submissions rejected."""
    source = root / "iclr2022"
    (source / "texts").mkdir(parents=True)
    rows = ["paper_id\t0\tdecision"]
    for i in range(n_each):
        for kind, text, decision in (("a", CAMERA_READY, "Accept (Poster)"), ("r", SUBMISSION, "Reject")):
            (source / "texts" / f"{kind}{i}.txt").write_text(text + f"\nB MORE\n\nExtra result {i}.\n" * i)
            rows.append(f"{kind}{i}\t5\t{decision}")
    (source / "ratings_eval.tsv").write_text("\n".join(rows) + "\n")


def test_data_audit_reports_removable_length_and_all_cues(tmp_path):
    _write_dataset(tmp_path / "data")
    reports = {}
    for mode in (["raw"], ["blind"], ["blind", "--body-only"]):
        path = tmp_path / f"{'-'.join(mode)}.json"
        result = CliRunner().invoke(build_app(), [
            "data", "audit", "--data-dir", str(tmp_path / "data"), "--text", *mode, "--json", str(path),
        ])
        assert result.exit_code == 0, result.output
        assert "removable cues" in result.output and "length only" in result.output
        reports[" ".join(mode)] = json.loads(path.read_text())
    raw, blind, body = reports["raw"], reports["blind"], reports["blind --body-only"]
    assert raw["cue_balanced_accuracy"] == 1.0 and blind["cue_balanced_accuracy"] < 1.0
    assert body["body_only"] and not blind["body_only"] and body["text_mode"] == "blind"
    for report in reports.values():
        removable, length, both = report["summary"]
        assert [s["cue_set"] for s in report["summary"]] == ["removable cues", "length only", "all cues"]
        assert removable["balanced_accuracy"] == report["cue_balanced_accuracy"]
        assert length["ci"] == report["length_balanced_accuracy_ci"]
        assert both["balanced_accuracy"] == report["all_cues_balanced_accuracy"]
        assert "length only" in report["explanation"]


def test_data_audit_body_only_needs_blind_text(tmp_path):
    result = CliRunner().invoke(build_app(), ["data", "audit", "--data-dir", str(tmp_path), "--text", "raw", "--body-only"])
    assert result.exit_code == 2
    assert "--body-only needs --text blind" in result.output


def test_data_audit_rejects_a_missing_data_dir(tmp_path):
    result = CliRunner().invoke(build_app(), ["data", "audit", "--data-dir", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "not found" in result.output


@pytest.mark.slow
def test_audit_on_eval_split_raw_leaks_and_blind_does_not(shared_datasets, tmp_path):
    reports = {}
    for mode in ("raw", "blind"):
        path = tmp_path / f"{mode}.json"
        result = CliRunner().invoke(build_app(), [
            "data", "audit", "--data-dir", str(shared_datasets), "--split", "eval", "--text", mode, "--json", str(path),
        ])
        assert result.exit_code == 0, result.output
        reports[mode] = json.loads(path.read_text())
    raw, blind = reports["raw"], reports["blind"]
    assert raw["n_accepted"] == 184 and raw["n_rejected"] == 316
    assert raw["cue_balanced_accuracy"] >= 0.9
    assert blind["cue_balanced_accuracy"] <= 0.55
    for key in ("cue_balanced_accuracy", "length_balanced_accuracy", "all_cues_balanced_accuracy"):
        low, high = blind[f"{key}_ci"]
        assert low <= blind[key] <= high, key
    cues = {row["name"]: row for row in blind["cues"]}
    assert cues["author_block"]["accepted"] == cues["author_block"]["rejected"] == 0
    assert cues["anonymity_marker"]["rejected"] == 0
