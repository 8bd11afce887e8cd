"""Benchmark datasets: the shared ICLR 2022 splits and a user's own folder."""

from __future__ import annotations

import pytest

from corpus.dataset import DatasetError, check_manifest, load_benchmark, load_folder, paper_loader

HEADER = "paper_id\t0\t1\t2\tdecision\n"


def make_dataset(root, rows: str, *, papers=("p1", "p2", "p3"), header: str = HEADER, name="ratings_venue.tsv"):
    root.mkdir(parents=True, exist_ok=True)
    (root / name).write_text(header + rows, encoding="utf-8")
    (root / "texts").mkdir(exist_ok=True)
    for paper_id in papers:
        (root / "texts" / f"{paper_id}.txt").write_text(f"# {paper_id}\nA paper about {paper_id}.\n")
    return root


GOOD_ROWS = "p1\t6\t8\t\tAccept (Poster)\np2\t3\t5\t4\tReject\np3\t5\t\t\tAccept\n"


def test_iclr2022_eval_split(shared_datasets):
    data = load_benchmark("iclr2022", None, shared_datasets)
    assert (data.split, len(data.papers), data.source) == ("eval", 500, "text")
    accepted = [p.human.accepted for p in data.papers]
    assert (accepted.count(True), accepted.count(False)) == (184, 316)
    first = data.papers[0]
    assert first.paper_id == "tDirSp3pczB"
    assert first.human.ratings == [6.0, 8.0, 6.0, 8.0, 6.0]
    assert first.human.mean_rating == pytest.approx(6.8)
    assert first.human.decision == "Reject"


def test_iclr2022_train_split_via_env(shared_datasets, monkeypatch):
    monkeypatch.setenv("REVIEW_BENCH_DATA", str(shared_datasets))
    data = load_benchmark("iclr2022", "train", None)
    assert len(data.papers) == 400
    assert sum(p.human.accepted for p in data.papers) == 176


def test_subset_is_deterministic_and_nested(shared_datasets):
    data = load_benchmark("iclr2022", "eval", shared_datasets)
    five = [p.paper_id for p in data.subset(5)]
    assert five == [p.paper_id for p in load_benchmark("iclr2022", "eval", shared_datasets).subset(5)]
    assert [p.paper_id for p in data.subset(12)][:5] == five
    assert five != [p.paper_id for p in data.papers[:5]]  # hashed order, not file order
    assert len(data.subset(None)) == 500


def test_fingerprint_follows_the_contents_not_names_and_sizes(tmp_path, shared_datasets):
    assert len(load_benchmark("iclr2022", "eval", shared_datasets).fingerprint()) == 64

    root = make_dataset(tmp_path / "venue", GOOD_ROWS)
    before = load_folder(root, None).fingerprint()
    assert load_folder(root, None).fingerprint() == before
    text = root / "texts" / "p2.txt"
    same_size = text.read_text().swapcase()
    assert len(same_size.encode()) == text.stat().st_size and same_size != text.read_text()
    text.write_text(same_size)
    assert load_folder(root, None).fingerprint() != before


def test_custom_folder_and_raw_text(tmp_path):
    root = make_dataset(tmp_path / "venue", GOOD_ROWS)
    data = load_folder(root, None)
    assert (data.name, data.split, data.text_mode("raw")) == ("venue", "venue", "raw")
    assert [p.human.accepted for p in data.papers] == [True, False, True]
    assert data.papers[1].human.ratings == [3.0, 5.0, 4.0]
    paper = paper_loader("raw")(data.papers[0])
    assert (paper.paper_id, paper.text) == ("p1", "# p1\nA paper about p1.\n")


