"""finetune/: training data from human labels (never the eval split), LoRA training through
TRL's SFTTrainer on a tiny random model (one process, and two under accelerate), resume from
the trainer's checkpoints, and the adapter served through hf/ and through a vLLM-style server."""

from __future__ import annotations

import asyncio
import copy
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from fakes.reviews import review_dict, scripted_reviewer
from transformers import TrainerCallback
from typer.testing import CliRunner

from benchmarks.records import DatasetInfo, PaperRecord, RunManifest
from corpus.dataset import HumanLabel, load_benchmark
from finetune.build_data import human_target, load_training_data, review_answer
from finetune.tiny_model import build_tiny_model
from finetune.train import TrainConfig, build_trainer, train
from reviewer.models.base import ChatMessage, GenerateConfig
from reviewer.models.hf_provider import HFProvider, load_tokenizer
from reviewer.parsing import parse_review

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def app():
    from review_bench.cli import build_app

    return build_app()


def invoke(app, *args):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


def repeated_examples(folder: Path, n: int = 12) -> Path:
    """Three short prompt/completion examples, repeated: the held-out slice repeats the
    training examples, so a model that learns them has a lower held-out loss."""
    from datasets import Dataset

    rows = []
    for i in range(n):
        kind = i % 3
        rows.append({
            "paper_id": f"p{i}",
            "prompt": [{"role": "system", "content": "Be critical."},
                       {"role": "user", "content": f"Review paper {kind}: the paper proposes a method."}],
            "completion": [{"role": "assistant", "content": f'{{"Overall": {3 + kind}, "Decision": "Reject"}}'}],
        })
    Dataset.from_list(rows).save_to_disk(str(folder))
    return folder


def small_config(root: Path, tiny_dir: Path, **changes) -> TrainConfig:
    # 12 examples: 9 train (5 steps of 2 per epoch), 3 held out.
    settings = {"base": str(tiny_dir), "data": str(root / "data"), "out": str(root / "adapter"), "rank": 16,
                "alpha": 64, "learning_rate": 1e-2, "epochs": 2, "max_length": 256, "batch_size": 2, "grad_accum": 1,
                "warmup_steps": 0, "eval_fraction": 0.25, "seed": 0}
    return TrainConfig(**(settings | changes))


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return repeated_examples(tmp_path_factory.mktemp("data") / "data")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_dir, data_dir):
    config = small_config(tmp_path_factory.mktemp("train"), tiny_dir, data=str(data_dir))
    return config, train(config)


def adapter_tensors(model) -> dict:
    return {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}


def assert_same_tensors(left: dict, right: dict) -> None:
    assert left.keys() == right.keys() and left
    for name, tensor in left.items():
        assert tensor.equal(right[name]), name


# --- data ---------------------------------------------------------------------------------

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


