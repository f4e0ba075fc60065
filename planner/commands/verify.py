"""`planner verify FILE PLAN`."""

from __future__ import annotations

import json
import sys

import click

from planner.errors import InputError
from planner.problem import build_problem
from planner.scenario import load_scenario
from planner.verify import verify_plan


@click.command("verify")
@click.argument("file", type=click.Path(dir_okay=False))
@click.argument("plan", type=click.Path(dir_okay=False))
def command(file: str, plan: str) -> None:
    """Re-check PLAN (a plan JSON) against scenario FILE without the solver. Exit 1 if anything is violated."""
    scenario = load_scenario(file)
    problem = build_problem(scenario)
    try:
        with open(plan, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise InputError("file not found", file=plan, fix="check the path") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg}", file=plan, field=f"line {exc.lineno}",
                         fix="pass a plan written by `planner solve -o`") from None
    violations = verify_plan(problem, data, scenario)
    if violations:
        click.echo(f"{plan}: {len(violations)} violation(s)")
        for v in violations:
            click.echo(f"  - {v}")
        sys.exit(1)
    n = len(data.get("placements", []))
    click.echo(f"{plan}: ok — {n} placements, {len(data.get('routing', []))} routes, "
               f"{len(data.get('unplaced', []))} unplaced, every constraint holds and every figure recomputes")
