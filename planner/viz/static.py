"""Static images (PNG or SVG) of the planner's plotly figures, drawn with matplotlib.

plotly's own static export (kaleido) drives a Chrome browser, which an offline machine may not
have and cannot download. This module redraws the *same figure object* (its traces' data,
colours, sizes, titles, axis ranges and shaded rectangles) with matplotlib's Agg backend, so a
notebook viewed as a static page, or a report printed to PDF, still shows every chart. It
covers the trace types the planner's plots use: ``Scatter`` (lines, markers, text, filled
outlines), ``Bar`` (vertical, horizontal with ``base``, stacked) and ``Heatmap``. Interactive
parts (hover text, buttons) have no static form: for the map the visible colouring is drawn.
"""

from __future__ import annotations

import html
import io
import math
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend is chosen first)
import numpy as np  # noqa: E402
import plotly.graph_objects as go  # noqa: E402

#: plotly colour scale names → matplotlib colour maps
_CMAPS = {"YlOrRd": "YlOrRd", "YlOrBr": "YlOrBr", "Blues": "Blues", "Viridis": "viridis"}
_PX_PER_INCH = 100


def to_image(fig: go.Figure, fmt: str = "png", width_px: int = 1000, height_px: int | None = None) -> bytes:
    """The figure as PNG or SVG bytes, drawn without a browser."""
    mfig = render(fig, width_px, height_px)
    buf = io.BytesIO()
    mfig.savefig(buf, format=fmt, dpi=_PX_PER_INCH, bbox_inches="tight")
    plt.close(mfig)
    return buf.getvalue()


def render(fig: go.Figure, width_px: int = 1000, height_px: int | None = None) -> Any:
    """A matplotlib Figure drawing ``fig``'s visible traces."""
    layout = fig.layout
    height_px = height_px or int(layout.height or 480)
    mfig, ax = plt.subplots(figsize=(width_px / _PX_PER_INCH, height_px / _PX_PER_INCH))
    bars_stack: dict[Any, np.ndarray] = {}
    areas: dict[str, np.ndarray] = {}
    for shape in layout.shapes or ():
        _shape(ax, shape)
    for trace in fig.data:
        if trace.visible is False or trace.visible == "legendonly":
            continue
        if isinstance(trace, go.Scatter) and trace.stackgroup and trace.x is not None:
            _area(ax, trace, areas)
        elif isinstance(trace, go.Scatter):
            _scatter(ax, trace)
        elif isinstance(trace, go.Bar):
            _bar(ax, trace, layout.barmode or "group", bars_stack)
        elif isinstance(trace, go.Heatmap):
            _heatmap(mfig, ax, trace)
    _axes(ax, layout)
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        legend = ax.legend(handles, labels, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        for handle in legend.legend_handles:  # legend markers at one size, whatever the trace's sizes
            if hasattr(handle, "set_sizes"):
                handle.set_sizes([40])
    return mfig


def _text(value: Any) -> str:
    """Plotly's label text as plain text: tags dropped, entities decoded, and ``$`` escaped so a
    name is never read as matplotlib mathtext."""
    text = str(value)
    for tag in ("<b>", "</b>", "<sup>", "</sup>", "<i>", "</i>"):
        text = text.replace(tag, "")
    return html.unescape(text.replace("<br>", "\n")).replace("$", r"\$")


def _title(obj: Any) -> str:
    if obj is None:
        return ""
    text = getattr(obj, "text", obj)
    return _text(text) if text else ""


def _axes(ax: Any, layout: Any) -> None:
    ax.set_title(_title(layout.title), fontsize=12, loc="left")
    xa, ya = layout.xaxis, layout.yaxis
    ax.set_xlabel(_title(xa.title))
    ax.set_ylabel(_title(ya.title))
    if xa.range is not None:
        ax.set_xlim(*xa.range)
    if ya.range is not None:
        ax.set_ylim(*ya.range)
    if ya.autorange == "reversed":
        ax.invert_yaxis()
    if ya.scaleanchor == "x":
        ax.set_aspect(float(ya.scaleratio or 1.0))
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=8)


def _label(trace: Any) -> str | None:
    if trace.showlegend is False or not trace.name:
        return None
    return _text(trace.name)


