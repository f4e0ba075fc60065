"""`planner plan-capacity FILE` (also `planner solve FILE --mode capacity`)."""

from __future__ import annotations

import sys

import click
import pandas as pd

from planner.cli.clock import remaining
from planner.cli.output import make_console, print_frame
from planner.cli.progress import ProgressLine
from planner.cli.util import (
    MAX_SEED,
    MAX_TIME_LIMIT_S,
    MAX_WORKERS,
    exit_if_interrupted,
    load_with_sets,
    parse_sets,
    record_scenario,
    set_option,
)
from planner.studies.capacity import CapacityResult, plan_capacity
from planner.studies.sweep.run import record_solve


@click.command("plan-capacity")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="write the capacity plan JSON here")
@click.option("--time-limit", "time_limit_s", type=click.FloatRange(min=0.01, max=MAX_TIME_LIMIT_S))
@click.option("--workers", type=click.IntRange(min=1, max=MAX_WORKERS))
@click.option("--seed", type=click.IntRange(min=0, max=MAX_SEED))
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.option("-q", "--quiet", is_flag=True)
@set_option
def command(file: str, output: str | None, time_limit_s: float | None, workers: int | None, seed: int | None,
            fmt: str, quiet: bool, sets: tuple[str, ...]) -> None:
    """Choose the systems to buy, per period and site, and place the work on the grown fleet."""
    run_capacity(file, output, time_limit_s, workers, seed, fmt, quiet, sets)


def run_capacity(file: str, output: str | None, time_limit_s: float | None, workers: int | None,
                 seed: int | None, fmt: str, quiet: bool, sets: tuple[str, ...], store: str | None = None) -> None:
    scenario = load_with_sets(file, sets)
    with ProgressLine(enabled=not quiet and fmt == "table") as progress:
        limit = time_limit_s if time_limit_s is not None else scenario.solver.time_limit_s
        result = plan_capacity(scenario, time_limit_s=remaining(limit),  # the limit covers the whole command
                               workers=workers, seed=seed, on_progress=progress)
    if output:
        result.to_json(output)
        record_scenario(output, file, sets)
    if store:
        run_id = record_solve(store, file, parse_sets(sets), scenario, result, mode="capacity", model=None,
                              time_limit_s=time_limit_s, workers=workers, seed=seed)
        if fmt != "json":
            make_console(stderr=True).print(f"run {run_id[:12]} recorded in {store}", highlight=False)
    if fmt == "json":
        click.echo(result.to_json())
    else:
        print_capacity(result)
    exit_if_interrupted(result.solver, output)
    if not result.is_feasible():
        click.echo(f"no plan found: {result.solver.get('cp_sat_status')}; raise --time-limit", err=True)
        sys.exit(1)


def print_capacity(result: CapacityResult) -> None:
    console = make_console()
    for w in result.warnings:
        make_console(stderr=True).print(f"[yellow]warning:[/] {w}", highlight=False)
    if len(result.purchases):
        print_frame(result.purchases, title="Purchases", console=console)
    else:
        console.print("Purchases: none — the fleet on hand is the cheapest answer")
    periods = result.period_table().set_index("period").T.reset_index(names="per period (costs per year)")
    print_frame(periods, title="Periods", console=console)
    unplaced = [r.unplaced.assign(period=name) for name, r in result.periods.items() if len(r.unplaced)]
    if unplaced:
        print_frame(pd.concat(unplaced)[["period", "workload", "kind", "city", "tokens_per_s", "reason"]],
                    title="Unplaced work", console=console)
    console.print(result.summary())
