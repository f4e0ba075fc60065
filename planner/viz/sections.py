"""Report sections beyond one plan's placements: what a capacity plan buys, and how a
time-of-use plan spends across tariff bands and hours."""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from planner.results.result import Result
from planner.results.statistics import cost_by_band
from planner.viz.plots._style import colour_map, label, new_figure
from planner.viz.plots.hourly import plot_hourly_power

Table = Callable[..., str]


def capacity_frames(plan: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """A capacity plan's purchases per (period, site, system), its per-period capex and opex,
    and the chips and MW each purchase adds, from the plan JSON alone."""
    purchases = pd.DataFrame(plan.get("purchases") or [])
    periods = plan.get("periods", {})
    rows = []
    for name, p in periods.items():
        k = p.get("kpis", {})
        rows.append({"period": name,
                     "capex_cny": k.get("capex_cny", 0.0),
                     "annualised_capex_cny_per_year": k.get("annualised_capex_cny_per_year", 0.0),
                     "maintenance_cny_per_year": k.get("maintenance_cny_per_year", 0.0),
                     "power_cost_cny_per_year": k.get("power_cost_cny_per_year", 0.0),
                     "chips_owned": k.get("chips_owned"), "chip_utilisation": k.get("chip_utilisation"),
                     "served_tokens_per_s": k.get("served_tokens_per_s"),
                     "unserved_tokens_per_s": k.get("unserved_tokens_per_s"),
                     "cny_per_mtokens_all_in": k.get("cny_per_mtokens_all_in")})
    if len(purchases):
        mw = []
        for row in purchases.itertuples(index=False):
            period = periods.get(row.in_service_from) or periods.get(row.period) or {}
            inv = {(i["site"], i["accelerator"]): i for i in period.get("inventory", [])}
            site = {s["site"]: s for s in period.get("sites", [])}.get(row.site, {})
            kw = inv.get((row.site, row.accelerator), {}).get("chip_power_kw")
            pue = site.get("pue")
            mw.append(row.chips * kw * pue / 1000 if kw is not None and pue is not None else float("nan"))
        purchases = purchases.assign(mw_added_at_meter=mw)
    return {"purchases": purchases, "periods": pd.DataFrame(rows)}


def capacity_section(plan: dict[str, Any], table: Table) -> list[str]:
    """HTML for a capacity plan: purchases, per-period capex and opex, what limited buying."""
    frames = capacity_frames(plan)
    purchases, periods = frames["purchases"], frames["periods"]
    o, k = plan.get("objective", {}), plan.get("kpis", {})
    n = len(periods)
    first = next(iter(plan.get("periods", {}).values()), {})
    horizon = (first.get("meta") or {}).get("horizon_h")
    window = f"{float(horizon):g} h" if horizon else "representative"
    parts = ["<h2>Capacity: what to buy</h2>"]
    if len(purchases):
        chips, mw = int(purchases.chips.sum()), float(purchases.mw_added_at_meter.sum())
        parts.append(f"<p>{int(purchases.units.sum())} system(s), {chips:,} chips and {mw:,.2f} MW at the meter "
                     f"added for {float(purchases.capex_cny.sum()):,.0f} CNY of capex.</p>")
        cols = ["period", "site", "system", "accelerator", "units", "chips", "mw_added_at_meter", "in_service_from",
                "capex_cny", "annualised_cny_per_year"]
        parts.append(table(purchases[[c for c in cols if c in purchases.columns]]))
    else:
        parts.append("<p>Nothing is bought: the fleet on hand carries the plan.</p>")
    limits = k.get("binding_limits")
    parts.append(f"<p><b>Binding purchase limits:</b> {escape(str(limits)) if limits else 'none reached'}.</p>")
    parts.append("<h3>Capex and opex per period</h3>"
                 "<p>Capex is paid in the period it is bought; annualised capex, maintenance and power are per "
                 f"year, each period being one {window} window scaled to a year.</p>")
    parts.append(table(periods))
    parts.append(f"<p>Total over {n} period(s), the sum of each period's yearly cost: "
                 f"<b>{o.get('total_cny_per_year', 0):,.0f} CNY</b> (annualised capex "
                 f"{o.get('annualised_capex_cny_per_year', 0):,.0f}, maintenance {o.get('maintenance_cny_per_year', 0):,.0f},"
                 f" power {o.get('power_cost_cny_per_year', 0):,.0f}, latency {o.get('latency_cny_per_year', 0):,.0f}, "
                 f"unplaced {o.get('unplaced_penalty_cny_per_year', 0):,.0f}).</p>")
    return parts


def plot_purchases(plan: dict[str, Any]) -> go.Figure:
    """Capex per period, stacked by (site, system)."""
    purchases = capacity_frames(plan)["purchases"]
    fig = new_figure(None, f"Capex per period — {label(plan.get('scenario', ''))}")
    if not len(purchases):
        return fig
    purchases = purchases.assign(what=purchases.site + " · " + purchases.system)
    colours = colour_map(purchases["what"])
    periods = list(plan.get("periods", {}))
    for what, part in purchases.groupby("what"):
        by = part.groupby("period").capex_cny.sum().reindex(periods, fill_value=0.0)
        fig.add_trace(go.Bar(x=[label(p) for p in periods], y=by.tolist(), name=label(what),
                             marker_color=colours[str(what)]))
    fig.update_layout(barmode="stack", yaxis_title="capex (CNY)", xaxis_title="period", height=380)
    return fig


def time_of_use_section(result: Result, table: Table) -> tuple[list[str], list[go.Figure]]:
    """HTML for a time-of-use plan: cost per tariff band, hourly power per site, dataset transfers."""
    if result.hourly is None or not len(result.hourly):
        return [], []
    horizon = result.meta.get("horizon_h")
    basis = f" over {float(horizon):g} h" if horizon else ""
    parts = [f"<h2>Time of use</h2><h3>Power cost per tariff band{basis}</h3>", table(cost_by_band(result.hourly))]
    if result.transfers is not None and len(result.transfers):
        parts += ["<h3>Dataset transfers</h3>", table(result.transfers)]
    return parts, [plot_hourly_power(result)]
