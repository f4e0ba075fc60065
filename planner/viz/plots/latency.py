"""Latency distribution of served tokens: tokens/s per RTT bucket, with token-weighted percentiles."""

from __future__ import annotations

import math

import plotly.graph_objects as go

from planner.results.result import Result
from planner.results.statistics import Statistics
from planner.viz.plots._style import label, new_figure


def plot_latency(result: Result, fig: go.Figure | None = None) -> go.Figure:
    """One bar trace ``tokens/s`` per RTT bucket; p50/p90/p99 noted in the title."""
    stats = Statistics(result)
    buckets = stats.latency()
    pct = stats.latency_percentiles()
    notes = ", ".join(f"{r.percentile} {r.rtt_ms:.1f} ms" for r in pct.itertuples() if not math.isnan(r.rtt_ms))
    fig = new_figure(fig, f"Served tokens by network RTT — {label(result.scenario)}"
                          + (f"<br><sup>token-weighted {notes}</sup>" if notes else ""))
    fig.add_trace(go.Bar(x=buckets["rtt_bucket"], y=buckets["tokens_per_s"], name="tokens/s",
                         marker_color="#2ca02c", customdata=buckets["share"],
                         hovertemplate="%{x}: %{y:,.0f} tokens/s (%{customdata:.1%})<extra></extra>"))
    fig.update_layout(xaxis_title="round-trip time, city to site", yaxis_title="served tokens/s")
    return fig