def test_build_data_puts_human_review_text_into_the_targets(app, tmp_path, shared_datasets, tiny_dir):
    # The review files are written for the papers that --limit 3 picks (a fixed hash order),
    # so every target must carry human text: the review nearest the mean rating, not the first.
    picked = load_benchmark("iclr2022", "train", shared_datasets).subset(3)
    reviews = tmp_path / "reviews"
    reviews.mkdir()
    for paper in picked:
        mean = paper.human.mean_rating
        far = {"comments": "Far from the mean.", "RECOMMENDATION": 1 if mean > 5.5 else 10, "REVIEWER_CONFIDENCE": 1}
        near = {"comments": f"Human review of {paper.paper_id}.", "RECOMMENDATION": round(mean),
                "REVIEWER_CONFIDENCE": 4}
        (reviews / f"{paper.paper_id}.json").write_text(json.dumps({"reviews": [far, near]}))
    out = tmp_path / "data"
    result = invoke(app, "finetune", "build-data", "--data-dir", str(shared_datasets), "--limit", "3",
                    "--text", "blind", "--max-tokens", "2048", "--tokenizer", str(tiny_dir), "--reviews", str(reviews),
                    "--out", str(out))
    assert result.exit_code == 0, result.output
    examples = list(load_training_data(out))
    card = json.loads((out / "data_card.json").read_text())
    assert len(examples) == card["n_examples"] == 3 and card["accept"] + card["reject"] == 3
    assert card["example_tokens"]["max"] <= 2048 and card["eval_papers_checked"] == 500
    assert sorted(e["paper_id"] for e in examples) == sorted(p.paper_id for p in picked)
    for example in examples:
        system, user = example["prompt"]
        (assistant,) = example["completion"]
        assert system["role"] == "system" and "critical" in system["content"].lower()
        assert "REVIEW JSON" in user["content"] and assistant["role"] == "assistant"
        review = parse_review(assistant["content"])
        assert review.Decision in ("Accept", "Reject") and example["target_source"] == "human"
        assert review.Summary == f"Human review of {example['paper_id']}." and review.Confidence == 4


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
    examples = list(load_training_data(tmp_path / "data"))
    assert sorted(e["paper_id"] for e in examples) == sorted(train_ids)
    assert all(parse_review(e["completion"][0]["content"]).Overall == 8 for e in examples)
    assert all(parse_review(e["completion"][0]["content"]).Summary == f"Teacher on {e['paper_id']}."
               for e in examples)
    card = json.loads((tmp_path / "data" / "data_card.json").read_text())
    assert card["skipped"] == {"no teacher review": 2}


# --- training -----------------------------------------------------------------------------

def test_the_loss_mask_covers_the_answer_tokens_only(tmp_path, tiny_dir):
    from datasets import Dataset

    answer = review_answer(review_dict(4))
    prompt = [{"role": "system", "content": "Be critical."}, {"role": "user", "content": "Review this paper."}]
    Dataset.from_list([{"prompt": prompt, "completion": [{"role": "assistant", "content": answer}]}] * 4
                      ).save_to_disk(str(tmp_path / "data"))
    trainer, _ = build_trainer(small_config(tmp_path, tiny_dir, max_length=1024, eval_fraction=0))
    batch = next(iter(trainer.get_train_dataloader()))
    tokenizer = load_tokenizer(tiny_dir)
    for ids, labels in zip(batch["input_ids"], batch["labels"]):
        ids, labels = ids.tolist(), labels.tolist()
        trained_positions = [i for i, label in enumerate(labels) if label != -100]
        assert [ids[i] for i in trained_positions] == [labels[i] for i in trained_positions]
        # The answer and the end-of-turn token carry the loss; the prompt up to the assistant header does not.
        assert tokenizer.decode([ids[i] for i in trained_positions]) == answer + "<|eos|>"
        first = trained_positions[0]
        assert trained_positions == list(range(first, first + len(trained_positions)))
        assert tokenizer.decode(ids[:first]) == tokenizer.apply_chat_template(
            prompt, add_generation_prompt=True, tokenize=False)


def test_packing_keeps_the_answer_only_loss_and_separates_the_examples(tmp_path, tiny_dir, data_dir):
    trainer, _ = build_trainer(small_config(tmp_path, tiny_dir, data=str(data_dir), packing=True, eval_fraction=0))
    batch = next(iter(trainer.get_train_dataloader()))
    ids, labels, positions = (batch[k][0].tolist() for k in ("input_ids", "labels", "position_ids"))
    starts = [i for i, p in enumerate(positions) if p == 0]
    assert len(starts) >= 2 and "attention_mask" not in batch  # several examples in one row, no padding
    tokenizer = load_tokenizer(tiny_dir)
    answers = {f'{{"Overall": {3 + kind}, "Decision": "Reject"}}<|eos|>' for kind in range(3)}
    for start, end in zip(starts, [*starts[1:], len(ids)]):
        trained = [ids[i] for i in range(start, end) if labels[i] != -100]
        assert tokenizer.decode(trained) in answers


