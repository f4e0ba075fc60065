"""`planner validate FILE`."""

from __future__ import annotations

import click

from planner.problem import build_problem
from planner.cliutil import load_with_sets, set_option


@click.command("validate")
@click.argument("file", type=click.Path(dir_okay=False))
@set_option
def command(file: str, sets: tuple[str, ...]) -> None:
    """Check a scenario file: schema, names, and that every SLO can be met."""
    problem = build_problem(load_with_sets(file, sets))
    for w in problem.warnings:
        click.echo(f"warning: {w}", err=True)
    click.echo(f"{file}: ok — {len(problem.sites)} sites, {len(problem.inventory)} (site, accelerator) pools, "
               f"{len(problem.jobs)} training jobs, {len(problem.services)} inference services")
