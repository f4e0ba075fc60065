"""`planner verify FILE PLAN`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from planner.check.document import verify_document
from planner.check.plan_schema import read_plan
from planner.cli.output import warn
from planner.cli.util import load_with_sets, set_option
from planner.errors import InputError
from planner.inputs.fingerprint import plan_changed, plan_mismatch


@click.command("verify")
@click.argument("file", type=click.Path(dir_okay=False))
@click.argument("plan", type=click.Path(dir_okay=False))
@set_option
def command(file: str, plan: str, sets: tuple[str, ...]) -> None:
    """Re-check PLAN (a plan JSON) against scenario FILE without the solver. Exit 1 if anything is violated."""
    _check_order(file, plan)
    scenario = load_with_sets(file, sets)
    data = read_plan(plan)
    mismatch = plan_mismatch(data, scenario, plan, file) if isinstance(data, dict) else None
    if mismatch:
        raise InputError(mismatch, file=plan, field="scenario", fix="pass the scenario this plan was solved from")
    changed = plan_changed(data, scenario, plan, file) if isinstance(data, dict) else None
    if changed:
        warn(changed)
    violations = verify_document(scenario, data, file=plan)
    if violations:
        click.echo(f"{plan}: {len(violations)} violation(s)")
        for v in violations:
            click.echo(f"  - {v}")
        sys.exit(1)
    plans = list(data.get("periods", {}).values()) if data.get("kind") == "capacity" else [data]
    n = sum(len(p.get("placements", [])) for p in plans)
    what = f"{len(data.get('purchases', []))} purchases, " if data.get("kind") == "capacity" else ""
    click.echo(f"{plan}: ok — {what}{n} placements, {sum(len(p.get('routing', [])) for p in plans)} routes, "
               f"{sum(len(p.get('unplaced', [])) for p in plans)} unplaced; every constraint holds and every "
               "figure recomputes")


def _check_order(file: str, plan: str) -> None:
    """``verify PLAN SCENARIO`` (swapped) gets one sentence, not the scenario schema's 30 problems."""
    if Path(file).suffix.lower() == ".json" and Path(plan).suffix.lower() in (".yaml", ".yml"):
        raise InputError("the arguments are swapped: FILE is a plan and PLAN a scenario", file=file,
                         fix=f"run planner verify {plan} {file}")
