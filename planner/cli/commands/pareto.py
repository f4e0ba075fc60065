"""`planner pareto FILE --x power_cost --y latency [--points N]`."""

from __future__ import annotations

from pathlib import Path

import click

from planner.cli.output import print_frame
from planner.cli.util import load_with_sets, set_option
from planner.problem.build import build_problem


@click.command("pareto")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--x", "x", type=click.Choice(["power_cost"]), default="power_cost", show_default=True)
@click.option("--y", "y", type=click.Choice(["latency"]), default="latency", show_default=True)
@click.option("--points", type=click.IntRange(min=2, max=50), default=6, show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="write the points (.csv or .json)")
@click.option("--time-limit", "time_limit_s", type=click.FloatRange(min=0.01), default=10.0, show_default=True,
              help="seconds per point")
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table")
@set_option
def command(file: str, x: str, y: str, points: int, output: str | None, time_limit_s: float, workers: int,
            fmt: str, sets: tuple[str, ...]) -> None:
    """Trace the cost–latency frontier by the ε-constraint method (every point a verified plan)."""
    scenario = load_with_sets(file, sets)
    # OR-Tools loads with the study (about half a second): imported when the command runs
    from planner.studies.pareto import pareto_frontier
    table, _ = pareto_frontier(build_problem(scenario), points, time_limit_s=time_limit_s, workers=workers,
                               seed=scenario.solver.seed)
    if output:
        path = Path(output)
        if path.suffix == ".json":
            path.write_text(table.to_json(orient="records", indent=2) + "\n")
        else:
            table.to_csv(path, index=False)
    print_frame(table, fmt, title=f"Pareto frontier — {x} vs {y}")
