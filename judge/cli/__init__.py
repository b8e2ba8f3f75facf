"""The `judge` command line. Only this package prints."""

from __future__ import annotations

import importlib
import sys

import click

from judge.backends.http_errors import hide_keys
from judge.errors import JudgeError, as_flag

# name -> (module in judge.cli, the click command in it, its line in `judge --help`). Imported
# when the command is asked for: `judge score` then never loads scipy and the rest that pairs and
# calibrate need, and `judge --help` loads none of them (its lines are here).
_COMMANDS = {
    "score": ("score_cmd", "score", "Score every candidate under a constitution."),
    "filter": (
        "filter_cmd",
        "filter_",
        "Keep the rows a judge (or a distilled classifier) scores high.",
    ),
    "pairs": (
        "pairs_cmd",
        "pairs",
        "Make DPO preference pairs from prompts with several responses.",
    ),
    "calibrate": (
        "calibrate_cmd",
        "calibrate",
        "Measure a judge against human labels; fit a calibration or a cascade.",
    ),
    "revise": (
        "revise_cmd",
        "revise",
        "Critique and revise responses, judged against the original.",
    ),
    "constitution": ("constitution_cmd", "constitution", "Check and inspect constitution files."),
    "label": (
        "label_cmd",
        "label",
        "Label items by hand in a local web page, for judge calibrate.",
    ),
    "distill": ("distill_cmd", "distill_", "Train a fastText classifier that mimics a judge."),
    "batches": ("batches_cmd", "batches", "List or cancel the batch jobs that --batch submitted."),
    "serve": ("serve_cmd", "serve", "Serve rewards over HTTP for trainers in other processes."),
    "models": (
        "models_cmd",
        "models",
        "Providers, their key variables, and known models with prices and features.",
    ),
}


class _Group(click.Group):
    """Turns the toolkit's errors into a clear message and an exit code, never a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except JudgeError as exc:
            click.echo(f"judge: error: {hide_keys(exc.render(as_flag))}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("judge: interrupted; run the same command again to resume", err=True)
            sys.exit(130)
        except BrokenPipeError:
            # `judge score ... | head`: the reader left; that is not an error of ours.
            sys.stderr.close()
            sys.exit(0)


class _LazyGroup(_Group):
    """The `judge` group: its commands are imported when used (see _COMMANDS)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*_COMMANDS, *(n for n in super().list_commands(ctx) if n not in _COMMANDS)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in _COMMANDS and cmd_name not in self.commands:
            module, attribute, _ = _COMMANDS[cmd_name]
            command = getattr(importlib.import_module(f"judge.cli.{module}"), attribute)
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The commands and their lines, without importing the commands' modules."""
        rows = [(name, line) for name, (_, _, line) in _COMMANDS.items()]
        for name in super().list_commands(ctx):
            if name not in _COMMANDS:
                command = self.get_command(ctx, name)
                if command is not None and not command.hidden:
                    rows.append((name, command.get_short_help_str(limit=formatter.width)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="judge")
def main() -> None:
    """Constitutional-AI judging: score, filter, pair and calibrate with AI judges."""
