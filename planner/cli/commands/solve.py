"""`planner solve FILE`."""

from __future__ import annotations

import sys

import click
import pandas as pd

from planner.cli.clock import remaining
from planner.cli.output import make_console, print_frame, say, warn, warn_all
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
from planner.inputs.fingerprint import fingerprint
from planner.problem.build import build_problem
from planner.problem.size import check_size
from planner.results.estimated import estimated_frame
from planner.results.result import Result
from planner.results.statistics import cost_by_band, export


@click.command("solve")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="write the plan JSON here")
@click.option("--time-limit", "time_limit_s", type=click.FloatRange(min=0.01, max=MAX_TIME_LIMIT_S),
              help="seconds (default: scenario)")
@click.option("--workers", type=click.IntRange(min=1, max=MAX_WORKERS), help="CP-SAT worker threads (default: scenario)")
@click.option("--seed", type=click.IntRange(min=0, max=MAX_SEED), help="random seed (default: scenario)")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              help="table for people, json (the plan) for scripts")
@click.option("-q", "--quiet", is_flag=True, help="no progress line")
@click.option("--export", "export_dir", type=click.Path(file_okay=False),
              help="write every statistics table as CSV and Parquet into this folder")
@click.option("--mode", type=click.Choice(["place", "capacity"]), default="place",
              help="place work on the fleet on hand, or also choose what to buy (as plan-capacity)")
@click.option("--model", "model", type=click.Choice(["spatial", "time"]),
              help="spatial (all work concurrent, mean prices) or time (hour by hour); default: the scenario's time.mode")
@click.option("--store", type=click.Path(dir_okay=False),
              help="also record the run (verified) in this DuckDB run store; see `planner runs`")
@click.option("--rows", "max_rows", type=click.IntRange(min=0), default=50, show_default=True,
              help="rows shown per table in the terminal (0: all); the plan file and --export always hold every row")
@set_option
def command(file: str, output: str | None, time_limit_s: float | None, workers: int | None, seed: int | None,
            fmt: str, quiet: bool, export_dir: str | None, mode: str, sets: tuple[str, ...],
            model: str | None, store: str | None, max_rows: int = 50) -> None:
    """Place the scenario's training jobs and inference services with CP-SAT."""
    if mode == "capacity":
        from planner.cli.commands.plan_capacity import run_capacity

        run_capacity(file, output, time_limit_s, workers, seed, fmt, quiet, sets, store=store)
        return
    scenario = load_with_sets(file, sets)
    err = make_console(stderr=True)
    if fmt == "table" and not quiet and err.is_terminal:  # a person is watching: say what starts, at once
        say(f"solving {scenario.name}: {sum(j.count for j in scenario.jobs)} job(s), "
            f"{len(scenario.inference_services)} inference service(s) on {len(scenario.sites)} site(s), "
            f"{scenario.horizon_h:g} h horizon …", err)
    problem = build_problem(scenario)
    warn_all(problem.warnings, err)
    if scenario.capacity is not None:
        warn("this scenario has a capacity section; `solve` places work on the fleet on hand and ignores it. "
             "Run `planner plan-capacity FILE` (or `solve --mode capacity`) to choose purchases too", err)
    # The solver modules load OR-Tools (about half a second): imported after the first lines are
    # printed, not when the command is looked up (benchmarks/startup.py measures it).
    from planner.core.runner import resolve_settings
    from planner.core.solve import solve
    from planner.core.timemodel import solve_time

    with ProgressLine(enabled=not quiet and fmt == "table") as progress:
        limit = time_limit_s if time_limit_s is not None else scenario.solver.time_limit_s
        # the limit covers the whole command: what reading and checking took comes off it
        settings = resolve_settings(scenario, time_limit_s=remaining(limit), workers=workers, seed=seed)
        if (model or scenario.time.mode) == "time":
            check_size(scenario, "time")
            result = solve_time(scenario, problem=problem, settings=settings, on_progress=progress)
        else:
            result = solve(problem, settings=settings, on_progress=progress)
    result.meta["scenario_fingerprint"] = fingerprint(scenario)
    if output:
        result.to_json(output)
        record_scenario(output, file, sets)
    if store:
        from planner.studies.sweep.run import record_solve

        run_id = record_solve(store, file, parse_sets(sets), scenario, result, mode="place", model=model,
                              time_limit_s=time_limit_s, workers=workers, seed=seed, problem=problem)
        if fmt != "json":
            say(f"run {run_id[:12]} recorded in {store}", make_console(stderr=True))
    if export_dir:
        written = export(result, export_dir)
        if fmt != "json":
            say(f"{len(written)} tables written to {export_dir} (CSV and Parquet)")
    if fmt == "json":
        click.echo(result.to_json())
    else:
        print_result(result, max_rows)
        if output:
            say(f"plan written to {output}")
    exit_if_interrupted(result.solver, output)
    if not result.is_feasible():
        click.echo(f"no plan found: solver status {result.solver.get('cp_sat_status')} "
                   f"after {result.solver.get('wall_s')} s; raise --time-limit", err=True)
        sys.exit(1)