def _scatter(ax: Any, t: go.Scatter) -> None:
    if t.x is None or t.y is None:
        return
    x = np.array([np.nan if v is None else v for v in t.x], dtype=object)
    y = np.array([np.nan if v is None else v for v in t.y], dtype=object)
    if all(v is None or (isinstance(v, float) and math.isnan(v)) for v in t.x):  # a legend-only entry
        colour = (t.line.color if "lines" in (t.mode or "") else t.marker.color) or "#555555"
        if "lines" in (t.mode or ""):
            ax.plot([], [], color=colour, linewidth=(t.line.width or 2) / 1.5, label=_label(t))
        else:
            ax.scatter([], [], color=colour, marker="s", alpha=t.marker.opacity or 1, label=_label(t))
        return
    mode = t.mode or "lines+markers"
    categorical = any(isinstance(v, str) for v in x)
    xs = np.arange(len(x)) if categorical else x.astype(float)
    ys = y.astype(float)
    alpha = t.opacity if t.opacity is not None else 1.0
    if t.fill == "toself":
        ax.fill(xs, ys, facecolor=t.fillcolor or "#eeeeee", edgecolor=t.line.color or "#999999",
                linewidth=(t.line.width or 1) / 1.5, zorder=0)
    elif "lines" in mode:
        ax.plot(xs, ys, color=t.line.color, linewidth=(t.line.width or 2) / 1.5, alpha=alpha, label=_label(t),
                zorder=1)
    if "markers" in mode:
        m = t.marker
        sizes = np.asarray(m.size if m.size is not None else 6, dtype=float)
        colours = m.color
        kwargs: dict[str, Any] = {}
        if colours is not None and not isinstance(colours, str) and len(colours) and \
                not isinstance(colours[0], str):
            kwargs = {"c": np.asarray(colours, dtype=float),
                      "cmap": _CMAPS.get(str(m.colorscale) if isinstance(m.colorscale, str) else "", "viridis")}
            if isinstance(m.colorscale, tuple) and m.colorscale:
                kwargs["cmap"] = "YlOrRd"
        else:
            kwargs = {"color": colours or "#1f77b4"}
        face = kwargs.pop("color", None)
        if face == "rgba(0,0,0,0)":
            kwargs["facecolors"] = "none"
        elif face is not None:
            kwargs["color"] = face
        marker = {"diamond": "D", "square": "s"}.get(str(m.symbol), "o")
        ax.scatter(xs, ys, s=(sizes * 0.75) ** 2, marker=marker, alpha=m.opacity or alpha,
                   edgecolors=(m.line.color if m.line and m.line.color else "none"), linewidths=0.8,
                   label=_label(t) if "lines" not in mode else None, zorder=3, **kwargs)
    if "text" in mode and t.text is not None:
        positions = t.textposition if isinstance(t.textposition, (list, tuple)) else [t.textposition] * len(xs)
        marker_px = np.broadcast_to(np.asarray(t.marker.size if "markers" in mode and t.marker.size is not None
                                               else 0, dtype=float), (len(xs),))
        for xi, yi, txt, pos, mpx in zip(xs, ys, t.text, positions, marker_px):
            ha, va, dx, dy = _anchor(pos or "middle center", 0.75 * mpx / 2)
            ax.annotate(_text(txt), (xi, yi), xytext=(dx, dy), textcoords="offset points", ha=ha, va=va,
                        fontsize=7.5, color="#333333", zorder=4)
    if categorical:
        ax.set_xticks(range(len(x)), [_text(v) for v in x], rotation=30, ha="right")


def _area(ax: Any, t: go.Scatter, areas: dict[str, np.ndarray]) -> None:
    """A stacked area (plotly ``stackgroup``): filled from the group's running total."""
    x = np.asarray(t.x, dtype=float)
    y = np.asarray(t.y, dtype=float)
    below = areas.get(t.stackgroup, np.zeros(len(x)))
    step = "post" if t.line.shape == "hv" else None
    ax.fill_between(x, below, below + y, step=step, color=t.line.color, alpha=0.85, linewidth=0, label=_label(t))
    areas[t.stackgroup] = below + y


def _anchor(position: str, radius_pt: float = 0.0) -> tuple[str, str, float, float]:
    """Text alignment and offset (points) for a plotly text position around a marker of that radius."""
    vertical, _, horizontal = position.partition(" ")
    ha = {"left": "right", "right": "left"}.get(horizontal, "center")
    va = {"top": "bottom", "bottom": "top"}.get(vertical, "center")
    gap = radius_pt + 2
    dx = {"left": -gap, "right": gap}.get(horizontal, 0)
    dy = {"top": gap, "bottom": -gap}.get(vertical, 0)
    return ha, va, dx, dy


def _bar(ax: Any, t: go.Bar, barmode: str, stack: dict[Any, np.ndarray]) -> None:
    colour = t.marker.color if t.marker is not None and isinstance(t.marker.color, str) else None
    if t.orientation == "h":
        cats = [_text(v) for v in t.y]
        widths = np.asarray(t.x, dtype=float)
        base = np.asarray(t.base, dtype=float) if t.base is not None else np.zeros(len(cats))
        ax.barh(cats, widths, left=base, color=colour, label=_label(t), height=0.6)
        return
    cats = [_text(v) for v in t.x]
    heights = np.asarray(t.y, dtype=float)
    bottom = np.zeros(len(cats))
    if barmode == "stack":
        bottom = np.array([stack.get(c, 0.0) for c in cats])
        for c, h, b in zip(cats, heights, bottom):
            stack[c] = b + h
    ax.bar(cats, heights, bottom=bottom, color=colour, label=_label(t))
    ax.tick_params(axis="x", labelrotation=30)


def _heatmap(mfig: Any, ax: Any, t: go.Heatmap) -> None:
    z = np.array([[np.nan if v is None else v for v in row] for row in t.z], dtype=float)
    cmap = _CMAPS.get(t.colorscale if isinstance(t.colorscale, str) else "", "Blues")
    image = ax.imshow(np.ma.masked_invalid(z), cmap=cmap if isinstance(cmap, str) else "Blues", aspect="auto",
                      vmin=t.zmin, vmax=t.zmax)
    ax.set_xticks(range(len(t.x)), [_text(v) for v in t.x], rotation=30, ha="right")
    ax.set_yticks(range(len(t.y)), [_text(v) for v in t.y])
    if t.text is not None:
        for i, row in enumerate(t.text):
            for j, txt in enumerate(row):
                if txt:
                    ax.text(j, i, _text(txt), ha="center", va="center", fontsize=7)
    mfig.colorbar(image, ax=ax, fraction=0.04)
    ax.invert_yaxis()  # imshow draws row 0 at the top already; plotly's reversed axis means the same


def _shape(ax: Any, shape: Any) -> None:
    if shape.type == "rect" and shape.xref in ("x", None) and shape.yref in ("paper", "y domain"):
        ax.axvspan(float(shape.x0), float(shape.x1), color=shape.fillcolor or "#999999",
                   alpha=float(shape.opacity if shape.opacity is not None else 0.2), linewidth=0, zorder=0)
