"""finetune/: training data from human labels (never the eval split), LoRA training on a
tiny random model, and the adapter served through hf/ in a benchmark run."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from fakes.reviews import review_dict
from typer.testing import CliRunner

from benchmarks.records import DatasetInfo, PaperRecord, RunManifest
from corpus.dataset import HumanLabel
from finetune.build_data import human_target, review_answer
from finetune.tiny_model import build_tiny_model
from finetune.train import IGNORE_INDEX, TrainConfig, tokenize_example, train
from reviewer.models.base import ChatMessage, GenerateConfig
from reviewer.models.hf_provider import HFProvider
from reviewer.parsing import parse_review

TRAIN_IDS = ["-7UeX2KPqs", "-AW3SFO63GO"]  # first rows of ratings_train.tsv


@pytest.fixture(scope="module")
def app():
    from review_bench.cli import build_app

    return build_app()


def invoke(app, *args):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


def short_examples(folder, n=12):
    """Short chat examples, so that training steps take milliseconds."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(n):
        overall = 3 + i % 5
        messages = [
            {"role": "system", "content": "Be critical."},
            {"role": "user", "content": f"Review paper {i}: the paper proposes a method."},
            {"role": "assistant", "content": f'{{"Overall": {overall}, "Decision": "Reject"}}'},
        ]
        lines.append(json.dumps({"paper_id": f"p{i}", "messages": messages}))
    (folder / "train.jsonl").write_text("\n".join(lines) + "\n")
    return folder


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_dir):
    root = tmp_path_factory.mktemp("train")
    config = TrainConfig(base=str(tiny_dir), data=str(short_examples(root / "data")), out=str(root / "adapter"),
                         rank=8, alpha=16, learning_rate=5e-3, epochs=3, max_length=256, batch_size=4,
                         grad_accum=1, warmup_steps=0, eval_fraction=0.25, gradient_checkpointing=True)
    return config, train(config)


def test_human_target_uses_mean_rating_and_real_decision():
    review = human_target(HumanLabel(ratings=[6, 5, 5], mean_rating=16 / 3, decision="Reject", accepted=False))
    assert review["Overall"] == 5 and review["Decision"] == "Reject"
    assert review["Summary"] == "" and review["Strengths"] == [] and review["Questions"] == []
    assert {review[f] for f in ("Originality", "Soundness", "Contribution")} == {2}
    accepted = human_target(HumanLabel(ratings=[8, 8, 6], mean_rating=22 / 3, decision="Accept (Poster)", accepted=True))
    assert accepted["Overall"] == 7 and accepted["Decision"] == "Accept" and accepted["Quality"] == 3
    assert human_target(HumanLabel(ratings=[], mean_rating=None, decision="Reject", accepted=False)) is None


def test_human_target_takes_text_from_the_closest_peerread_review():
    label = HumanLabel(ratings=[3, 8], mean_rating=7.0, decision="Accept", accepted=True)
    reviews = [{"comments": "Far from the mean.", "RECOMMENDATION": 3},
               {"comments": "Close to the mean.", "RECOMMENDATION": 8, "REVIEWER_CONFIDENCE": 5}]
    review = human_target(label, reviews)
    assert review["Summary"] == "Close to the mean." and review["Confidence"] == 5 and review["Overall"] == 7


