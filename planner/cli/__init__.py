"""The ``planner`` command line."""

from __future__ import annotations

from planner.cli import clock  # noqa: I001 - first, so a time limit counts from the command's start
import os
import sys
import traceback

import click

from planner.cli.lazy import LazyCommands
from planner.errors import InputError, _one_line


#: exit statuses, as the README documents them
EXIT_PLAN, EXIT_NO_PLAN, EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

ISSUE_HINT = "this is a bug in planner: please report it with the command, the input files and --debug output"


class _Group(LazyCommands):
    """Bad input: one line and exit 2. Anything else: one line, a hint to report it, and exit 3
    (the traceback only with ``--debug``). Ctrl-C: exit 130. Subcommands load on first use."""

    def invoke(self, ctx: click.Context):
        clock.begin()
        try:
            return super().invoke(ctx)
        except InputError as exc:
            click.echo(f"error: {exc.format()}", err=True)
            sys.exit(EXIT_BAD_INPUT)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, SystemExit):
            raise
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except Exception as exc:  # noqa: BLE001 - the last line of defence: never a bare traceback
            if ctx.find_root().params.get("debug"):
                traceback.print_exc()
            summary = _one_line(f"{type(exc).__name__}: {exc}")[:300]
            click.echo(f"internal error: {summary} ({ISSUE_HINT})", err=True)
            sys.exit(EXIT_INTERNAL)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="planner")
@click.option("--debug", is_flag=True, help="on an internal error, show the traceback")
def main(debug: bool) -> None:
    """Place AI training and inference across China's East-West compute sites.

    Exit status: 0 a plan; 1 no plan, or verify found violations; 2 bad input (one line naming
    the file, the field and the fix); 3 internal error (report it; --debug shows the traceback);
    130 interrupted by Ctrl-C (the best plan so far is written, marked interrupted).
    """


def run() -> None:
    """The ``planner`` command: ``main``, then, if a HiGHS solve the two-phase start stopped waiting
    for still runs (``planner.core.runner.solves_left_behind``: the gap met, Ctrl-C, HiGHS past its
    limit), an immediate exit with the command's status once its output is flushed, rather than
    waiting for HiGHS to reach its own limit."""
    try:
        main()  # standalone mode: always ends in SystemExit
    except SystemExit as exc:
        runner = sys.modules.get("planner.core.runner")  # loaded only by a command that solved
        if runner is not None and runner.solves_left_behind():
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if not isinstance(exc.code, int | None):
                print(exc.code, file=sys.stderr)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        raise


if __name__ == "__main__":
    run()