def print_result(result: Result, max_rows: int | None = None) -> None:
    """The plan's tables and totals in the terminal; ``max_rows`` caps each long table (the totals always show)."""
    console = make_console()
    rows = max_rows or None
    p = result.placements
    if len(p):
        table = p.assign(energy_mwh=p.energy_mwh.round(2), power_cost_cny=p.power_cost_cny.round(0),
                         hours=p.hours.round(1))
        if "run_share" in table and (table.run_share.fillna(1.0) < 1.0).any():  # a job the plan does not finish
            table = table.assign(run_share=table.run_share.round(3))
        else:
            table = table.drop(columns="run_share", errors="ignore")
        print_frame(table, title="Placements", console=console, keep=["workload", "site", "accelerator"],
                    drop_first=["kind", "replicas", "hours", "energy_mwh"], max_rows=rows)
    if len(result.routing):
        print_frame(result.routing, title="Routing (tokens/s)", console=console,
                    keep=["service", "city", "site", "accelerator"], max_rows=rows)
    if len(result.unplaced):
        print_frame(result.unplaced, title="Unplaced", console=console, keep=["workload", "city"], max_rows=rows)
    if len(result.schedule):
        sched = result.schedule.assign(energy_mwh=result.schedule.energy_mwh.round(2),
                                       power_cost_cny=result.schedule.power_cost_cny.round(0))
        print_frame(sched, title="Schedule (hours from the start, Monday 00:00)", console=console, max_rows=rows)
    if len(result.transfers):
        print_frame(result.transfers.drop(columns=["path"]), title="Dataset transfers", console=console, max_rows=rows)
    if len(result.hourly):
        print_frame(cost_by_band(result.hourly), title="Power cost by time-of-use band", console=console)
    estimated = estimated_frame(result.meta)
    if len(estimated):
        print_frame(estimated, title="Estimated throughput (not given in the scenario): output tokens/s per chip, "
                                     "end to end, and its basis", console=console)
    o, k, s = result.objective, result.kpis, result.solver
    horizon = result.meta.get("horizon_h")
    basis = f"per {float(horizon):g} h" if horizon else "over the horizon"
    totals = pd.DataFrame([
        (f"objective ({basis})", f"{o['total_cny']:,.0f} CNY"),
        ("  power cost", f"{o['power_cost_cny']:,.0f} CNY"),
        ("  latency", f"{o['latency_cny']:,.0f} CNY"),
        ("  unplaced penalty", f"{o['unplaced_penalty_cny']:,.0f} CNY"),
        *([("  unfinished work", f"{o['unfinished_work_cny']:,.0f} CNY")] if o.get("unfinished_work_cny") else []),
        # a spatial plan states these too (one plan schema), always zero: shown for time of use
        *([("  data transfer", f"{o['transfer_cny']:,.0f} CNY"), ("  checkpoints", f"{o['checkpoint_cny']:,.0f} CNY")]
          if "transfer_cny" in o and result.meta.get("mode") == "time" else []),
        (f"energy ({basis})", f"{k['energy_mwh']:,.1f} MWh"),
        (f"carbon ({basis})", f"{k['carbon_t']:,.1f} t CO2"),
        ("token-weighted RTT", f"mean {k['mean_rtt_ms']:.1f} ms, max {k['max_rtt_ms']:.1f} ms"),
        ("inference power cost", f"{k['inference_cny_per_mtokens']:.4f} CNY per million output tokens"),
        ("solver", f"{result.status.value} ({s.get('cp_sat_status') or 'CP-SAT not run'}), wall {s.get('wall_s')} s"),
        *([("plan from", s["plan_source"])] if s.get("plan_source") else []),
        ("best bound", "–" if s.get("best_bound") is None else f"{s['best_bound']:,.0f} CNY"),
        *([("bound from", s["bound_source"])] if s.get("bound_source") else []),
        ("gap", "–" if s.get("gap") is None else f"{100 * s['gap']:.3f} %"),
        ("greedy baseline", f"{s.get('greedy_objective', float('nan')):,.0f} CNY"),
    ], columns=["", "value"])
    print_frame(totals, title=f"Totals — {result.scenario} ({basis})", console=console)