def test_build_data_writes_prompts_and_parseable_targets(app, tmp_path, shared_datasets, tiny_dir):
    reviews = tmp_path / "reviews"
    reviews.mkdir()
    (reviews / f"{TRAIN_IDS[0]}.json").write_text(json.dumps({"reviews": [{"comments": "Solid but narrow.", "RECOMMENDATION": 5}]}))
    out = tmp_path / "data"
    result = invoke(app, "finetune", "build-data", "--data-dir", str(shared_datasets), "--limit", "3",
                    "--text", "blind", "--max-tokens", "2048", "--tokenizer", str(tiny_dir), "--reviews", str(reviews),
                    "--out", str(out))
    assert result.exit_code == 0, result.output
    examples = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    card = json.loads((out / "data_card.json").read_text())
    assert len(examples) == card["n_examples"] == 3 and card["accept"] + card["reject"] == 3
    assert card["example_tokens"]["max"] <= 2048 and card["eval_papers_checked"] == 500
    for example in examples:
        system, user, assistant = example["messages"]
        assert system["role"] == "system" and "critical" in system["content"].lower()
        assert "REVIEW JSON" in user["content"] and assistant["role"] == "assistant"
        review = parse_review(assistant["content"])
        assert review.Decision in ("Accept", "Reject") and example["target_source"] == "human"
    by_id = {e["paper_id"]: parse_review(e["messages"][-1]["content"]) for e in examples}
    if TRAIN_IDS[0] in by_id:  # the fixed subset order decides which papers come first
        assert by_id[TRAIN_IDS[0]].Summary == "Solid but narrow."


def test_build_data_refuses_the_eval_split(app, tmp_path, shared_datasets):
    result = invoke(app, "finetune", "build-data", "--data-dir", str(shared_datasets), "--split", "eval",
                    "--out", str(tmp_path / "data"))
    assert result.exit_code == 2 and "eval split" in result.output
    assert not (tmp_path / "data").exists()


def write_teacher_run(run_dir, split, paper_ids):
    run_dir.mkdir()
    manifest = RunManifest(dataset=DatasetInfo(name="iclr2022", split=split), status="complete")
    (run_dir / "manifest.json").write_text(manifest.model_dump_json())
    records = [PaperRecord(paper_id=pid, ok=True, review=review_dict(8, Summary=f"Teacher on {pid}."))
               for pid in paper_ids]
    (run_dir / "records.jsonl").write_text("".join(r.model_dump_json() + "\n" for r in records))


def test_teacher_run_is_distilled_and_eval_papers_are_refused(app, tmp_path, shared_datasets):
    from corpus.dataset import load_benchmark

    eval_id = load_benchmark("iclr2022", "eval", shared_datasets).papers[0].paper_id
    train_ids = [p.paper_id for p in load_benchmark("iclr2022", "train", shared_datasets).subset(2)]
    write_teacher_run(tmp_path / "good", "train", train_ids)
    write_teacher_run(tmp_path / "leaky", "train", [train_ids[0], eval_id])
    common = ["finetune", "build-data", "--data-dir", str(shared_datasets), "--limit", "4", "--text", "raw",
              "--max-tokens", "4000"]

    leaky = invoke(app, *common, "--teacher", str(tmp_path / "leaky"), "--out", str(tmp_path / "x"))
    assert leaky.exit_code == 2 and "eval split" in leaky.output

    good = invoke(app, *common, "--teacher", str(tmp_path / "good"), "--out", str(tmp_path / "data"))
    assert good.exit_code == 0, good.output
    examples = [json.loads(line) for line in (tmp_path / "data" / "train.jsonl").read_text().splitlines()]
    assert sorted(e["paper_id"] for e in examples) == sorted(train_ids)
    assert all(parse_review(e["messages"][-1]["content"]).Overall == 8 for e in examples)
    card = json.loads((tmp_path / "data" / "data_card.json").read_text())
    assert card["skipped"] == {"no teacher review": 2}


def test_only_answer_tokens_carry_the_loss(tiny_dir):
    from reviewer.models.hf_provider import load_tokenizer

    tokenizer = load_tokenizer(tiny_dir)
    messages = [{"role": "user", "content": "Review it."}, {"role": "assistant", "content": review_answer(review_dict(4))}]
    tokenized = tokenize_example(tokenizer, messages)
    answer = [t for t in tokenized.labels if t != IGNORE_INDEX]
    assert tokenized.labels[0] == IGNORE_INDEX and answer == tokenized.input_ids[-len(answer):]
    assert tokenizer.decode(answer, skip_special_tokens=True) == messages[-1]["content"]
    assert answer[-1] == tokenizer.eos_token_id


