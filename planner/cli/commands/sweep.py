"""`planner sweep FILE --param KEY=V1,V2 … [--tornado KEY=LOW:HIGH] [--marginal power,chips,slo]`."""

from __future__ import annotations

import sys
import time

import click

from planner.cli.util import parse_sets, set_option
from planner.errors import InputError, did_you_mean
from planner.studies.compare import parse_mix
from planner.studies.sweep.grid import Settings, parse_param
from planner.studies.sweep.sensitivity import marginal_values, metric_columns, tornado as tornado_table
from planner.studies.sweep.store import RunStore
from planner.studies.sweep.study import plan_runs, run_sweep
from planner.studies.sweep.tables import FORMATS, write_table
from planner.cli.output import make_console, print_frame, say


def _families(values: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for v in values:
        out += [x.strip() for x in v.split(",") if x.strip()]
    return list(dict.fromkeys(out))


def _steps(values: tuple[str, ...]) -> dict[str, float]:
    out = {}
    for item in values:
        key, sep, raw = item.partition("=")
        try:
            out[key.strip()] = float(raw)
        except ValueError:
            raise InputError(f"--marginal-step {item!r} is not FAMILY=NUMBER", field="--marginal-step",
                             fix="e.g. --marginal-step power=5 --marginal-step chips=512") from None
        if not sep or out[key.strip()] <= 0:
            raise InputError(f"--marginal-step {item!r}: the step must be a positive number", field="--marginal-step",
                             fix="e.g. --marginal-step power=5")
    return out


@click.command("sweep")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--param", "params", multiple=True, metavar="KEY=V1,V2|START:STOP:N",
              help="a swept parameter: any --set key, or demand_scale (repeatable; the grid is their product)")
@click.option("--mix", "mixes", multiple=True, metavar="NAME[=RULE]", help="hardware mixes, as in compare (repeatable)")
@click.option("--samples", type=click.IntRange(min=1), help="Latin-hypercube sample of N points instead of the grid")
@click.option("--seed", "sample_seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="seed of the Latin-hypercube sample")
@click.option("--tornado", "tornado", multiple=True, metavar="KEY=LOW:HIGH",
              help="one-at-a-time sensitivity: the base, and KEY at LOW and at HIGH (repeatable)")
@click.option("--tornado-metric", "tornado_metrics", multiple=True, metavar="KPI",
              help="also print the tornado of this KPI or objective term (repeatable), e.g. energy_mwh, mean_rtt_ms")
@click.option("--marginal", "marginal", multiple=True, metavar="power,chips,slo",
              help="marginal values by paired re-solves: 1 MW more cap per site, 1,000 more chips per pool, "
                   "1 ms looser SLO per service")
@click.option("--marginal-step", "marginal_steps", multiple=True, metavar="FAMILY=N",
              help="change a marginal step, e.g. power=5 (MW), chips=512, slo=2 (ms)")
@click.option("--mode", type=click.Choice(["place", "capacity"]), default="place", show_default=True)
@click.option("--model", type=click.Choice(["spatial", "time"]), help="default: the scenario's time.mode")
@click.option("--address", help="an existing Ray cluster: auto, HOST:PORT or ray://HOST:PORT (default: a local Ray)")
@click.option("--cpus-per-run", type=click.FloatRange(min=0.1), default=1.0, show_default=True,
              help="CPUs Ray reserves per run; also the run's CP-SAT worker threads")
@click.option("--time-limit", "time_limit_s", type=click.FloatRange(min=0.01),
              help="solver seconds per run (default: the scenario's)")
@click.option("--kill-after", "kill_after_s", type=click.FloatRange(min=0.1),
              help="kill a run still going this many seconds after it started (default: time limit + 60 s)")
@click.option("--store", type=click.Path(dir_okay=False), help="record every run in this DuckDB file; "
              "runs it already holds are skipped")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="write the table: .csv, .parquet or .json")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table")
