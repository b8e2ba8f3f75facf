"""A few GRPO steps with TRL on the CPU, the reward from judge.rewards.constitution_reward.

Run by tests/test_trl.py with a python that has torch and trl (JUDGE_TRL_PYTHON), never in the
project's own test venv: `python tests/trl_grpo_run.py CONSTITUTION JUDGE_URL OUT.json`.
A tiny random Llama (built from a config) and a word-level tokenizer trained on this file's own
text: no model hub. For each of standard / conversational prompts, with and without group=True,
it writes TRL's log history and, for each step, the completions the reward was given and what it
returned (recorded by a second reward function of weight 0)."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from datasets import Dataset
from tokenizers import Tokenizer, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast
from trl import GRPOConfig, GRPOTrainer

from judge.rewards import constitution_reward

TEXT = """The judge reads each answer and gives it a score from the constitution.
A short answer can be good and a long answer can be bad.
Say something kind about the weather today.
Tell me a story about a small robot that learns to paint.
Explain why the sky looks blue in the afternoon.
Name three fruits that are red and sweet."""
PROMPTS = [line for line in TEXT.splitlines()[2:]]
TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}"
)


def tokenizer() -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(
        [TEXT, "user: assistant:"],
        trainers.WordLevelTrainer(special_tokens=["[PAD]", "[UNK]", "[BOS]", "[EOS]"]),
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="[PAD]",
        unk_token="[UNK]",
        bos_token="[BOS]",
        eos_token="[EOS]",
    )
    fast.chat_template = TEMPLATE
    return fast


def model(tok: PreTrainedTokenizerFast) -> LlamaForCausalLM:
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=128,
        pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
    )  # fmt: skip
    return LlamaForCausalLM(config)


def run(constitution: str, judge_url: str, conversational: bool, group: bool) -> dict[str, Any]:
    tok = tokenizer()
    rows = [
        {"prompt": [{"role": "user", "content": p}] if conversational else p, "reference": "x"}
        for p in PROMPTS
    ]
    reward = constitution_reward(
        constitution, model="openai/gpt-4o-mini", base_url=judge_url, group=group, use_cache=False
    )
    seen: list[dict[str, Any]] = []

    def recorder(prompts: list[Any], completions: list[Any], **columns: Any) -> list[float]:
        """Runs after `reward` in each step: what it was given and what it returned."""
        texts = [c if isinstance(c, str) else c[0]["content"] for c in completions]
        seen.append({"prompts": [json.dumps(p) for p in prompts], "completions": texts,
                     "rewards": [r.reward for r in reward.last],
                     "references": columns["reference"]})  # fmt: skip
        return [0.0] * len(completions)

    with tempfile.TemporaryDirectory() as out:
        args = GRPOConfig(
            output_dir=out, use_cpu=True, bf16=False, per_device_train_batch_size=8,
            num_generations=4, max_completion_length=12, max_steps=3, logging_steps=1,
            report_to="none", save_strategy="no", learning_rate=1e-3, seed=0,
            reward_weights=[1.0, 0.0], dataloader_num_workers=0,
        )  # fmt: skip
        trainer = GRPOTrainer(
            model=model(tok),
            reward_funcs=[reward, recorder],
            args=args,
            train_dataset=Dataset.from_list(rows),
            processing_class=tok,
        )
        trainer.train()
        history = trainer.state.log_history
    reward.close()
    return {"name": reward.__name__, "history": history, "steps": seen}


def main() -> None:
    constitution, judge_url, out = sys.argv[1:4]
    results = {}
    for conversational in (False, True):
        for group in (False, True):
            form = "conversational" if conversational else "standard"
            key = f"{form}-{'group' if group else 'single'}"
            results[key] = run(constitution, judge_url, conversational, group)
    with open(out, "w", encoding="utf-8") as f:
        json.dump(results, f, default=str)


if __name__ == "__main__":
    main()
