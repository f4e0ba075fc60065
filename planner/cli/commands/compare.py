"""`planner compare FILE --mix NAME=RULE …`."""

from __future__ import annotations

import click
import pandas as pd

from planner.cli.output import format_number, print_frame
from planner.cli.util import load_with_sets, set_option


@click.command("compare")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--mix", "mixes", multiple=True, metavar="NAME[=RULE]",
              help="a hardware restriction, e.g. all-domestic, no-nvidia, h20-heavy, free, "
                   "or cambricon=vendor:Cambricon, mine=only:h20,ascend-910c (repeatable)")
@click.option("--time-limit", "time_limit_s", type=click.FloatRange(min=0.01), help="seconds per mix")
@click.option("--workers", type=click.IntRange(min=1))
@click.option("--seed", type=click.IntRange(min=0))
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table")
@set_option
def command(file: str, mixes: tuple[str, ...], time_limit_s: float | None, workers: int | None, seed: int | None,
            fmt: str, sets: tuple[str, ...]) -> None:
    """Solve the same scenario under several hardware mixes and print them side by side."""
    # OR-Tools loads with the study (about half a second): imported when the command runs
    from planner.studies.compare import compare, parse_mix
    parsed = [parse_mix(m) for m in (mixes or ("free", "all-domestic", "no-nvidia"))]
    scenario = load_with_sets(file, sets)
    table, _ = compare(scenario, parsed, time_limit_s=time_limit_s, workers=workers, seed=seed)
    if fmt == "table":
        wide = table.set_index("mix").T
        shown = pd.DataFrame({mix: [format_number(str(row), v) if isinstance(v, (int, float)) else v
                                    for row, v in wide[mix].items()] for mix in wide.columns}, index=wide.index)
        note = None
        if scenario.capacity is not None:
            n = len(scenario.capacity.periods)
            note = (f"  *_per_year figures are the sum of each period's yearly cost over {n} period(s); "
                    f"each period is one {scenario.horizon_h:g} h window scaled to a year")
        else:
            note = f"  costs are per {scenario.horizon_h:g} h (the scenario's horizon)"
        print_frame(shown.reset_index(names="mix"), title=f"Hardware mixes — {scenario.name}", keep=["mix"], note=note)
    else:
        print_frame(table, fmt)
