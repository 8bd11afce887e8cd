"""A tiny randomly initialised Llama-style model with its own byte-level BPE tokenizer.

It downloads nothing and runs in seconds on a CPU: the tests use it, and
``review-bench finetune tiny-model`` writes one to smoke-test the whole recipe
(build-data, train, run with the adapter) on a new machine before spending GPU hours.
"""

from __future__ import annotations

from pathlib import Path

from reviewer.models.hf_provider import import_hf
from reviewer.prompts import TEMPLATE_DIR

SPECIAL_TOKENS = ["<|pad|>", "<|bos|>", "<|eos|>", "<|system|>", "<|user|>", "<|assistant|>"]
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|eos|>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
SENTENCES = [
    "The paper proposes a new method and evaluates it on standard benchmarks.",
    'REVIEW JSON: {"Summary": "", "Strengths": [], "Overall": 6, "Decision": "Accept"}',
    "Weaknesses: limited baselines, unclear ablations, small datasets. Reject.",
]


def build_tiny_model(out_dir: str | Path, *, chat_template: bool = True, seed: int = 0,
                     max_positions: int = 4096) -> Path:
    """Write a tokenizer and a 2-layer, 32-wide Llama model to ``out_dir``."""
    torch, transformers = import_hf()
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    out = Path(out_dir)
    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=2048, special_tokens=SPECIAL_TOKENS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    # Trained on the prompt templates too, so that a review prompt fits in few tokens.
    corpus = SENTENCES + [path.read_text(encoding="utf-8") for path in sorted(TEMPLATE_DIR.glob("*.txt"))]
    core.train_from_iterator(corpus, trainer=trainer)
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=core, bos_token="<|bos|>", eos_token="<|eos|>", pad_token="<|pad|>"
    )
    if chat_template:
        tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(str(out))
    config = transformers.LlamaConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, vocab_size=len(tokenizer), max_position_embeddings=max_positions,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    transformers.LlamaForCausalLM(config).save_pretrained(str(out))
    return out
