"""The blinding transform, checked with the audit's own detectors (not the blinder's rules),
and the audit on the real evaluation split."""

from __future__ import annotations

import json
from datetime import date
from functools import partial

import pytest
from typer.testing import CliRunner

from benchmarks.leakage.detectors import AuditContext, detect
from benchmarks.leakage.dress import dress, dress_dataset
from benchmarks.leakage.templates import FAMILIES, template
from corpus.blind import blind_text as blind_any
from corpus.dataset import load_benchmark
from corpus.venue_rules import GENERIC, BlindProfile
from review_bench.cli import build_app

#: The ICLR 2022 benchmark's texts: camera-ready versions cite papers after the 2021-10-05 deadline.
ICLR2022 = BlindProfile("iclr", date(2021, 10, 5))
blind_text = partial(blind_any, profile=ICLR2022)
detected = partial(detect, context=AuditContext(venue_year=2022, deadline=ICLR2022.deadline))

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
        assert detected(with_statements).statement_headings == 3
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
    assert detected(text).code_promise == 2 and detected(blinded).code_promise == 0


def test_first_page_author_notes_are_removed_and_science_footnotes_kept():
    notes = (
        "\n\n_∗Equal contribution. †Work performed as a Google Research intern._\n"
        "1Northeastern University, Department of Electrical Engineering, Boston, MA, USA.\n"
        "Learning Group, University of Cambridge\n"
        "2We use the ℓ2 norm throughout.\n\n-----\n"
    )
    text = CAMERA_READY.replace("\n2 METHOD\n", notes + "\n2 METHOD\n")
    blinded = blind_text(text)
    for gone in ("Equal contribution", "Google", "Northeastern", "Cambridge"):
        assert gone not in blinded, gone
    assert "2We use the ℓ2 norm throughout." in blinded and "1 INTRODUCTION" in blinded


def test_detectors_on_camera_ready_and_submission():
    camera, submission = detected(CAMERA_READY), detected(SUBMISSION)
    assert camera.camera_ready_notice and not camera.submission_notice and not camera.anonymous_placeholder
    # "Ada Lovelace, Alan Turing" and "Google Research" read as names; "University of Cambridge" does not.
    assert camera.front_name_lines == 2 and camera.front_affiliation_words == 3 and camera.front_emails == 1
    assert camera.acknowledgment_words == 2 and camera.thanks_phrases == 1
    assert camera.email_tokens == 2 and camera.code_host_tokens == 2 and camera.url_tokens == 2
    assert camera.late_arxiv_ids == 1 and camera.late_years == 2 and camera.venue_mentions == 1
    assert camera.code_available == 1 and camera.review_process_words == 1
    assert submission.submission_notice and submission.anonymous_placeholder and not submission.camera_ready_notice
    assert submission.front_name_lines == submission.front_emails == submission.email_tokens == 0
    assert submission.acknowledgment_words == submission.late_arxiv_ids == 0 and submission.code_promise == 1
    assert submission.late_years == submission.venue_mentions == 1  # the running header's "ICLR 2022"
    assert submission.pages == 1 and camera.log_appendix_chars > 0 and camera.log_chars > submission.log_chars


def test_blinded_texts_carry_no_leakage_cues():
    for text in (CAMERA_READY, SUBMISSION):
        cues = detected(blind_text(text))
        assert not (cues.submission_notice or cues.camera_ready_notice or cues.anonymous_placeholder)
        assert cues.front_name_lines == cues.front_affiliation_words == cues.front_emails == cues.email_tokens == 0
        assert cues.acknowledgment_words == cues.thanks_phrases == cues.code_host_tokens == cues.code_promise == 0
        assert cues.late_arxiv_ids == cues.late_years == cues.venue_mentions == cues.anonymity_words == 0


@pytest.mark.parametrize("family", FAMILIES)
def test_each_venue_familys_template_lines_are_blinded(family):
    venue = template(family, 2025)
    for accepted, source in ((True, CAMERA_READY), (False, SUBMISSION)):
        for wrap in (False, True):
            text = dress(source, venue, accepted=accepted, wrap=wrap)
            raw = detect(text)
            assert (raw.camera_ready_notice, raw.submission_notice) == (accepted, not accepted), (accepted, wrap)
            assert raw.anonymous_placeholder == (not accepted)
            for profile in (BlindProfile(family), GENERIC):
                blinded = blind_any(text, profile=profile)
                cues = detect(blinded)
                assert not (cues.submission_notice or cues.camera_ready_notice or cues.anonymous_placeholder)
                assert cues.acknowledgment_words == cues.front_name_lines == cues.email_tokens == 0
                assert "Do not distribute" not in blinded and "Preliminary work" not in blinded
                assert "Proof of Theorem 1." in blinded and "| Ours | 83.2 |" in blinded


def test_venue_lines_inside_references_and_margin_numbers():
    reference = ("Grace Hopper. Routing with experts. In\n33rd Conference on Neural Information Processing Systems "
                 "(NeurIPS 2019), pp. 1-9.\nProceedings of the 37th International Conference on Machine Learning, "
                 "volume 119 of PMLR, pp. 1-10. PMLR, 2020.\n")
    text = SUBMISSION.replace("In ICLR, 2017.\n", "In ICLR, 2017.\n" + reference)
    assert reference in blind_any(text)
    numbered = SUBMISSION.replace("\n1 INTRODUCTION\n", "\n058\n\n071\n\n074 076\n\n078\n\n087 088\n\n1 INTRODUCTION\n")
    assert blind_any(numbered) == blind_any(SUBMISSION)
    assert "| GCN | 81.5 |" in blind_any(numbered)


def test_audit_of_texts_dressed_as_neurips_and_icml(tmp_path):
    _write_dataset(tmp_path / "data")
    source = load_benchmark("iclr2022", "eval", tmp_path / "data")
    for family in ("neurips", "icml"):
        folder = dress_dataset(source, family, 2025, tmp_path / f"{family}2025", deadline="2021-10-05")
        rates = {}
        for mode in ("raw", "blind"):
            path = tmp_path / f"{family}-{mode}.json"
            result = CliRunner().invoke(build_app(), [
                "data", "audit", "--dataset", str(folder), "--text", mode, "--json", str(path)])
            assert result.exit_code == 0, result.output
            report = json.loads(path.read_text())
            rates[mode] = {row["name"]: (row["accepted"], row["rejected"]) for row in report["cues"]}
        assert rates["raw"]["submission_notice"] == (0, 1) and rates["raw"]["camera_ready_notice"] == (1, 0)
        assert rates["raw"]["anonymous_placeholder"] == (0, 1)
        for name in ("submission_notice", "camera_ready_notice", "anonymous_placeholder", "late_arxiv_ids"):
            assert rates["blind"][name] == (0, 0), (family, name)


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
    for name in ("camera_ready_notice", "submission_notice", "anonymous_placeholder", "front_name_lines"):
        assert cues[name]["accepted"] == cues[name]["rejected"] == 0, name
    raw_cues = {row["name"]: row for row in raw["cues"]}
    assert raw_cues["anonymous_placeholder"]["rejected"] > 0.9 and raw_cues["front_name_lines"]["accepted"] > 1
