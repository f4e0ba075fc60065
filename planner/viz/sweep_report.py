"""One self-contained HTML page for a sweep: runs table, tornado charts, marginal values, KPI spread.

Like the plan report, plotly is embedded so the page opens offline, and every name
from the scenario or the command line is HTML-escaped.
"""

from __future__ import annotations

import datetime as dt
import math
from html import escape
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from planner.studies.sweep.sensitivity import kpi_spread, marginal_values, metric_columns, status_counts, tornado
from planner.studies.sweep.study import main_objective
from planner.viz.plots.sweep import plot_spread, plot_tornado

_CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, "Noto Sans", "Noto Sans CJK SC", sans-serif;
       margin: 0 auto; max-width: 1200px; padding: 1.5rem 2rem 3rem; color: #222; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
.sub, .note { color: #555; }
table.data { border-collapse: collapse; font-size: 0.8rem; margin: 0.5rem 0 1rem; }
table.data th, table.data td { border-bottom: 1px solid #e5e5e5; padding: 0.2rem 0.5rem; text-align: right; }
table.data th { background: #f4f4f4; } table.data td:first-child, table.data th:first-child { text-align: left; }
.scroll { overflow-x: auto; } footer { margin-top: 3rem; color: #888; font-size: 0.8rem; }
"""

#: KPIs drawn as extra tornado charts when the table has them (the objective is always drawn)
TORNADO_KPIS = ("power_cost_cny", "energy_mwh", "carbon_t", "mean_rtt_ms", "unserved_tokens_per_s", "capex_cny")


def render_sweep_report(df: pd.DataFrame, title: str | None = None, source: str | None = None) -> str:
    """The sweep report as one HTML string."""
    heading = escape(title or "Sweep report")
    objective = main_objective(df, required=False) or "total_cny"
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>{heading}</title><style>{_CSS}</style></head><body>", f"<h1>{heading}</h1>",
             f'<p class="sub">{len(df)} runs' + (f" · from <code>{escape(source)}</code>" if source else "")
             + f" · objective <code>{escape(objective)}</code></p>",
             "<h2>Runs by status</h2>", _table(status_counts(df))]
    plotly_js = [True]

    def fig_html(fig: go.Figure) -> str:
        html = fig.to_html(full_html=False, include_plotlyjs=plotly_js[0], config={"displaylogo": False})
        plotly_js[0] = False
        return f'<div class="plot">{html}</div>'

    tor = tornado(df, objective)
    if len(tor):
        parts += ["<h2>Sensitivity (one at a time)</h2>",
                  '<p class="note">Each parameter moved alone from the base scenario to its low and high end; '
                  "bars run from the base value to the value at each end, widest swing on top.</p>",
                  fig_html(plot_tornado(tor)), _table(tor)]
        for kpi in TORNADO_KPIS:
            if kpi in df.columns and kpi != objective:
                t = tornado(df, kpi)
                if len(t) and t["swing"].fillna(0).abs().sum() > 0:
                    parts.append(fig_html(plot_tornado(t)))
    mv = marginal_values(df)
    if len(mv):
        parts += ["<h2>Marginal values</h2>",
                  '<p class="note">Paired re-solve differences, not LP duals: the base scenario and the same scenario '
                  "with one step more of each item, both solved; value = objective(base) − objective(base + step), "
                  "the money the extra unit saves. Where a solve stopped with a gap, the true value lies between "
                  "value_low_cny and value_high_cny (from the solver's bounds).</p>", _table(mv)]
    spread_cols = [c for c in kpi_spread(df)["kpi"]] if len(df) else []
    if spread_cols:
        parts += ["<h2>Spread of key KPIs</h2>", fig_html(plot_spread(df, [c for c in spread_cols if c != "wall_s"])),
                  _table(kpi_spread(df))]
    shown = df.drop(columns=[c for c in ("reason",) if c in df.columns])
    parts += ["<h2>All runs</h2>", f'<div class="scroll">{_table(shown)}</div>']
    failed = df[~df["status"].isin(("optimal", "feasible"))]
    if len(failed):
        parts += ["<h2>Runs without a plan</h2>", _table(failed[["run_id", "status", "reason"]])]
    parts += [f"<footer>written {dt.datetime.now().strftime('%Y-%m-%d %H:%M')} by planner report · "
              f"{len(metric_columns(df))} result columns</footer>", "</body></html>"]
    return "\n".join(parts)


def write_sweep_report(df: pd.DataFrame, path: str | Path, title: str | None = None,
                       source: str | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_sweep_report(df, title, source), encoding="utf-8")
    return path


def _table(df: pd.DataFrame) -> str:
    shown = df.copy()
    for col in shown.columns:
        if pd.api.types.is_float_dtype(shown[col]):
            shown[col] = shown[col].map(lambda v: "–" if v is None or (isinstance(v, float) and math.isnan(v))
                                        else (f"{v:,.0f}" if abs(v) >= 1000 else f"{v:,.4g}"))
    return shown.to_html(index=False, escape=True, classes="data", border=0, na_rep="–")
