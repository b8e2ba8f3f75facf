"""The `judge` command line. Only this package prints."""

from __future__ import annotations

import sys

import click

from judge.errors import JudgeError


class _Group(click.Group):
    """Turns the toolkit's errors into a clear message and an exit code, never a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except JudgeError as exc:
            click.echo(f"judge: error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("judge: interrupted; run the same command again to resume", err=True)
            sys.exit(130)
        except BrokenPipeError:
            # `judge score ... | head`: the reader left; that is not an error of ours.
            sys.stderr.close()
            sys.exit(0)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="judge")
def main() -> None:
    """Constitutional-AI judging: score, filter, pair and calibrate with AI judges."""


def _register() -> None:
    from judge.cli import (
        calibrate_cmd,
        constitution_cmd,
        filter_cmd,
        pairs_cmd,
        revise_cmd,
        score_cmd,
    )

    main.add_command(score_cmd.score)
    main.add_command(filter_cmd.filter_)
    main.add_command(pairs_cmd.pairs)
    main.add_command(calibrate_cmd.calibrate)
    main.add_command(revise_cmd.revise)
    main.add_command(constitution_cmd.constitution)


_register()
