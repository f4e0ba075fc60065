"""Plots of a sweep: a tornado chart of one-at-a-time sensitivity, and the spread of KPIs over runs."""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go


def plot_tornado(table: pd.DataFrame, fig: go.Figure | None = None, title: str | None = None) -> go.Figure:
    """Horizontal bars from the base value to the metric at each key's low and high end, widest on top.

    ``table`` is ``planner.studies.sweep.sensitivity.tornado(sweep_table, metric)``."""
    fig = fig if fig is not None else go.Figure()
    if not len(table):
        return fig
    t = table.iloc[::-1]  # plotly draws the first category at the bottom
    base = float(t["base_value"].iloc[0]) if len(t) else 0.0
    labels = [f"{p} ({_short(lo)} → {_short(hi)})" for p, lo, hi in zip(t["parameter"], t["low"], t["high"])]
    for side, col, colour in (("low", "value_at_low", "#1f77b4"), ("high", "value_at_high", "#d62728")):
        fig.add_bar(y=labels, x=t[col] - base, base=base, orientation="h", name=f"at {side} end",
                    marker_color=colour, hovertemplate="%{y}<br>%{x:,.0f} from base<extra>" + side + "</extra>")
    metric = table["metric"].iloc[0]
    fig.add_vline(x=base, line_dash="dot", line_color="#555")
    fig.update_layout(barmode="overlay", title=title or f"Tornado: {metric} (base {base:,.4g})",
                      xaxis_title=metric, height=160 + 40 * len(t), margin=dict(l=10, r=10, t=50, b=40),
                      template="plotly_white", legend=dict(orientation="h", y=-0.2))
    return fig


def plot_spread(df: pd.DataFrame, columns: list[str], fig: go.Figure | None = None) -> go.Figure:
    """One box per KPI over the runs of a sweep table that have a plan, each divided by its median."""
    ok = df[df["status"].isin(("optimal", "feasible"))]
    fig = fig if fig is not None else go.Figure()
    for c in columns:
        s = ok[c].astype(float)
        med = s.median()
        if not len(s) or not med or math.isnan(med):
            continue
        fig.add_box(y=s / med, name=c, boxpoints="all", jitter=0.3, customdata=s,
                    hovertemplate=c + " %{customdata:,.4g}<extra></extra>")
    fig.update_layout(title="Spread of key KPIs across runs (each divided by its median)", yaxis_title="× median",
                      template="plotly_white", showlegend=False, height=420)
    return fig


def _short(v: object) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)
