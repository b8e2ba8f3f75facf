"""Train TRL's DPOTrainer for two steps on a `judge pairs` dataset folder, offline: run by
tests/test_trl_dpo.py with a python that has trl (JUDGE_TRL_PYTHON), never imported by judge.

    python tests/trl_dpo.py DATASET_FOLDER   # prints {"steps": 2, "loss": ..., "rows": ...}

The model is a one-layer Llama built from a config and the tokenizer a word-level one built from
the dataset's own words, with a plain chat template for the conversational form: nothing is
downloaded. What is checked is that TRL takes the rows as they are, in either form.
"""

from __future__ import annotations

import copy
import json
import sys
import tempfile

import datasets
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast
from trl import DPOConfig, DPOTrainer

SPECIAL = ["<pad>", "<unk>", "<s>", "</s>"]
TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant: {% endif %}"
)


def texts(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(m["content"]) + " " + str(m["role"]) for m in value]
    return []


def main(folder: str) -> None:
    ds = datasets.load_from_disk(folder)
    split = pre_tokenizers.Whitespace()
    words: dict[str, int] = {w: i for i, w in enumerate(SPECIAL)}
    for row in ds:
        for key in ("prompt", "chosen", "rejected"):
            for text in texts(row[key]):
                for word, _ in split.pre_tokenize_str(text + " : assistant user system"):
                    words.setdefault(word, len(words))
    tok = Tokenizer(models.WordLevel(vocab=words, unk_token="<unk>"))
    tok.pre_tokenizer = split
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", unk_token="<unk>", bos_token="<s>",
        eos_token="</s>",
    )  # fmt: skip
    tokenizer.chat_template = TEMPLATE
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=512,
        pad_token_id=0, bos_token_id=2, eos_token_id=3,
    )  # fmt: skip
    model = LlamaForCausalLM(config)
    with tempfile.TemporaryDirectory() as out:
        args = DPOConfig(
            output_dir=out, max_steps=2, per_device_train_batch_size=2, report_to=[],
            save_strategy="no", use_cpu=True, logging_steps=1,
        )  # fmt: skip
        trainer = DPOTrainer(
            model=model, ref_model=copy.deepcopy(model), args=args, train_dataset=ds,
            processing_class=tokenizer,
        )  # fmt: skip
        result = trainer.train()
    print(json.dumps({"steps": result.global_step, "loss": result.training_loss, "rows": len(ds)}))


if __name__ == "__main__":
    main(sys.argv[1])
