"""`planner export PLAN.json --to kueue|volcano [-o DIR] [--namespace NS] [--scenario FILE] [--dry-run]`."""

from __future__ import annotations

import click

from hardware_catalog.device_plugins import load_device_plugins
from planner.cli.util import load_with_sets, set_option
from planner.errors import InputError
from planner.export import (
    TARGETS,
    build_export,
    load_plan,
    refuse_unverified,
    scenario_path_of,
    write_export,
)
from planner.cli.output import make_console, print_frame, say
from planner.problem.build import load_catalog_for


def _resource_overrides(items: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for item in items:
        accel, sep, name = item.partition("=")
        if not sep or not accel.strip() or "/" not in name:
            raise InputError(f"--resource-name {item!r} is not ACCELERATOR=DOMAIN/NAME", field="--resource-name",
                             fix="write it as e.g. --resource-name t-head-ppu=example.com/ppu")
        out[accel.strip()] = name.strip()
    return out


@click.command("export")
@click.argument("plan", type=click.Path(dir_okay=False))
@click.option("--to", "target", type=click.Choice(TARGETS), required=True, help="the scheduler to export for")
@click.option("-o", "--output", "out_dir", type=click.Path(file_okay=False),
              help="directory to write into (default: out/<target>)")
@click.option("--namespace", default="planner", show_default=True, help="namespace of the training jobs")
@click.option("--serving-namespace", help="namespace of the inference Deployments (default: --namespace)")
@click.option("--scenario", type=click.Path(dir_okay=False),
              help="the scenario the plan was solved from (default: the one the plan records); the plan is "
                   "verified against it before export")
@click.option("--period", help="for a capacity plan: the period whose fleet is exported (default: the last)")
@click.option("--image", help="container image for every pod (default: planner/<workload>:latest)")
@click.option("--resource-name", "resource_names", multiple=True, metavar="ACCEL=NAME",
              help="device-plugin resource name for an accelerator, overriding the built-in table")
@click.option("--single-file", is_flag=True, help="write one multi-document YAML file instead of one per kind")
@click.option("--dry-run", is_flag=True, help="print the objects per kind and chips per pool; write nothing")
@set_option
def command(plan: str, target: str, out_dir: str | None, namespace: str, serving_namespace: str | None,
            scenario: str | None, period: str | None, image: str | None, resource_names: tuple[str, ...],
            single_file: bool, dry_run: bool, sets: tuple[str, ...]) -> None:
    """Export a verified plan as Kueue or Volcano objects (quotas, queues, jobs, deployments).

    The plan is first re-checked against its scenario (give the same --set overrides it was
    solved with); a plan that fails `planner verify` is refused with exit 2.
    """
    data = load_plan(plan)
    scenario_file, recorded_sets = scenario_path_of(data, scenario, plan)
    loaded = load_with_sets(scenario_file, recorded_sets + sets)
    refuse_unverified(loaded, data, plan)
    export = build_export(data, target, load_catalog_for(loaded), load_device_plugins(), namespace=namespace,
                          serving_namespace=serving_namespace, period=period, image=image,
                          resource_overrides=_resource_overrides(resource_names), file=plan)
    console = make_console()
    if dry_run:
        print_frame(export.kinds_frame(), title=f"{target}: objects per kind", console=console)
        print_frame(export.pools_frame(), title="chips per pool (quota = chips)", console=console)
    else:
        paths = write_export(export, out_dir or f"out/{target}", single_file=single_file)
        say(f"{len(export.objects)} objects written to {', '.join(str(p) for p in paths)}", console)
    for note in export.notes:  # notes carry names from the plan: printed as text, never as markup
        say(f"note: {note}", console)