def test_loss_from_answer_logits_only_equals_the_full_loss(tiny_dir):
    import torch

    from finetune.train import answer_loss, collate
    from reviewer.models.hf_provider import load_causal_lm, load_tokenizer

    tokenizer = load_tokenizer(tiny_dir)
    model = load_causal_lm(tiny_dir, device="cpu", dtype=torch.float32)
    batch = [tokenize_example(tokenizer, [{"role": "user", "content": "Review paper " + "x" * n},
                                          {"role": "assistant", "content": f'{{"Overall": {n}}}'}]) for n in (3, 40)]
    ids, labels, mask = collate(batch, tokenizer.pad_token_id, torch)
    with torch.no_grad():
        full = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        assert torch.allclose(answer_loss(model, ids, labels, mask, torch), full, atol=1e-5)


def test_training_lowers_the_loss_and_writes_checkpoints_log_and_plot(trained):
    config, log = trained
    losses = [e.train_loss for e in log.epochs]
    assert len(losses) == 3 and losses[-1] < losses[0]
    assert log.epochs[-1].eval_loss < log.epochs[0].eval_loss
    assert log.train_examples == 9 and log.eval_examples == 3 and log.device == "cpu" and log.dtype == "float32"
    assert 0 < log.trainable_parameters < log.total_parameters
    out = config.out
    for name in ("adapter_config.json", "adapter_model.safetensors", "training_log.json", "loss_curve.png"):
        assert (Path(out) / name).is_file()
    assert sorted(p.name for p in (Path(out) / "checkpoints").iterdir()) == [
        "epoch-1", "epoch-2", "epoch-3"]


def test_resume_continues_from_the_latest_checkpoint(trained):
    config, log = trained
    longer = config.model_copy(update={"epochs": 4})
    resumed = train(longer, resume=True)
    assert [e.epoch for e in resumed.epochs] == [1, 2, 3, 4]
    assert resumed.epochs[:3] == log.epochs  # not trained again
    assert len(resumed.steps) == len(log.steps) + len([s for s in resumed.steps if s.epoch == 4])


def answer_loss(model, tokenizer, messages) -> float:
    import torch

    tokenized = tokenize_example(tokenizer, messages)
    with torch.no_grad():
        return float(model(input_ids=torch.tensor([tokenized.input_ids]), labels=torch.tensor([tokenized.labels])).loss)


def test_the_adapter_reloads_and_changes_the_model(trained, tiny_dir):
    config, _ = trained
    seen = json.loads(Path(config.data, "train.jsonl").read_text().splitlines()[0])["messages"]
    prompt = [ChatMessage(m["role"], m["content"]) for m in seen[:-1]]
    greedy = GenerateConfig(temperature=0.0, max_tokens=12)
    base = HFProvider(tiny_dir)
    tuned = HFProvider(tiny_dir, adapter=config.out)

    assert asyncio.run(tuned.generate(prompt, greedy)).texts != asyncio.run(base.generate(prompt, greedy)).texts
    assert answer_loss(tuned._loaded_model(), tuned.tokenizer, seen) < answer_loss(base._loaded_model(), base.tokenizer, seen)
    assert tuned.cache_identity()["adapter_sha256"] != base.cache_identity()["adapter_sha256"]


def test_benchmark_run_with_the_adapter_records_failures(app, tmp_path, shared_datasets, trained, tiny_dir):
    config, _ = trained
    run_dir = tmp_path / "run"
    result = invoke(app, "run", "iclr2022", "--model", f"hf/{tiny_dir}", "--adapter", config.out, "--limit", "3",
                    "--text", "raw", "--data-dir", str(shared_datasets), "--max-tokens", "64",
                    "--run-dir", str(run_dir))
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]
    assert len(records) == 3
    for record in records:  # a tiny model writes no valid review: each is a recorded failure
        assert record["ok"] is False and record["failure"]["kind"] in ("parse", "provider")
        assert record["meta"]["failures"]["repairs"] >= 1  # its first answer did not parse
        assert record["usage"]["output_tokens"] > 0 and record["cost_usd"] == 0.0
