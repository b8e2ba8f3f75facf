"""--help pages in sections: a command's own options first, then the shared ones by what they
are about (the judge model, panels and cascades, the batch API, scoring, input fields), so that
a 40-option page reads as a few short lists. Click's own formatter writes each section."""

from __future__ import annotations

import click

# Shared options by section, in the order the sections are shown; an option in none of them is
# the command's own and goes first, under "Options".
SECTIONS: dict[str, tuple[str, ...]] = {
    "Judge model": (
        "model",
        "base_url",
        "concurrency",
        "rpm",
        "tpm",
        "max_retries",
        "timeout",
        "max_cost",
        "prices",
        "cache_path",
        "no_cache",
        "dry_run",
        "quiet",
    ),
    "Panel and cascade": ("judges", "quorum", "cascade_path"),
    "Batch API": ("batch", "batch_fallback", "batch_size", "batch_poll", "batch_poll_max"),
    "Scoring": (
        "per_principle",
        "max_chars",
        "no_logprobs",
        "rationale",
        "group",
        "group_size",
        "mix_prompts",
    ),
    "Calibration": ("calibration_path", "force"),
    "fastText": (
        "lr",
        "epoch",
        "dim",
        "word_ngrams",
        "min_count",
        "bucket",
        "threads",
        "min_class",
        "newline_replacement",
    ),
    "Input fields": (
        "prompt_field",
        "response_field",
        "responses_field",
        "text_field",
        "response_a_field",
        "response_b_field",
        "chosen_field",
        "rejected_field",
        "label_field",
        "annotators_field",
        "score_field",
        "id_field",
    ),
}
_SECTION_OF = {name: title for title, names in SECTIONS.items() for name in names}


class Sectioned(click.Command):
    """A command whose --help lists its options in sections (SECTIONS)."""

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        sections: dict[str, list[tuple[str, str]]] = {"Options": []}
        sections.update((title, []) for title in SECTIONS)
        for param in self.get_params(ctx):
            if isinstance(param, click.Argument):
                continue  # the usage line names them; the docstring says what they are
            record = param.get_help_record(ctx)
            if record is None:
                continue
            sections[_SECTION_OF.get(param.name or "", "Options")].append(record)
        for title, records in sections.items():
            if records:
                with formatter.section(title):
                    formatter.write_dl(records)
