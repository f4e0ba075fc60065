"""`planner init [-o FILE]`: a commented starter scenario that validates as written."""

from __future__ import annotations

from pathlib import Path

import click

from planner.cli.output import say
from planner.errors import InputError

#: The starter scenario. Every figure in it is either one of the built-in catalog's and
#: topology's (looked up by id) or the same sourced serving rate as east_west_small.yaml.
STARTER = """\
# A starter scenario, written by `planner init`. It validates and solves as it is:
#   planner validate <FILE>        check names, units and SLOs
#   planner solve <FILE>           place the work (add -o plan.json to keep the plan)
#   planner report plan.json       one HTML page with the map, costs and tables
# Every key is described by `planner schema`; unknown keys are errors.
name: my-scenario
description: One week of training and serving on two East-West sites.
horizon_h: 168            # hours that inference runs and power is billed over (168 = one week)

sites:
  # Site ids are the topology's: `planner topology show --what sites` lists them, and
  # `planner topology near shanghai --slo 10` lists the sites that can serve a city.
  yrd:                    # Yangtze River Delta hub, about 2 ms from Shanghai
    power_cap_mw: 15      # MW at the meter (IT power x PUE); leave out to use the topology's envelope
    inventory: {h20: 512, ascend-910c: 256}   # chips by accelerator id (`planner catalog list`)
  guian:                  # Gui'an, Guizhou: western hub, cheaper and subsidised power
    power_cap_mw: 30
    inventory: {ascend-910c: 1024}

training_jobs:
  - id: finetune          # a gang: all chips on one site and one accelerator type
    chips: 256
    allowed_accelerators: [ascend-910c, h20]
    duration_h: 48        # wall-clock hours; or duration_h_by_accelerator: {ascend-910c: 48, h20: 150}

inference_services:
  - id: chat
    demand_tokens_per_s: {shanghai: 20000, hangzhou: 10000}   # output tokens/s per demand city
    rtt_slo_ms: 10        # round trip; only sites within it may serve a city
    allowed_accelerators: [h20, ascend-910c]
    # Output tokens/s per chip and chips per replica for DeepSeek-V3-class serving; the
    # sources and arithmetic are in workloads/examples/east_west_small.yaml. Or give
    # `model: deepseek-v3` and the estimator works them out (`planner estimate`).
    tokens_per_s_per_chip: {h20: 299, ascend-910c: 898}
    chips_per_replica: {h20: 16, ascend-910c: 16}

objective:
  # CNY charged for work left out, so the optimizer weighs it against power and latency.
  # Defaults: 17 CNY per chip-hour (a China GPU rental price, Mar 2026) and 8 CNY per million
  # tokens (the DeepSeek-V3 API output price, Feb 2025).
  unplaced_training_cny_per_chip_hour: 17
  unserved_inference_cny_per_mtokens: 8

solver: {time_limit_s: 10, workers: 2}

# To choose hardware to buy as well, add a capacity section and run `planner plan-capacity`:
# capacity:
#   budget_cny: 2.0e+8
#   periods: [{name: "2026", inference_growth: 1.5}]
#   candidates: [{system: hgx-h20}, {system: cloudmatrix-384, sites: [guian]}]
"""


def starter(name: str = "scenario.yaml") -> str:
    """The starter scenario's text, with its file name in the usage lines."""
    return STARTER.replace("<FILE>", name)


@click.command("init")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="write the starter scenario here (default: print it)")
@click.option("--force", is_flag=True, help="overwrite an existing file")
def command(output: str | None, force: bool) -> None:
    """Write a commented starter scenario that validates as written."""
    if output is None:
        click.echo(starter(), nl=False)
        return
    path = Path(output)
    if path.exists() and not force:
        raise InputError("the file exists", file=output, fix="pick another name or pass --force")
    path.write_text(starter(path.name), encoding="utf-8")
    say(f"starter scenario written to {output}; next: planner validate {output} && planner solve {output}")
