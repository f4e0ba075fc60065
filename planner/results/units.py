"""One number format per unit, read from a column's name (``_cny``, ``_mwh``, ``_ms`` …), with
thousands separators: the terminal tables and the HTML report print figures the same way."""

from __future__ import annotations

import math


def format_number(column: str, value: object) -> str:
    """One format per unit, chosen by the column's name; ``–`` for a missing value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if not isinstance(value, (int, float)) or isinstance(value, complex):
        try:
            value = float(value)  # numpy scalars
        except (TypeError, ValueError):
            return str(value)
    col = column.lower()
    v = float(value)
    if col.endswith(("_fraction", "utilisation", "share")) or col in ("gap",):
        return f"{100 * v:.1f} %"
    if "per_mtokens" in col or col.endswith("per_kwh") or col in ("pue", "crf"):
        return f"{v:,.3f}"
    if "_cny" in col or col.endswith("cny"):
        return f"{v:,.0f}"
    if col.endswith(("_mwh", "_t", "_ms", "_h", "_gbps")) or col in ("hours", "hour_share"):
        return f"{v:,.1f}"
    if col.endswith(("_mw", "_kw", "_kg_per_kwh", "_tb_per_s")):
        return f"{v:,.2f}"
    if col.endswith(("_kwh", "_gb", "tokens_per_s", "_w")) or v.is_integer():
        return f"{v:,.0f}"
    return f"{v:,.4g}" if abs(v) < 1e4 else f"{v:,.0f}"
