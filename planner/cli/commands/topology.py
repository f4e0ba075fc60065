"""``planner topology``: sites, cities, tariffs and RTTs of the East-West topology."""

from __future__ import annotations

import sys

import click
import pandas as pd

from planner.cli.output import FORMATS, make_console, print_frame, say
from planner.errors import UnknownNameError
from planner.inputs import checks as checks_mod
from planner.inputs.names import city_hint, sites_near
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
    held, total = int(latency.holds.sum()), len(latency)
    if not all_pairs:
        latency = latency[~latency.holds]
    findings = checks_mod.topology_findings(topo)
    figures = sum(1 for _, f in topo.figures() if f is not None)
    if fmt == "table":
        say(f"{held} of {total} latency checks hold; " + ("every one is listed below. " if all_pairs else
            f"the {total - held} that fail are listed below (--all-pairs lists all). ") +
            "A check that fails means the modelled round trip between the two places is above a policy's or a "
            "publication's limit: the sources disagree with the latency model, not with your scenario.")
        print_frame(latency, fmt, title="Latency checks" + ("" if all_pairs else " that fail (--all-pairs for all)"))
        for line in topo.claims_summary():
            say(line)
        print_frame(checks_mod.findings_frame(findings), fmt, title="Data findings")
    else:
        print_frame(pd.concat([latency.assign(kind="latency"),
                               checks_mod.findings_frame(findings).assign(kind="finding")], ignore_index=True), fmt)
    say(checks_mod.summary_line("topology", findings, figures), make_console(stderr=fmt != "table"))
    if any(f.severity == "impossible" for f in findings):
        sys.exit(1)


@command.command("near")
@click.argument("city")
@click.option("--slo", "slo_ms", type=click.FloatRange(min=0), default=None,
              help="Only sites within this round-trip time in ms (default: every site, nearest first).")
@_format
@_path
def near(city: str, slo_ms: float | None, fmt: str, path: str | None) -> None:
    """Sites that can serve CITY: round-trip time, tariff and PUE, nearest first."""
    topo = topo_mod.load(path)
    if city not in topo.cities:
        raise UnknownNameError("demand city", city, topo.cities, field="CITY", hint=city_hint(topo, city))
    sites = topo.sites_frame().set_index("site") if "site" in topo.sites_frame().columns else topo.sites_frame()
    rows = []
    for site, ms in sites_near(topo, city, slo_ms):
        row = {"site": site, "rtt_ms": ms}
        for col in ("province", "role", "tariff_mean_cny_per_kwh", "pue", "power_envelope_mw"):
            if col in sites.columns:
                row[col] = sites.at[site, col]
        rows.append(row)
    what = f"within {slo_ms:g} ms of {city}" if slo_ms is not None else f"by RTT from {city}"
    if not rows:
        nearest = sites_near(topo, city)[0]
        say(f"no site is within {slo_ms:g} ms of {city}; the nearest is {nearest[0]} at {nearest[1]:.1f} ms")
        return
    print_frame(pd.DataFrame(rows), fmt, title=f"Sites {what} (round trip, shortest path)", keep=["site"])