def test_training_lowers_the_held_out_loss_and_writes_adapter_log_and_plot(trained):
    config, log = trained
    assert [e.step for e in log.evals] == [5, 10]
    # Evaluation has no dropout, so the held-out loss moves only with the weights.
    assert log.evals[-1].eval_loss < log.evals[0].eval_loss - 0.05
    assert log.steps[-1].loss < log.steps[0].loss - 0.3
    assert (log.train_examples, log.eval_examples, log.skipped_too_long) == (9, 3, 0)
    assert (log.device, log.precision, log.processes, log.backend) == ("cpu", "fp32", 1, None)
    assert 0 < log.trainable_parameters < log.total_parameters
    assert log.session.tokens == log.steps[-1].tokens_seen > 0 and log.session.tokens_per_s > 0
    out = Path(config.out)
    for name in ("adapter_config.json", "adapter_model.safetensors", "training_log.json", "loss_curve.png"):
        assert (out / name).is_file()
    written = json.loads((out / "training_log.json").read_text())
    assert [s["step"] for s in written["steps"]] == list(range(1, 11))
    assert sorted(p.name for p in (out / "checkpoints").glob("checkpoint-*")) == ["checkpoint-10", "checkpoint-5"]


class Interrupted(Exception):
    pass


class Recorder(TrainerCallback):
    """Copies the adapter weights and optimizer state when a checkpoint is saved and when
    training begins; can stop the run with an exception at a given step."""

    def __init__(self, interrupt_at: int | None = None):
        self.interrupt_at = interrupt_at
        self.saved: dict = {}
        self.at_begin = None

    def on_train_begin(self, args, state, control, model=None, optimizer=None, **kwargs):
        self.at_begin = (state.global_step, adapter_tensors(model), copy.deepcopy(optimizer.state_dict()))

    def on_save(self, args, state, control, model=None, optimizer=None, **kwargs):
        self.saved[state.global_step] = (adapter_tensors(model), copy.deepcopy(optimizer.state_dict()))

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.interrupt_at:
            raise Interrupted


def assert_same_optimizer_state(left: dict, right: dict) -> None:
    assert left["param_groups"] == right["param_groups"]
    assert left["state"].keys() == right["state"].keys() and left["state"]
    for index, state in left["state"].items():
        for key, value in state.items():
            assert value.equal(right["state"][index][key]), (index, key)


def test_resume_restores_the_saved_weights_and_optimizer_state(tmp_path, tiny_dir, data_dir, trained):
    config = small_config(tmp_path, tiny_dir, data=str(data_dir), save_steps=3)
    first = Recorder(interrupt_at=4)
    with pytest.raises(Interrupted):
        train(config, callbacks=[first])
    assert sorted(first.saved) == [3]

    second = Recorder()
    log = train(config, resume=True, callbacks=[second])
    step, weights, optimizer = second.at_begin
    assert step == 3  # continues from the saved step, not from the interruption at 4
    saved_weights, saved_optimizer = first.saved[3]
    assert_same_tensors(weights, saved_weights)
    assert_same_optimizer_state(optimizer, saved_optimizer)
    # The scheduler, RNG and data position came back too: the resumed run ends where an
    # uninterrupted run with the same settings ends.
    assert [s.step for s in log.steps] == list(range(1, 11)) and log.session.first_step == 4
    _, uninterrupted = trained
    assert [round(s.learning_rate, 10) for s in log.steps] == [round(s.learning_rate, 10) for s in uninterrupted.steps]
    from safetensors.torch import load_file

    resumed = load_file(Path(config.out) / "adapter_model.safetensors")
    reference = load_file(Path(trained[0].out) / "adapter_model.safetensors")
    assert resumed.keys() == reference.keys()
    assert all((resumed[k] - reference[k]).abs().max() < 1e-5 for k in resumed)


