"""`planner verify FILE PLAN`."""

from __future__ import annotations

import sys

import click

from planner.check.document import verify_file
from planner.cli.util import load_with_sets, set_option


@click.command("verify")
@click.argument("file", type=click.Path(dir_okay=False))
@click.argument("plan", type=click.Path(dir_okay=False))
@set_option
def command(file: str, plan: str, sets: tuple[str, ...]) -> None:
    """Re-check PLAN (a plan JSON) against scenario FILE without the solver. Exit 1 if anything is violated."""
    scenario = load_with_sets(file, sets)
    data, violations = verify_file(scenario, plan)
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
