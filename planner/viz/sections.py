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
from planner.results.units import format_number
from planner.viz.plots._style import colour_map, label, new_figure
from planner.viz.plots.hourly import plot_hourly_power

Table = Callable[..., str]

#: the period table's rows, in the order a planner reads them, with their unit and time basis
PERIOD_ROWS = [
    ("units_bought", "systems bought in the period"),
    ("capex_cny", "capex paid in the period, CNY"),
    ("annualised_capex_cny_per_year", "annualised capex, CNY per year"),
    ("maintenance_cny_per_year", "maintenance, CNY per year"),
    ("power_cost_cny_per_year", "power, CNY per year"),
    ("cny_per_mtokens_all_in", "all-in CNY per million tokens"),
    ("chips_owned", "chips owned"),
    ("chips_used", "chips used"),
    ("chip_utilisation", "chip utilisation"),
    ("peak_site_power_mw", "peak site power, MW"),
    ("served_tokens_per_s", "tokens/s served"),
    ("unserved_tokens_per_s", "tokens/s unserved"),
    ("jobs_unplaced", "training jobs unplaced"),
]




def labelled_periods(table: pd.DataFrame) -> pd.DataFrame:
    """Periods (the index) as columns and figures as labelled rows, each stating its unit and
    time basis, formatted one way per unit."""
    rows = []
    for key, label_text in PERIOD_ROWS:
        if key in table.columns:
            rows.append({"figure": label_text, **{str(p): format_number(key, v) for p, v in table[key].items()}})
    return pd.DataFrame(rows)



def capacity_frames(plan: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """A capacity plan's purchases per (period, site, system), its per-period capex and opex,
    and the chips and MW each purchase adds, from the plan JSON alone."""
    purchases = pd.DataFrame(plan.get("purchases") or [])
    periods = plan.get("periods", {})
    rows = []
    for name, p in periods.items():
        k = p.get("kpis", {})
        bought = purchases[purchases.period == name] if len(purchases) else purchases
        rows.append({"period": name,
                     "units_bought": int(bought.units.sum()) if len(bought) else 0,
                     "capex_cny": k.get("capex_cny", 0.0),
                     "annualised_capex_cny_per_year": k.get("annualised_capex_cny_per_year", 0.0),
                     "maintenance_cny_per_year": k.get("maintenance_cny_per_year", 0.0),
                     "power_cost_cny_per_year": k.get("power_cost_cny_per_year", 0.0),
                     "cny_per_mtokens_all_in": k.get("cny_per_mtokens_all_in"),
                     "chips_owned": k.get("chips_owned"), "chips_used": k.get("chips_used"),
                     "chip_utilisation": k.get("chip_utilisation"), "peak_site_power_mw": k.get("peak_site_power_mw"),
                     "served_tokens_per_s": k.get("served_tokens_per_s"),
                     "unserved_tokens_per_s": k.get("unserved_tokens_per_s"),
                     "jobs_unplaced": k.get("jobs_unplaced")})
    if len(purchases):
        mw = []
        for row in purchases.itertuples(index=False):
            period = periods.get(row.in_service_from) or periods.get(row.period) or {}
            inv = {(i["site"], i["accelerator"]): i for i in period.get("inventory", [])}
            site = {s["site"]: s for s in period.get("sites", [])}.get(row.site, {})
            kw = inv.get((row.site, row.accelerator), {}).get("chip_power_kw")
            pue = site.get("pue")
            mw.append(row.chips * kw * pue / 1000 if kw is not None and pue is not None else float("nan"))
        purchases = purchases.assign(added_power_mw=mw)
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
        chips, mw = int(purchases.chips.sum()), float(purchases.added_power_mw.sum())
        parts.append(f"<p>{int(purchases.units.sum())} system(s), {chips:,} chips and {mw:,.2f} MW at the meter "
                     f"added for {float(purchases.capex_cny.sum()):,.0f} CNY of capex.</p>")
        cols = ["period", "site", "system", "accelerator", "units", "chips", "added_power_mw", "in_service_from",
                "capex_cny", "annualised_cny_per_year"]
        parts.append(table(purchases[[c for c in cols if c in purchases.columns]]))
    else:
        parts.append("<p>Nothing is bought: the fleet on hand carries the plan.</p>")
    limits = (plan.get("explanation") or {}).get("binding_limits")
    parts.append(f"<p><b>Binding purchase limits:</b> {escape(str(limits)) if limits else 'none reached'}.</p>")
    why = (plan.get("explanation") or {}).get("why") or []
    if why:
        parts.append("<p><b>Why demand is left unserved:</b></p><ul>"
                     + "".join(f"<li>{escape(str(w))}</li>" for w in why) + "</ul>")
    parts.append("<h3>Capex and opex per period</h3>"
                 "<p>Capex is paid in the period it is bought; annualised capex, maintenance and power are per "
                 f"year, each period being one {window} window scaled to a year.</p>")
    parts.append(table(labelled_periods(periods.set_index("period"))))
    parts.append(f"<p>Total over {n} period(s), the sum of each period's yearly cost: "
                 f"<b>{o.get('total_cny_per_year', 0):,.0f} CNY</b> (annualised capex "
                 f"{o.get('annualised_capex_cny_per_year', 0):,.0f}, maintenance {o.get('maintenance_cny_per_year', 0):,.0f},"
                 f" power {o.get('power_cost_cny_per_year', 0):,.0f}, latency {o.get('latency_cny_per_year', 0):,.0f}, "
                 f"unplaced {o.get('unplaced_penalty_cny_per_year', 0):,.0f}"
                 + (f", unfinished work {o['unfinished_work_cny_per_year']:,.0f}"
                    if o.get("unfinished_work_cny_per_year") else "") + ").</p>")
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
