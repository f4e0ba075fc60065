"""`planner validate FILE`."""

from __future__ import annotations

import click

from planner.cli.output import say, warn_all
from planner.cli.util import load_with_sets, set_option
from planner.inputs.defaults import defaults_in_force
from planner.errors import InputError
from planner.inputs.scenario import Scenario
from planner.problem.build import build_problem, load_catalog_for, load_topology_for
from planner.problem.purchases import candidate_options, period_problems, sites_only
from planner.problem.size import check_size
from planner.problem.timedata import build_time_data


@click.command("validate")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--model", "model", type=click.Choice(["spatial", "time"]),
              help="check for this model as `solve --model` would; default: the scenario's time.mode")
@click.option("--all-warnings", "all_warnings", is_flag=True,
              help="print every warning (by default the first 10, then how many more there are)")
@set_option
def command(file: str, sets: tuple[str, ...], model: str | None, all_warnings: bool) -> None:
    """Check a scenario file: schema, names, sizes, and that every SLO can be met.

    It runs exactly the checks the solving commands run before they build a model: `plan-capacity`'s
    for a scenario with a capacity section, `solve`'s (and the time model's) otherwise.
    """
    scenario = load_with_sets(file, sets)
    if scenario.capacity is not None:
        _validate_capacity(file, scenario, all_warnings)
        _defaults(scenario)
        return
    problem = build_problem(scenario)
    warn_all(problem.warnings, every=all_warnings, where=ALL_WARNINGS)
    if (model or scenario.time.mode) == "time":
        check_size(scenario, "time")
        td = build_time_data(scenario, problem)
        time_note = f", {td.steps} time steps of {td.step_h} h in {len(td.blocks)} blocks"
    else:
        time_note = ""
    click.echo(f"{file}: ok — {len(problem.sites)} sites, {len(problem.inventory)} (site, accelerator) pools, "
               f"{len(problem.jobs)} jobs, {len(problem.services)} inference service(s){time_note}")
    _defaults(scenario)


ALL_WARNINGS = "--all-warnings prints them all"


def _validate_capacity(file: str, scenario: Scenario, all_warnings: bool = False) -> None:
    """plan-capacity's checks: the sites, the candidates, and every period's (non-strict) problem."""
    catalog, topology = load_catalog_for(scenario), load_topology_for(scenario)
    options, notes = candidate_options(scenario, catalog, sites_only(scenario, topology))
    problems = period_problems(scenario, options, catalog, topology)
    warnings = list(dict.fromkeys(list(notes) + [w for p in problems for w in p.warnings]))
    warn_all(warnings, every=all_warnings, where=ALL_WARNINGS)
    try:  # `solve` (placement on the fleet on hand) is stricter: say so, without failing plan-capacity's check
        build_problem(scenario)
    except InputError as exc:
        click.echo(f"note: `planner solve` without --mode capacity would refuse it: {exc.format()}", err=True)
    last = problems[-1]
    click.echo(f"{file}: ok — {len(last.sites)} sites, {len(last.jobs)} jobs in the last period, "
               f"{len(last.services)} inference service(s)")
    click.echo(f"capacity: {len(options)} (site, system) purchase options over {len(scenario.capacity.periods)} "
               "period(s)")


def _defaults(scenario: Scenario) -> None:
    """The objective and capacity settings the file leaves at their defaults, each with its source."""
    in_force = defaults_in_force(scenario)
    if in_force:
        say("defaults in force (set them in the file to change them):")
        for line in in_force:
            say(f"  {line}")
