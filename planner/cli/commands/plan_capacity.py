"""`planner plan-capacity FILE` (also `planner solve FILE --mode capacity`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
import pandas as pd

from planner.cli.clock import remaining
from planner.cli.output import make_console, print_frame, say, warn_all
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
from planner.inputs.defaults import defaults_in_force
from planner.viz.sections import labelled_periods

if TYPE_CHECKING:
    from planner.studies.capacity import CapacityResult


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
    if fmt == "table" and not quiet and make_console(stderr=True).is_terminal:
        say(f"planning capacity for {scenario.name}: {len(scenario.capacity.candidates) if scenario.capacity else 0} "
            f"candidate system(s), {len(scenario.capacity.periods) if scenario.capacity else 0} period(s), "
            f"time limit {time_limit_s or scenario.solver.time_limit_s:g} s …", make_console(stderr=True))
    # the studies load OR-Tools (about half a second): imported after the first line is printed
    from planner.studies.capacity import plan_capacity
    from planner.studies.explain import binding_limits_of, explain_capacity

    with ProgressLine(enabled=not quiet and fmt == "table") as progress:
        limit = time_limit_s if time_limit_s is not None else scenario.solver.time_limit_s
        result = plan_capacity(scenario, time_limit_s=remaining(limit),  # the limit covers the whole command
                               workers=workers, seed=seed, on_progress=progress)
    reasons = explain_capacity(scenario, result)
    result.warnings.extend(r for r in reasons if r not in result.warnings)  # the plan file says why, too
    explanation = {"binding_limits": binding_limits_of(scenario, result), "why": reasons}
    if output:
        result.to_json(output)
        _add_explanation(output, explanation)
        record_scenario(output, file, sets)
    if store:
        from planner.studies.sweep.run import record_solve

        run_id = record_solve(store, file, parse_sets(sets), scenario, result, mode="capacity", model=None,
                              time_limit_s=time_limit_s, workers=workers, seed=seed)
        if fmt != "json":
            say(f"run {run_id[:12]} recorded in {store}", make_console(stderr=True))
    if fmt == "json":
        click.echo(json.dumps({**json.loads(result.to_json()), "explanation": explanation}, indent=2))
    else:
        print_capacity(result, reasons, horizon_h=scenario.horizon_h)
        in_force = defaults_in_force(scenario)
        if in_force:
            say("defaults in force: " + "; ".join(in_force), make_console(), style="dim")
        if output:
            say(f"capacity plan written to {output}")
    exit_if_interrupted(result.solver, output)
    if not result.is_feasible():
        click.echo(f"no plan found: {result.solver.get('cp_sat_status')}; raise --time-limit", err=True)
        sys.exit(1)


def _add_explanation(path: str, explanation: dict) -> None:
    """The plan file's ``explanation``: the purchase limits reached and why demand went unserved
    (the report's capacity section reads it)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    data["explanation"] = explanation
    Path(path).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def period_frame(result: CapacityResult) -> pd.DataFrame:
    """Periods as columns, figures as labelled rows (each stating its unit and time basis)."""
    table = result.period_table().set_index("period")
    return labelled_periods(table)


def print_capacity(result: CapacityResult, reasons: list[str] = (), horizon_h: float | None = None) -> None:
    console = make_console()
    err = make_console(stderr=True)
    warn_all([w for w in result.warnings if w not in reasons], err)  # the reasons print below, under "Why"
    if len(result.purchases):
        print_frame(result.purchases, title="Purchases", console=console,
                    keep=["period", "site", "system"], drop_first=["accelerator", "in_service_from"])
    else:
        say("Purchases: none." + (" Demand is left unserved or work unplaced; see why below." if reasons else
                                   " The fleet on hand serves all the work at the lowest cost."), console)
    basis = f"  each period is one {horizon_h:g} h window scaled to a year" if horizon_h else None
    print_frame(period_frame(result), title="Per period", console=console, keep=["figure"], note=basis)
    unplaced = [r.unplaced.assign(period=name) for name, r in result.periods.items() if len(r.unplaced)]
    if unplaced:
        print_frame(pd.concat(unplaced)[["period", "workload", "kind", "city", "tokens_per_s", "reason"]],
                    title="Unplaced work", console=console, keep=["period", "workload"])
    if reasons:
        say("Why:", console, style="bold")
        for line in reasons:
            say(f"  - {line}", console)
    o, n = result.objective, len(result.periods)
    say(f"{result.scenario} (capacity): {result.status.value}", console)
    say(f"total over {n} period(s), the sum of each period's yearly cost: {o['total_cny_per_year']:,.0f} CNY "
        f"= annualised capex {o['annualised_capex_cny_per_year']:,.0f} + maintenance "
        f"{o['maintenance_cny_per_year']:,.0f} + power {o['power_cost_cny_per_year']:,.0f} + latency "
        f"{o['latency_cny_per_year']:,.0f} + unplaced {o['unplaced_penalty_cny_per_year']:,.0f}"
        + (f" + unfinished work {o['unfinished_work_cny_per_year']:,.0f}" if o.get("unfinished_work_cny_per_year")
           else ""), console)
    s = result.solver
    gap = "–" if s.get("gap") is None else f"{100 * s['gap']:.3f} %"
    say(f"capex {result.kpis['capex_cny']:,.0f} CNY for {result.kpis.get('systems_bought', 0)} system(s), "
        f"{result.kpis.get('chips_bought', 0):,} chips; best bound {s.get('best_bound') or float('nan'):,.0f} CNY, "
        f"gap {gap}, wall {s.get('wall_s', 0):.2f} s", console)
