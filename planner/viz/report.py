"""One self-contained HTML page for a plan: summary, plots and key tables.

The plotly library is embedded in the page, so it opens offline and can be
mailed as a single file. Every name that comes from the scenario (scenario,
site, city, job and service ids, warnings) is HTML-escaped.
"""

from __future__ import annotations

import datetime as dt
import math
from html import escape
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from planner.results.estimated import estimated_frame
from planner.results.result import Result
from planner.results.units import format_number
from planner.results.statistics import Statistics
from planner.viz.sections import capacity_section, plot_purchases, time_of_use_section
from planner.viz.plots import (
    plot_cost,
    plot_gantt,
    plot_latency,
    plot_map,
    plot_utilisation,
)

_CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, "Noto Sans", "Noto Sans CJK SC", sans-serif;
       margin: 0 auto; max-width: 1200px; padding: 1.5rem 2rem 3rem; color: #222; background: #fff; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.25rem; margin-top: 2.2rem; border-bottom: 1px solid #ddd; padding-bottom: 0.3rem; }
.sub { color: #666; margin-top: 0; }
.status { display: inline-block; padding: 0.1rem 0.6rem; border-radius: 0.8rem; color: #fff; font-weight: 600; }
.status.optimal { background: #2e7d32; } .status.feasible { background: #f9a825; }
.status.other { background: #c62828; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(210px, 1fr)); gap: 0.8rem; }
.card { border: 1px solid #e3e3e3; border-radius: 0.4rem; padding: 0.6rem 0.8rem; background: #fafafa; }
.card .k { color: #666; font-size: 0.8rem; } .card .v { font-size: 1.15rem; font-weight: 600; }
table.data { border-collapse: collapse; font-size: 0.85rem; margin: 0.5rem 0 1rem; }
table.data th, table.data td { border-bottom: 1px solid #e5e5e5; padding: 0.25rem 0.6rem; text-align: right; }
table.data th { background: #f4f4f4; } table.data td:first-child, table.data th:first-child { text-align: left; }
.warn { background: #fff8e1; border-left: 4px solid #f9a825; padding: 0.4rem 0.8rem; }
.plot { margin: 0.5rem 0 1.5rem; }
footer { margin-top: 3rem; color: #888; font-size: 0.8rem; }
"""


def render_report(result: Result, title: str | None = None, source: str | None = None,
                  capacity: dict | None = None) -> str:
    """The report as one HTML string (plotly JS embedded). ``capacity``: the whole capacity plan
    (JSON dict) when ``result`` is one of its periods, for the purchases section."""
    stats = Statistics(result)
    name = escape(result.scenario)
    heading = escape(title) if title else f"Plan report — {name}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{heading}</title><style>{_CSS}</style></head><body>",
        f"<h1>{heading}</h1>",
        f'<p class="sub">scenario <b>{name}</b> · {_status_badge(result)}'
        + (f" · plan file <code>{escape(source)}</code>" if source else "") + "</p>",
        "<h2>Summary</h2>",
        _cards(result, stats),
    ]
    if result.warnings:
        parts.append('<div class="warn"><b>Warnings</b><ul>'
                     + "".join(f"<li>{escape(w)}</li>" for w in result.warnings) + "</ul></div>")
    first = [True]

    def plot(fig: go.Figure) -> str:
        html = fig.to_html(full_html=False, include_plotlyjs=first[0], config={"displaylogo": False,
                                                                               "responsive": True})
        first[0] = False
        return f'<div class="plot">{html}</div>'

    if capacity is not None:
        parts += capacity_section(capacity, _table)
        parts.append(plot(plot_purchases(capacity)))
        parts.append(f"<h2>Period {escape(str(result.meta.get('period', '')))} in detail</h2>"
                     if result.meta.get("period") else "")
    parts += ["<h2>Objective</h2>", _table(stats.objective(), money=["cost_cny"])]

    figures = _figures(result)
    parts.append("<h2>Where the work runs</h2>")
    for heading_text, fig in figures:
        if heading_text:
            parts.append(f"<h2>{heading_text}</h2>")
        parts.append(plot(fig))
    tou_parts, tou_figures = time_of_use_section(result, _table)
    parts += tou_parts + [plot(f) for f in tou_figures]

    parts += [
        "<h2>Cost per site</h2>", _table(stats.cost("site")),
        "<h2>Cost per accelerator</h2>", _table(stats.cost("accelerator")),
        "<h2>Inference: CNY per million output tokens</h2>", _table(stats.cny_per_mtokens()),
        "<h2>Energy and carbon per site</h2>", _table(stats.energy()),
        "<h2>Chip utilisation per pool</h2>", _table(stats.utilisation_chips()),
        "<h2>Power per site</h2>", _table(stats.utilisation_power()),
        "<h2>Latency of served tokens</h2>", _table(stats.latency_percentiles()), _table(stats.latency()),
        "<h2>Placements</h2>", _table(result.placements),
        "<h2>Estimated throughput</h2>", _estimated(result),
        "<h2>Routing</h2>", _table(result.routing),
        "<h2>Unplaced work</h2>",
        _table(stats.unplaced()) if len(result.unplaced) else "<p>Every job is placed and all demand is served.</p>",
        f"<footer>catalog {escape(str(result.meta.get('catalog_version', '–')))} · topology "
        f"{escape(str(result.meta.get('topology_version', '–')))} · written "
        f"{dt.datetime.now().strftime('%Y-%m-%d %H:%M')} by planner report</footer>",
        "</body></html>",
    ]
    return "\n".join(parts)


def _estimated(result: Result) -> str:
    frame = estimated_frame(result.meta)
    if not len(frame):
        return "<p>Every service's throughput was given in the scenario.</p>"
    return ("<p>These services run on throughput the planner estimated (output tokens/s per chip, end to end, "
            "prefill chips included); <code>basis</code> says how.</p>" + _table(frame))


def write_report(result: Result, path: str | Path, title: str | None = None, source: str | None = None,
                 capacity: dict | None = None) -> Path:
    """Write the report to ``path`` and return it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(result, title=title, source=source, capacity=capacity), encoding="utf-8")
    return path


# ---- pieces ---------------------------------------------------------------------------------
def _figures(result: Result) -> list[tuple[str | None, go.Figure]]:
    figs: list[tuple[str | None, go.Figure]] = [(None, plot_map(result))]
    if len(result.placements):
        figs.append(("Cost breakdown", plot_cost(result)))
        figs.append((None, plot_cost(result, by="accelerator", stack="kind")))
    if len(result.inventory):
        figs.append(("Utilisation", plot_utilisation(result)))
    if len(result.routing):
        figs.append(("Latency", plot_latency(result)))
    if (result.placements["kind"] != "inference").any():
        figs.append(("Training jobs", plot_gantt(result)))
    return figs


def _status_badge(result: Result) -> str:
    status = result.status.value
    cls = status if status in ("optimal", "feasible") else "other"
    return f'<span class="status {cls}">{escape(status)}</span>'


def _cards(result: Result, stats: Statistics) -> str:
    o, k, s = result.objective, result.kpis, result.solver
    pct = {r.percentile: r.rtt_ms for r in stats.latency_percentiles().itertuples()}
    gap = s.get("gap")
    horizon = result.meta.get("horizon_h")
    per = f" per {float(horizon):g} h" if horizon else ""
    cards = [
        (f"objective{per}", _cny(o.get("total_cny"))),
        (f"power cost{per}", _cny(o.get("power_cost_cny"))),
        (f"latency term{per}", _cny(o.get("latency_cny"))),
        (f"unplaced penalty{per}", _cny(o.get("unplaced_penalty_cny"))),
        *([(f"unfinished work{per}", _cny(o.get("unfinished_work_cny")))] if o.get("unfinished_work_cny") else []),
        (f"energy{per}", f"{_num(k.get('energy_mwh'), 1)} MWh"),
        (f"carbon{per}", f"{_num(k.get('carbon_t'), 1)} t CO2"),
        ("chips used", _num(k.get("chips_used"), 0)),
        ("training jobs placed", f"{k.get('jobs_placed', 0)} of {k.get('jobs_placed', 0) + k.get('jobs_unplaced', 0)}"),
        ("tokens/s served", f"{_num(k.get('served_tokens_per_s'), 0)} of {_num(k.get('demand_tokens_per_s'), 0)}"),
        ("inference power cost", f"{_num(k.get('inference_cny_per_mtokens'), 3)} CNY/Mtokens"),
        ("RTT p50 / p90 / p99", " / ".join(_num(pct.get(p), 1) for p in ("p50", "p90", "p99")) + " ms"),
        ("peak site power", f"{_num(k.get('peak_site_power_mw'), 2)} MW"),
        ("solver", f"{escape(str(s.get('cp_sat_status', result.status.value)))} in {_num(s.get('wall_s'), 2)} s"),
        ("best bound" + (" (all periods, CNY per year)" if result.meta.get("period") else ""),
         _cny(s.get("best_bound"))),
        ("gap", "–" if gap is None else f"{100 * float(gap):.3f} %"),
        ("greedy baseline", _cny(s.get("greedy_objective"))),
    ]
    return '<div class="cards">' + "".join(
        f'<div class="card"><div class="k">{escape(key)}</div><div class="v">{value}</div></div>'
        for key, value in cards) + "</div>"


def _num(value: object, digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{float(value):,.{digits}f}"


def _cny(value: object) -> str:
    text = _num(value, 0)
    return text if text == "–" else f"{text} CNY"


def _table(df: pd.DataFrame, money: list[str] | None = None) -> str:
    """A DataFrame as an escaped HTML table, its numbers in one format per unit (as in the terminal)."""
    shown = df.copy()
    for col in shown.columns:
        if pd.api.types.is_numeric_dtype(shown[col]) and not pd.api.types.is_bool_dtype(shown[col]):
            name = f"{col}_cny" if money and col in money else str(col)
            shown[col] = shown[col].map(lambda v, n=name: format_number(n, v))
    return shown.to_html(index=False, escape=True, classes="data", border=0, na_rep="–")
