"""`planner runs list|show|diff STORE …`: the runs a sweep or `solve --store` recorded."""

from __future__ import annotations

import json

import click
import pandas as pd

from planner.cli.output import make_console, print_frame, say
from planner.studies.sweep.diff import diff_runs
from planner.studies.sweep.store import RunStore

_STORE = click.argument("store", type=click.Path(dir_okay=False))


@click.group("runs")
def command() -> None:
    """Read the run store (a DuckDB file written by `planner sweep --store` or `planner solve --store`)."""


def _open(path: str):  # noqa: ANN202

    return RunStore(path, read_only=True)


@command.command("list")
@_STORE
@click.option("--sweep", "sweep_id", help="only the runs of this sweep (id or prefix)")
@click.option("--status", help="only runs with this status (optimal, feasible, failed, …)")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table")
def list_runs(store: str, sweep_id: str | None, status: str | None, fmt: str) -> None:
    """One line per run: id, when, scenario, parameters, status, objective, gap, time, verified."""
    with _open(store) as s:
        if sweep_id:
            sweep_id = s.resolve_id(sweep_id, "sweeps", "sweep_id")
        df = s.runs(sweep_id)
        sweeps = s.sweeps()
    if status:
        df = df[df.status == status]
    cols = ["run_id", "created_at", "scenario", "params", "mode", "mix", "status", "objective_cny", "gap", "wall_s",
            "verified"]
    table = df[cols].copy()
    table["created_at"] = table["created_at"].astype(str).str[:19]
    if fmt == "table":
        table["run_id"] = table["run_id"].str[:12]
        table["params"] = table["params"].map(lambda p: ", ".join(f"{k}={v}" for k, v in json.loads(p).items())
                                              if p else "")
        print_frame(table, title=f"Runs in {store}")
        if len(sweeps):
            print_frame(sweeps.assign(created_at=sweeps.created_at.astype(str).str[:19]), title="Sweeps")
    else:
        print_frame(table, fmt)


@command.command("show")
@_STORE
@click.argument("run_id")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def show(store: str, run_id: str, fmt: str) -> None:
    """One run: parameters, settings, status, objective terms, KPIs, versions, and its plan tables."""
    with _open(store) as s:
        run = s.run(run_id)
    r = run["run"]
    if fmt == "json":
        out = {"run": {k: (str(v) if k == "created_at" else (None if isinstance(v, float) and pd.isna(v) else v))
                       for k, v in r.items()},
               **{t: json.loads(df.to_json(orient="records")) for t, df in run.items() if t != "run"}}
        click.echo(json.dumps(out, indent=2, default=str))
        return
    console = make_console()
    facts = [("run", r["run_id"]), ("created", str(r["created_at"])[:19]), ("scenario", r["scenario"]),
             ("file", r["scenario_file"]), ("scenario hash", r["scenario_hash"][:16]),
             ("status", r["status"]), ("reason", r["reason"] or "–"),
             ("verified", f"{bool(r['verified'])} ({r['violation_count']} violations)"),
             ("gap", r["gap"]), ("wall", f"{r['wall_s']} s"), ("planner", r["planner_version"]),
             ("catalog", r["catalog_version"]), ("topology", r["topology_version"])]
    facts += [(f"param {k}", v) for k, v in r["params"].items()]
    facts += [(f"setting {k}", v) for k, v in r["settings"].items() if v is not None]
    print_frame(pd.DataFrame([(k, "–" if v is None else str(v)) for k, v in facts], columns=["", "value"]),
                title=f"Run {r['run_id'][:12]}", console=console)
    terms = [(f"objective {k}", v) for k, v in r["objective"].items()] + [(k, v) for k, v in r["kpis"].items()]
    if terms:
        print_frame(pd.DataFrame(terms, columns=["metric", "value"]), title="Objective and KPIs", console=console)
    for table in ("purchases", "placements", "routing", "unplaced"):
        df = run[table]
        if len(df):
            if "period" in df and df["period"].isna().all():
                df = df.drop(columns=["period"])
            print_frame(df, title=table.capitalize(), console=console)


@command.command("diff")
@_STORE
@click.argument("run_a")
@click.argument("run_b")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def diff(store: str, run_a: str, run_b: str, fmt: str) -> None:
    """What changed from run A to run B: parameters, moves, routing, purchases and KPIs."""
    with _open(store) as s:
        a, b = s.run(run_a), s.run(run_b)
    tables = diff_runs(a, b)
    if fmt == "json":
        click.echo(json.dumps({k: json.loads(v.to_json(orient="records")) for k, v in tables.items()}, indent=2))
        return
    console = make_console()
    titles = {"params": "Parameters and settings", "moves": "Moved (where each workload ran in A and in B)",
              "routing": "Routing changes (tokens/s)", "purchases": "Bought differently (units)",
              "kpis": "Objective and KPI changes (B − A)"}
    ida, idb = a["run"]["run_id"][:12], b["run"]["run_id"][:12]
    say(f"A = {ida}, B = {idb}", console)
    for key, title in titles.items():
        df = tables[key]
        if len(df):
            print_frame(df, title=title, console=console)
        else:
            say(f"{title}: no change", console)
