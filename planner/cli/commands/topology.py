"""``planner topology``: sites, cities, tariffs and RTTs of the East-West topology."""

from __future__ import annotations

import click
import pandas as pd

from planner.cli.output import FORMATS, print_frame, say
from planner.errors import UnknownNameError
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
@click.option("--all", "show_all", is_flag=True, help="List every check, not only those that fail.")
def checks(fmt: str, path: str | None, show_all: bool) -> None:
    """Policy latency circles and published latency claims against the model.

    Each check compares the modelled round-trip time between two places with a limit from a
    policy or a published claim. A policy "one-way" limit holds when RTT / 2 is within it;
    a "round_trip" claim when the RTT is. A failing check means the topology's latency model
    and that source disagree by more than the limit: a fact about the data, not an error.
    """
    topo = topo_mod.load(path)
    df = topo.latency_checks()
    if fmt != "table":
        print_frame(df, fmt)
        return
    failing = df[~df.holds.astype(bool)]
    shown = df if show_all else failing
    by_check = df.groupby("check").holds.agg(["size", "sum"])
    summary = "; ".join(f"{name} {int(row['sum'])} of {int(row['size'])} hold" for name, row in by_check.iterrows())
    say(f"{len(df) - len(failing)} of {len(df)} latency checks hold ({summary}).")
    say("A one-way limit holds when RTT / 2 is within it, a round-trip limit when the RTT is; a check that "
        "fails means the modelled RTT and that policy or published claim disagree.", style="dim")
    if len(shown):
        print_frame(shown.drop(columns=["holds_as_rtt", "holds_as_one_way"] if not show_all else []),
                    title="Latency checks" + ("" if show_all else " that fail (--all lists every one)"),
                    keep=["check", "a", "b"])


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
