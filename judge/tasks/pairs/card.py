"""The dataset card of a preference dataset, and pushing the dataset to the Hugging Face Hub.

The card records what a reader needs to trust or question the pairs: the constitution (name,
sha256, principles), the judge model and how it judged, the counts, the position-bias figures
and the calibration, if one was applied.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import yaml

from judge.constitution import Constitution
from judge.errors import JudgeError
from judge.tasks.pairs.pipeline import PairsOptions
from judge.tasks.pairs.results import PairsStats

CARD_TAGS = ["dpo", "preference", "rlaif", "constitutional-ai", "judge"]


@dataclass
class CardInfo:
    constitution: Constitution
    model: str
    options: PairsOptions
    stats: PairsStats
    principles: str = "all"  # compare mode: "all" or "sample"
    calls: int = 0  # model calls this run made
    cached_calls: int = 0
    scores_from_input: bool = False  # score mode on an already-scored input: no calls
    calibration: str | None = None  # what was applied (a file name and its sha256)
    source: str | None = None  # the input's name


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _first_line(text: str, limit: int = 120) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def card_metadata(info: CardInfo) -> dict[str, Any]:
    return {
        "tags": list(CARD_TAGS),
        "task_categories": ["text-generation"],
        "pretty_name": f"Preference pairs judged under {info.constitution.name}",
    }


def card_body(info: CardInfo, repo: str | None = None) -> str:
    c, o, s = info.constitution, info.options, info.stats
    lines = [
        f"# Preference pairs judged under `{c.name}`",
        "",
        "Preference pairs for DPO, made by `judge pairs`: an AI judge read each prompt's candidate "
        "responses under a written constitution, and the best were paired against worse ones. "
        "The columns follow TRL's preference format, so `DPOTrainer` trains on the dataset as it "
        "is.",
        "",
        "## Columns",
        "",
        "- `prompt`, `chosen`, `rejected`: "
        + (
            "lists of messages (TRL's conversational format with an explicit prompt; TRL "
            "applies the model's chat template)"
            if o.conversational
            else "strings (TRL's standard format: TRL trains on `prompt + chosen`, so each prompt "
            f"ends with the separator {json.dumps(o.separator)} to mark the turn boundary)"
        ),
        "- `score_chosen`, `score_rejected`: the judge's scores in [0, 1]; `margin` their "
        "difference",
    ]
    if o.mode == "compare":
        lines.append(
            "- `p_chosen`: the probability that the chosen response is better: the judge's own "
            "(from its two verdicts) where it compared the pair directly, else the Bradley-Terry "
            "model's"
        )
    else:
        lines.append("- `scores_chosen`, `scores_rejected`: the score under each principle")
    lines += [
        "- `chosen_index`, `rejected_index`: the responses' positions among the prompt's "
        "candidates; `prompt_id`: the input's id, where it has one",
        "- `judge_model`, `constitution`, `constitution_sha256`, `mode`: provenance",
        "",
        "## Constitution",
        "",
        f"- name: `{c.name}`" + (f" ({c.title})" if c.title else ""),
        f"- sha256 of the file: `{c.sha256}`",
    ]
    if c.version:
        lines.append(f"- version: {c.version}")
    lines += ["", "| principle | weight | scale | statement |", "|---|---|---|---|"]
    for p in c.principles:
        statement = _first_line(p.statement).replace("|", "\\|")
        lines.append(f"| `{p.id}` | {p.weight:g} | {p.scale} | {statement} |")
    lines += ["", "## Judge", "", f"- model: `{info.model}`"]
    if o.mode == "compare":
        how = "every pair" if o.comparisons == "all" else "the pairs of a judge-driven merge sort"
        lines.append(
            f"- mode: compare: {how}, each judged in both orders; ranked by Bradley-Terry "
            f"strengths; principles: {info.principles}"
            + (" (one drawn per comparison, seeded)" if info.principles == "sample" else "")
        )
    elif info.scores_from_input:
        lines.append("- mode: score, from the scores already in the input (no model call)")
    else:
        lines.append("- mode: score: every response scored under all principles")
    lines += [
        f"- pair strategy: `{o.strategy}`, minimum margin {o.min_margin:g}, seed {o.seed}",
        f"- calibration: {info.calibration or info.options.calibration or 'none'}",
        "",
        "## Counts",
        "",
        "| | |",
        "|---|---|",
        f"| prompts | {s.prompts} |",
        f"| candidate responses | {s.candidates} |",
        f"| judged (distinct texts) | {s.judged} |",
        f"| not judged (empty, or the judge failed) | {s.failed} |",
        f"| duplicate texts (judged once) | {s.duplicates} |",
        f"| prompts whose candidates all failed | {s.prompts_all_failed} |",
        f"| prompts with no pair | {s.prompts_without_pair} |",
        f"| pairs | {s.pairs} |",
    ]
    if o.mode == "compare":
        lines += [
            f"| comparisons (each in both orders) | {s.comparisons} |",
            f"| comparisons not judged | {s.comparisons_failed} |",
            f"| ties (flips included) | {s.ties} |",
        ]
    lines += [f"| model calls (this run; from cache: {info.cached_calls}) | {info.calls} |", ""]
    lines += ["## Position bias", ""]
    if o.mode == "compare" and s.comparisons:
        lines += [
            f"- verdicts that flipped when the order was swapped: {_pct(s.flip_rate)} "
            f"({s.flips} of {s.comparisons}); a flipped verdict counts as a tie",
            f"- orderings won by the response shown first: {_pct(s.first_position_rate)} "
            "(50% would be no preference for a position)",
        ]
    else:
        lines.append("Not measured: responses were scored one at a time, not compared.")
    lines += [
        "",
        "## Use with TRL",
        "",
        "```python",
        "from datasets import load_dataset, load_from_disk",
        "from trl import DPOConfig, DPOTrainer",
        "",
        f'train = load_dataset("{repo or "REPO"}", split="train")'
        if repo
        else 'train = load_from_disk("FOLDER")  # or load_dataset("REPO", split="train")',
        'trainer = DPOTrainer(model=model, args=DPOConfig(output_dir="dpo"), '
        "train_dataset=train, processing_class=tokenizer)",
        "```",
        "",
        "## Caveats",
        "",
        "The labels come from an AI judge, not from people: they are as good as the judge and the "
        "constitution. Check a sample by hand, and measure the judge against human labels "
        "(`judge calibrate`) before training on them at scale.",
    ]
    return "\n".join(lines) + "\n"


def render_card(metadata: dict[str, Any], body: str) -> str:
    front = yaml.safe_dump(metadata, sort_keys=False, allow_unicode=True).strip()
    return f"---\n{front}\n---\n\n{body}"


def dataset_card(info: CardInfo, repo: str | None = None) -> str:
    return render_card(card_metadata(info), card_body(info, repo))


def push_to_hub(
    dataset: Any,
    repo: str,
    info: CardInfo,
    *,
    private: bool | None = None,
    token: str | None = None,
) -> None:
    """Push the dataset, then its card (keeping the metadata `datasets` wrote for the data)."""
    from huggingface_hub import DatasetCard

    message = f"judge pairs: {info.stats.pairs} preference pairs under {info.constitution.name}"
    try:
        dataset.push_to_hub(repo, private=private, token=token, commit_message=message)
        try:
            metadata = DatasetCard.load(repo, repo_type="dataset", token=token).data.to_dict()
        except Exception:  # a repo without a card yet: ours is the first
            metadata = {}
        for key, value in card_metadata(info).items():
            if key == "tags":
                value = list(dict.fromkeys([*(metadata.get("tags") or []), *value]))
            metadata[key] = value
        card = DatasetCard(render_card(metadata, card_body(info, repo)))
        card.push_to_hub(repo, token=token, repo_type="dataset", commit_message="dataset card")
    except JudgeError:
        raise
    except Exception as exc:  # the hub client raises many kinds; none should be a traceback
        raise JudgeError(
            f"pushing to the Hugging Face Hub repo {repo!r} failed: {type(exc).__name__}: {exc}. "
            "Log in with `hf auth login` (or set HF_TOKEN) with a token that can write to it; "
            "the dataset is still written locally if you gave -o"
        ) from None