def test_resume_without_a_checkpoint_and_a_model_without_chat_template_are_one_line_errors(
        app, tmp_path, tiny_dir, data_dir):
    common = ["finetune", "train", "--data", str(data_dir), "--max-length", "256"]
    nothing = invoke(app, *common, "--base", str(tiny_dir), "--out", str(tmp_path / "a"), "--resume")
    assert nothing.exit_code == 2 and "no checkpoint" in nothing.output
    bare = build_tiny_model(tmp_path / "bare", chat_template=False)
    result = invoke(app, *common, "--base", str(bare), "--out", str(tmp_path / "b"))
    assert result.exit_code == 2 and "no chat template" in result.output


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_two_processes_under_accelerate_write_one_adapter(tmp_path, tiny_dir, data_dir):
    out = tmp_path / "adapter"
    command = [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
               str(REPO / "finetune" / "accelerate" / "ddp.yaml"), "--num_processes", "2",
               "--main_process_port", str(free_port()), "-m", "review_bench", "finetune", "train",
               "--base", str(tiny_dir), "--data", str(data_dir), "--out", str(out), "--epochs", "1",
               "--batch-size", "2", "--grad-accum", "1", "--max-length", "256", "--rank", "8", "--alpha", "16",
               "--lr", "1e-2", "--warmup-steps", "0", "--eval-fraction", "0.25"]
    env = {**os.environ, "PYTHONPATH": str(REPO), "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    log = json.loads((out / "training_log.json").read_text())
    assert (log["processes"], log["backend"], log["device"]) == (2, "gloo", "cpu")
    # 9 training examples, 2 per process per step: 3 steps; one log line per process count.
    assert [s["step"] for s in log["steps"]] == [1, 2, 3] and len(log["evals"]) == 1
    assert done.stdout.count("adapter, training_log.json and loss_curve.png") == 1  # the main process reports
    assert [p.name for p in out.rglob("adapter_model.safetensors")] == ["adapter_model.safetensors"] * 2
    assert sorted(str(p.relative_to(out)) for p in out.rglob("adapter_model.safetensors")) == [
        "adapter_model.safetensors", "checkpoints/checkpoint-3/adapter_model.safetensors"]


# --- serving ------------------------------------------------------------------------------

def answer_loss(model, tokenizer, example) -> float:
    import torch

    prompt = tokenizer.apply_chat_template(example["prompt"], add_generation_prompt=True, tokenize=False)
    whole = tokenizer.apply_chat_template(example["prompt"] + example["completion"], tokenize=False)
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    ids = tokenizer(whole, add_special_tokens=False)["input_ids"]
    labels = [-100] * len(prompt_ids) + ids[len(prompt_ids):]
    with torch.no_grad():
        return float(model(input_ids=torch.tensor([ids]), labels=torch.tensor([labels])).loss)


def test_the_adapter_reloads_and_changes_the_model(trained, tiny_dir, data_dir):
    config, _ = trained
    seen = load_training_data(data_dir)[0]
    prompt = [ChatMessage(m["role"], m["content"]) for m in seen["prompt"]]
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


def test_vllm_reviewer_is_benchmarked_like_an_api_model(app, fake_llm, tmp_path, shared_datasets):
    # vLLM's OpenAI-compatible server with --lora-modules reviewer=<adapter> serves the adapter
    # under the model name "reviewer"; a loopback fake plays that server.
    server = fake_llm(scripted_reviewer())
    run_dir = tmp_path / "run"
    result = invoke(app, "run", "iclr2022", "--model", "vllm/reviewer", "--base-url", server.openai_base_url,
                    "--limit", "2", "--text", "raw", "--data-dir", str(shared_datasets), "--run-dir", str(run_dir))
    assert result.exit_code == 0, result.output
    assert server.requests and {r.body["model"] for r in server.requests} == {"reviewer"}
    assert all(r.path == "/v1/chat/completions" for r in server.requests)
    records = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]
    assert len(records) == 2 and all(r["ok"] and r["overall"] == 6 for r in records)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["config"]["model"] == "vllm/reviewer"
