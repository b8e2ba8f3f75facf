"""The `judge` command line. Only this package prints."""

from __future__ import annotations

import importlib
import sys

import click

from judge.errors import JudgeError, as_flag

# name -> (module in judge.cli, the click command in it). Imported when the command is asked
# for: `judge score` then never loads scipy and the rest that pairs and calibrate need (a second
# of start-up on a small machine).
_COMMANDS = {
    "score": ("score_cmd", "score"),
    "filter": ("filter_cmd", "filter_"),
    "pairs": ("pairs_cmd", "pairs"),
    "calibrate": ("calibrate_cmd", "calibrate"),
    "revise": ("revise_cmd", "revise"),
    "constitution": ("constitution_cmd", "constitution"),
    "label": ("label_cmd", "label"),
    "distill": ("distill_cmd", "distill_"),
    "batches": ("batches_cmd", "batches"),
}


class _Group(click.Group):
    """Turns the toolkit's errors into a clear message and an exit code, never a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except JudgeError as exc:
            click.echo(f"judge: error: {exc.render(as_flag)}", err=True)
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
            module, attribute = _COMMANDS[cmd_name]
            command = getattr(importlib.import_module(f"judge.cli.{module}"), attribute)
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="judge")
def main() -> None:
    """Constitutional-AI judging: score, filter, pair and calibrate with AI judges."""
