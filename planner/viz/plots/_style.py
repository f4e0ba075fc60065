"""Shared look: colours, the figure template and safe labels."""

from __future__ import annotations

import html

import plotly.graph_objects as go

TEMPLATE = "plotly_white"
#: qualitative colours (plotly's D3 palette), assigned in sorted-name order so a name keeps its colour
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf"]
KIND_COLOURS = {"training": "#1f77b4", "inference": "#ff7f0e", "batch": "#2ca02c"}


def label(name: object) -> str:
    """A name from the scenario made safe for plotly's HTML-like text rendering."""
    return html.escape(str(name), quote=False)


def colour_map(names) -> dict[str, str]:
    return {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(sorted({str(x) for x in names}))}


def new_figure(fig: go.Figure | None, title: str) -> go.Figure:
    if fig is not None:
        return fig
    fig = go.Figure()
    fig.update_layout(template=TEMPLATE, title=title, margin=dict(l=60, r=30, t=60, b=50))
    return fig