def test_pdf_only_folder_is_read_from_pdfs(tmp_path):
    import pymupdf

    root = tmp_path / "pdfvenue"
    root.mkdir()
    (root / "ratings_x.tsv").write_text(HEADER + "p1\t6\t\t\tAccept\n")
    (root / "pdfs").mkdir()
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), "Deep nets for everything")
    doc.save(root / "pdfs" / "p1.pdf")
    data = load_folder(root, None)
    assert (data.source, data.text_mode("raw")) == ("pdf", "pdf-raw")
    assert "Deep nets for everything" in paper_loader("raw")(data.papers[0]).text


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ("p1\t6\t8\t\tAccept\np2\tsix\t\t\tReject\n", "ratings_venue.tsv:3: a rating is not a number"),
        ("p1\t6\t8\tAccept\n", "ratings_venue.tsv:2: 4 columns, expected 5"),
        ("p1\t6\t\t\tMaybe\n", "ratings_venue.tsv:2: decision 'Maybe'"),
        ("p1\t6\t\t\tAccept\np1\t5\t\t\tReject\n", "ratings_venue.tsv:3: paper p1 already on line 2"),
        ("\t6\t\t\tAccept\n", "ratings_venue.tsv:2: empty paper_id"),
        ("p1\t6\t\t\tAccept\np9\t5\t\t\tReject\n", "p9.txt: missing (paper on ratings_venue.tsv line 3)"),
    ],
)
def test_malformed_rows_name_the_file_and_line(tmp_path, rows, expected):
    root = make_dataset(tmp_path / "venue", rows)
    with pytest.raises(DatasetError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        load_folder(root, None)


def test_bad_header_and_missing_files(tmp_path, monkeypatch):
    monkeypatch.delenv("REVIEW_BENCH_DATA", raising=False)
    root = make_dataset(tmp_path / "venue", GOOD_ROWS, header="id\tscore\n")
    with pytest.raises(DatasetError, match=r"ratings_venue.tsv:1: header"):
        load_folder(root, None)
    with pytest.raises(DatasetError, match=r"ratings_test.tsv: ratings file not found"):
        load_folder(make_dataset(tmp_path / "v2", GOOD_ROWS), "test")
    with pytest.raises(DatasetError, match="no such benchmark"):
        load_benchmark("neurips1999", None, tmp_path)
    with pytest.raises(DatasetError, match="no data folder"):
        load_benchmark("iclr2022", None, None)


def test_several_ratings_files_need_a_split(tmp_path):
    root = make_dataset(tmp_path / "venue", GOOD_ROWS, name="ratings_a.tsv")
    make_dataset(root, "p1\t6\t\t\tAccept\n", name="ratings_b.tsv")
    with pytest.raises(DatasetError, match=r"several ratings files \(ratings_a.tsv, ratings_b.tsv\)"):
        load_folder(root, None)
    assert [p.paper_id for p in load_folder(root, "b").papers] == ["p1"]


def test_saved_hugging_face_dataset(tmp_path):
    from corpus.hf_dataset import export_dataset

    root = make_dataset(tmp_path / "venue", GOOD_ROWS)
    export_dataset(root, tmp_path / "saved")
    data = load_folder(tmp_path / "saved", "venue")
    assert (data.source, data.split, data.text_mode("raw")) == ("hf", "venue", "raw")
    assert [(p.paper_id, p.human.accepted) for p in data.papers] == [("p1", True), ("p2", False), ("p3", True)]
    assert data.papers[0].human.mean_rating == 7.0
    assert paper_loader("raw")(data.papers[1]).text == "# p2\nA paper about p2.\n"
    assert len(data.fingerprint()) == 64
    with pytest.raises(DatasetError, match="no split 'eval'"):
        load_folder(tmp_path / "saved", None)


def test_snapshot_matches_the_manifest_and_a_changed_one_is_noted(tmp_path, shared_datasets):
    for split in ("eval", "train"):
        assert check_manifest(load_benchmark("iclr2022", split, shared_datasets)) == []
    folder = tmp_path / "iclr2022"
    (folder / "texts").mkdir(parents=True)
    (folder / "texts" / "a.txt").write_text("paper a")
    (folder / "ratings_eval.tsv").write_text("paper_id\t0\tdecision\na\t6\tAccept (Poster)\n")
    notes = check_manifest(load_benchmark("iclr2022", "eval", tmp_path))
    assert notes == ["iclr2022 eval: 1 papers, its card says 500",
                     "iclr2022 eval: 1 accepted, its card says 184"]
