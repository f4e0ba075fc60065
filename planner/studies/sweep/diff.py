"""What changed between two stored runs: what moved where, what was bought differently, which KPIs moved.

``diff_runs(a, b)`` takes two runs as ``RunStore.run`` returns them and gives tables:

    params      parameters and settings that differ
    moves       per (period, workload): where it ran in A and in B ("site/accelerator ×chips"), when that differs
    routing     per (period, service, city, site): tokens/s in A and B, when they differ
    purchases   per (period, site, system): units in A and B, when they differ
    kpis        every objective term and KPI that changed: A, B, B − A, and the change relative to A
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

#: changes smaller than this (absolute) are equal: float noise from summation order
TOL = 1e-6


def _where(rows: pd.DataFrame) -> str:
    parts = [f"{r.site}/{r.accelerator} ×{int(r.chips)}" for r in rows.sort_values(["site", "accelerator"])
             .itertuples(index=False)]
    return ", ".join(parts) if parts else "unplaced"


def _period(df: pd.DataFrame) -> pd.DataFrame:
    return df.assign(period=df["period"].fillna("")) if "period" in df else df


def moves(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Workloads placed differently: where each ran in A and in B."""
    a, b = _period(a), _period(b)
    keys = sorted(set(map(tuple, a[["period", "workload"]].values.tolist()))
                  | set(map(tuple, b[["period", "workload"]].values.tolist())))
    rows = []
    for period, workload in keys:
        ra = a[(a.period == period) & (a.workload == workload)]
        rb = b[(b.period == period) & (b.workload == workload)]
        wa, wb = _where(ra), _where(rb)
        if wa != wb:
            kind = (ra if len(ra) else rb)["kind"].iloc[0]
            rows.append({"period": period, "workload": workload, "kind": kind, "in_a": wa, "in_b": wb,
                         "chips_a": int(ra.chips.sum()), "chips_b": int(rb.chips.sum()),
                         "power_cost_cny_a": float(ra.power_cost_cny.sum()),
                         "power_cost_cny_b": float(rb.power_cost_cny.sum())})
    out = pd.DataFrame(rows, columns=["period", "workload", "kind", "in_a", "in_b", "chips_a", "chips_b",
                                      "power_cost_cny_a", "power_cost_cny_b"])
    return _drop_empty_period(out)


def _changed(a: pd.DataFrame, b: pd.DataFrame, keys: list[str], value: str) -> pd.DataFrame:
    ga = _period(a).groupby(keys)[value].sum() if len(a) else pd.Series(dtype=float)
    gb = _period(b).groupby(keys)[value].sum() if len(b) else pd.Series(dtype=float)
    both = pd.concat([ga.rename(f"{value}_a"), gb.rename(f"{value}_b")], axis=1).fillna(0.0).sort_index()
    both[f"change_{value}"] = both[f"{value}_b"] - both[f"{value}_a"]
    both = both[both[f"change_{value}"].abs() > TOL]
    out = both.reset_index() if len(both) else pd.DataFrame(columns=[*keys, f"{value}_a", f"{value}_b",
                                                                       f"change_{value}"])
    if len(both):
        out.columns = [*keys, f"{value}_a", f"{value}_b", f"change_{value}"]
    return _drop_empty_period(out)


def _drop_empty_period(df: pd.DataFrame) -> pd.DataFrame:
    if "period" in df and (df["period"].fillna("") == "").all():
        return df.drop(columns=["period"])
    return df


def kpi_changes(a: dict[str, Any], b: dict[str, Any]) -> pd.DataFrame:
    """Every objective term and KPI that differs: value in A, in B, B − A and (B − A) / |A|."""
    rows = []
    for group in ("objective", "kpis"):
        va, vb = a.get(group) or {}, b.get(group) or {}
        for key in list(dict.fromkeys([*va, *vb])):
            x, y = va.get(key), vb.get(key)
            if x is None or y is None:
                rows.append({"group": group, "metric": key, "a": x, "b": y, "change": None, "relative": None})
                continue
            d = float(y) - float(x)
            if abs(d) > TOL * max(1.0, abs(float(x))):
                rows.append({"group": group, "metric": key, "a": float(x), "b": float(y), "change": d,
                             "relative": d / abs(float(x)) if x else math.nan})
    return pd.DataFrame(rows, columns=["group", "metric", "a", "b", "change", "relative"])


def param_changes(a: dict[str, Any], b: dict[str, Any]) -> pd.DataFrame:
    rows = []
    for group in ("params", "settings"):
        va, vb = a.get(group) or {}, b.get(group) or {}
        for key in list(dict.fromkeys([*va, *vb])):
            if va.get(key) != vb.get(key):
                rows.append({"group": group, "key": key, "a": str(va.get(key)), "b": str(vb.get(key))})
    for key in ("scenario", "scenario_hash", "status", "catalog_version", "planner_version"):
        if a.get(key) != b.get(key):
            short = (lambda v: str(v)[:16]) if key == "scenario_hash" else str
            rows.append({"group": "run", "key": key, "a": short(a.get(key)), "b": short(b.get(key))})
    return pd.DataFrame(rows, columns=["group", "key", "a", "b"])


def diff_runs(a: dict[str, Any], b: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """The tables above, for two runs read with ``RunStore.run``."""
    return {
        "params": param_changes(a["run"], b["run"]),
        "moves": moves(a["placements"], b["placements"]),
        "routing": _changed(a["routing"], b["routing"], ["period", "service", "city", "site"], "tokens_per_s"),
        "purchases": _changed(a["purchases"], b["purchases"], ["period", "site", "system"], "units"),
        "kpis": kpi_changes(a["run"], b["run"]),
    }
