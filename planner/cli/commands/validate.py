"""`planner validate FILE`."""

from __future__ import annotations

import click

from planner.cli.output import say
from planner.cli.util import load_with_sets, set_option
from planner.inputs.defaults import defaults_in_force
from planner.problem.build import build_problem


@click.command("validate")
@click.argument("file", type=click.Path(dir_okay=False))
@set_option
def command(file: str, sets: tuple[str, ...]) -> None:
    """Check a scenario file: schema, names, and that every SLO can be met."""
    scenario = load_with_sets(file, sets)
    problem = build_problem(scenario)
    for w in problem.warnings:
        click.echo(f"warning: {w}", err=True)
    if scenario.capacity is not None:  # candidates, prices and sites, as plan-capacity reads them
        from planner.problem.build import load_catalog_for, load_topology_for
        from planner.studies.capacity import candidate_options, sites_only

        options, notes = candidate_options(scenario, load_catalog_for(scenario),
                                           sites_only(scenario, load_topology_for(scenario)))
        for note in notes:
            click.echo(f"warning: {note}", err=True)
    click.echo(f"{file}: ok — {len(problem.sites)} sites, {len(problem.inventory)} (site, accelerator) pools, "
               f"{len(problem.jobs)} jobs, {len(problem.services)} inference service(s)")
    if scenario.capacity is not None:
        click.echo(f"capacity: {len(options)} (site, system) purchase options over {len(scenario.capacity.periods)} "
                   "period(s)")
    in_force = defaults_in_force(scenario)
    if in_force:
        say("defaults in force (set them in the file to change them):")
        for line in in_force:
            say(f"  {line}")