@click.option("-q", "--quiet", is_flag=True, help="no progress bar")
@set_option
def command(file: str, params: tuple[str, ...], mixes: tuple[str, ...], samples: int | None, sample_seed: int,
            tornado: tuple[str, ...], tornado_metrics: tuple[str, ...], marginal: tuple[str, ...], marginal_steps: tuple[str, ...], mode: str,
            model: str | None, address: str | None, cpus_per_run: float, time_limit_s: float | None,
            kill_after_s: float | None, store: str | None, output: str | None, fmt: str, quiet: bool,
            sets: tuple[str, ...]) -> None:
    """Solve the scenario many times over a grid, a sample, a tornado or marginal steps, on Ray."""
    for m in mixes:
        parse_mix(m)  # bad mixes fail before anything runs
    if output:
        from pathlib import Path

        if Path(output).suffix.lower() not in FORMATS:
            raise InputError(f"cannot tell the format of '{output}'", field="--output",
                             fix="end the file name in .csv, .parquet or .json")
    settings = Settings(mode=mode, model=model, time_limit_s=time_limit_s, workers=max(1, int(cpus_per_run)))
    plan = plan_runs(file, sets=parse_sets(sets), params=[parse_param(p) for p in params], mixes=list(mixes),
                     samples=samples, seed=sample_seed, tornado=[parse_param(t, "--tornado") for t in tornado],
                     marginal=_families(marginal), steps=_steps(marginal_steps), settings=settings)
    if kill_after_s is None:
        limits = [time_limit_s or s.scenario.solver.time_limit_s for s in plan.specs]
        kill_after_s = max(limits) + 60.0
    run_store = None
    if store:
        run_store = RunStore(store)
    t0 = time.perf_counter()
    try:
        table = run_sweep(plan, store=run_store, address=address, cpus_per_run=cpus_per_run,
                          kill_after_s=kill_after_s, progress=not quiet and fmt == "table")
    finally:
        if run_store is not None:
            run_store.close()
    wall = time.perf_counter() - t0
    if output:
        write_table(table, output)
    if fmt != "table":
        print_frame(table, fmt)
    else:
        console = make_console()
        shown = [c for c in table.columns if c in ("position", "run_id", "study", "axis", "side", "mix", *plan.param_keys,
                                                     "status", "total_cny", "total_cny_per_year", "gap", "wall_s",
                                                     "verified", "skipped")]
        compact = table[shown].assign(run_id=table["run_id"].str[:10])
        compact = compact.drop(columns=[c for c in ("mix", "axis", "side") if c in compact and
                                        (compact[c] == "").all()])
        if not mixes and len(plan.param_keys) > 8:  # marginal runs touch one key each: show the axis instead
            compact = compact.drop(columns=[k for k in plan.param_keys if k in compact])
        print_frame(compact, title=f"Sweep {plan.sweep_id} — {len(table)} runs", console=console)
        tor = tornado_table(table)
        if len(tor):
            print_frame(tor, title="Tornado (objective)", console=console)
            for metric in tornado_metrics:
                if metric not in metric_columns(table):
                    raise InputError(f"unknown metric '{metric}'", field="--tornado-metric",
                                     fix=did_you_mean(metric, metric_columns(table))
                                     or f"use one of {', '.join(metric_columns(table))}")
                print_frame(tornado_table(table, metric), title=f"Tornado ({metric})", console=console)
        mv = marginal_values(table)
        if len(mv):
            print_frame(mv, title="Marginal values (paired re-solves: objective(base) − objective(base + step))",
                        console=console)
        failed = table[table.status == "failed"]
        if len(failed):
            print_frame(failed[["run_id", "reason"]], title="Failed runs", console=console)
        distinct = table.drop_duplicates("run_id")
        done = int((~distinct.skipped).sum())
        say(f"{len(plan.unique())} distinct runs: {done} solved now, "
                      f"{int(table.drop_duplicates('run_id').skipped.sum())} taken from the store, "
                      f"{len(failed.drop_duplicates('run_id'))} failed; {wall:.1f} s"
                      + (f"; table written to {output}" if output else "")
            + (f"; runs recorded in {store}" if store else ""), console)
    if not table.status.isin(("optimal", "feasible")).any():
        click.echo("no run found a plan", err=True)
        sys.exit(1)
