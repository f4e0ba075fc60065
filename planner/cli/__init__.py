"""The ``planner`` command line."""

from __future__ import annotations

import sys

import click

from planner.cli.lazy import LazyCommands
from planner.errors import InputError


class _Group(LazyCommands):
    """Turns bad input into one line and exit 2, never a traceback. Subcommands load on first use."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except InputError as exc:
            click.echo(f"error: {exc.format()}", err=True)
            sys.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="planner")
def main() -> None:
    """Place AI training and inference across China's East-West compute sites."""

if __name__ == "__main__":
    main()
