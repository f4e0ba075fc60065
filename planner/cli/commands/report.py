"""`planner report PLAN.json -o report.html`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from planner.check.plan_schema import read_plan
from planner.cli.output import say
from planner.errors import InputError, did_you_mean
from planner.results.result import Result
from planner.results.statistics import export
from planner.studies.sweep.tables import sweep_source
from planner.viz.report import write_report
from planner.viz.sweep_report import write_sweep_report


def load_plan(path: str, period: str | None = None) -> Result:
    """Read a plan JSON written by ``planner solve -o`` (or one period of a capacity plan)."""
    return load_plan_with_capacity(path, period)[0]


def load_plan_with_capacity(path: str, period: str | None = None) -> tuple[Result, dict | None]:
    """The plan (or the chosen period of a capacity plan) and, for a capacity plan, the whole plan."""
    try:
        data = read_plan(path)  # a regular UTF-8 JSON file, finite numbers only (as verify reads it)
        if not isinstance(data, dict):
            raise InputError("not a plan: expected a JSON object", file=path,
                             fix="give the plan JSON written by `planner solve -o`")
        if data.get("kind") == "capacity":
            periods = data["periods"]
            name = period or list(periods)[-1]
            if name not in periods:
                raise InputError(f"no period '{name}' in this capacity plan", file=path, field="--period",
                                 fix=did_you_mean(name, periods) or f"use one of {', '.join(periods)}")
            plan = dict(periods[name])
            plan["scenario"] = f"{data.get('scenario', '')} — period {name}"
            plan["meta"] = {**plan.get("meta", {}), "period": name}
            return Result.from_dict(plan), data
        return Result.from_dict(data), None
    except InputError:
        raise
    except FileNotFoundError:
        raise InputError("no such plan file", file=path, fix="write one with `planner solve SCENARIO -o plan.json`")
    except json.JSONDecodeError as exc:
        raise InputError(f"not JSON: {exc.msg} at line {exc.lineno}", file=path,
                         fix="give the plan JSON written by `planner solve -o`") from None
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise InputError(f"not a plan: {exc}", file=path, fix="give the plan JSON written by `planner solve -o`") \
            from None


@click.command("report")
@click.argument("plan", type=click.Path(dir_okay=False), metavar="PLAN|SWEEP")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default="report.html", show_default=True,
              help="HTML file to write (self-contained, opens offline)")
@click.option("--title", help="page title (default: the scenario name)")
@click.option("--period", help="for a capacity plan: which period to show (default: the last)")
@click.option("--export", "export_dir", type=click.Path(file_okay=False),
              help="also write every table as CSV and Parquet into this directory")
@click.option("--sweep", "sweep_id", help="for a run store (.duckdb): which sweep (default: the latest)")
def command(plan: str, output: str, title: str | None, period: str | None, export_dir: str | None,
            sweep_id: str | None) -> None:
    """Write a self-contained HTML report for a solved plan, or for a sweep (its table, or a .duckdb run store)."""
    sweep = sweep_source(plan, sweep_id)
    if sweep is not None:
        path = write_sweep_report(sweep, output, title=title, source=Path(plan).name)
        say(f"sweep report written to {path} ({path.stat().st_size / 1e6:.1f} MB, {len(sweep)} runs)")
        return
    result, capacity = load_plan_with_capacity(plan, period)
    path = write_report(result, output, title=title, source=Path(plan).name, capacity=capacity)
    say(f"report written to {path} ({path.stat().st_size / 1e6:.1f} MB)")
    if export_dir:
        written = export(result, export_dir)
        say(f"{len(written)} tables written to {export_dir} as CSV and Parquet")
