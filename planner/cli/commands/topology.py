"""``planner topology``: sites, cities, tariffs and RTTs of the East-West topology."""

from __future__ import annotations

import sys

import click
import pandas as pd

from planner.cli.output import FORMATS, print_frame
from planner.inputs import checks as checks_mod
from planner.inputs import topology as topo_mod

_format = click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
                       help="Output format.")
_path = click.option("--path", type=click.Path(), default=None,
                     help="A topology YAML file or directory to use instead of the built-in one.")


@click.group("topology")
def command() -> None:
    """East-West sites, demand cities, tariffs and latencies."""


@command.command("show")
@_format
@_path
@click.option("--what", type=click.Choice(["all", "sites", "cities"]), default="all", show_default=True,
              help="Which table to print.")
def show(fmt: str, path: str | None, what: str) -> None:
    """List sites (tariff, PUE, carbon, subsidy, power) and demand cities."""
    topo = topo_mod.load(path)
    sites, cities = topo.sites_frame(), topo.cities_frame()
    if fmt == "table":
        if what in ("all", "sites"):
            compact = sites.drop(columns=["name", "lat", "lon", "tariff"])
            print_frame(compact, fmt, title=f"Sites (topology {topo.version}; CNY/kWh, kgCO2/kWh, MW)")
        if what in ("all", "cities"):
            print_frame(cities, fmt, title="Demand cities")
        return
    frames = {"sites": [sites], "cities": [cities],
              "all": [sites.assign(kind="site"), cities.assign(kind="city")]}[what]
    print_frame(pd.concat(frames, ignore_index=True), fmt)


@command.command("rtt")
@_format
@_path
@click.option("--sites", "site_matrix", is_flag=True, help="Print the site x site matrix instead of city x site.")
def rtt(fmt: str, path: str | None, site_matrix: bool) -> None:
    """Round-trip times in ms (shortest paths): city x site, or site x site."""
    topo = topo_mod.load(path)
    df = topo.site_rtt_matrix() if site_matrix else topo.rtt_matrix()
    print_frame(df.round(2).reset_index(), fmt, title="RTT ms (round trip, shortest path)")


@command.command("checks")
@_format
@_path
@click.option("--all-pairs", is_flag=True, help="Print every latency-check pair, not only the ones that fail.")
def checks(fmt: str, path: str | None, all_pairs: bool) -> None:
    """Latency claims under each reading, and the data's own inconsistencies; exit 1 if a figure is impossible.

    Unstated latency claims are read one way: as a round trip, but never stricter than the
    pair's fibre floor. Flags a PUE above its cap, a link faster than fibre, a path faster
    than a measured figure, a tariff day that does not cover 24 hours and a value outside
    its own range.
    """
    topo = topo_mod.load(path)
    latency = topo.latency_checks()
    if not all_pairs:
        latency = latency[~latency.holds]
    findings = checks_mod.topology_findings(topo)
    figures = sum(1 for _, f in topo.figures() if f is not None)
    if fmt == "table":
        print_frame(latency, fmt, title="Latency checks" + ("" if all_pairs else " that fail (--all-pairs for all)"))
        for line in topo.claims_summary():
            click.echo(line)
        print_frame(checks_mod.findings_frame(findings), fmt, title="Data findings")
    else:
        print_frame(pd.concat([latency.assign(kind="latency"),
                               checks_mod.findings_frame(findings).assign(kind="finding")], ignore_index=True), fmt)
    click.echo(checks_mod.summary_line("topology", findings, figures), err=fmt != "table")
    if any(f.severity == "impossible" for f in findings):
        sys.exit(1)
