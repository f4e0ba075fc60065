"""What a sweep says: tornado (one-at-a-time sensitivity), marginal values, KPI spread.

Everything here reads the tidy sweep table (``planner.sweep.study.tidy``), so it works on a
fresh sweep, a CSV/Parquet/JSON file written by ``planner sweep -o``, or runs read from the store.

Marginal values are **paired re-solve differences**: the base scenario and the same scenario
with one more unit (1 MW of cap at a site, 1,000 chips in a pool, 1 ms of SLO) are both solved
to proven optimality where the time limit allows, and the value is

    value = objective(base) − objective(base + step)       (CNY saved by the extra unit)

They are not LP duals. Where either solve stops with a gap, the true difference lies in
[bound(base) − objective(plus), objective(base) − bound(plus)] and the table gives that interval.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from planner.studies.sweep.study import LEAD_COLUMNS, TAIL_COLUMNS, main_objective

#: KPIs whose spread a sweep report shows, when the table has them
KEY_KPIS = ("total_cny", "total_cny_per_year", "power_cost_cny", "latency_cny", "unplaced_penalty_cny",
            "unfinished_work_cny", "energy_mwh", "carbon_t", "mean_rtt_ms", "unserved_tokens_per_s", "jobs_unplaced",
            "inference_cny_per_mtokens", "capex_cny", "chips_bought", "wall_s")
_OK = ("optimal", "feasible")


def metric_columns(df: pd.DataFrame) -> list[str]:
    """Numeric result columns (objective terms and KPIs), not parameters or bookkeeping."""
    skip = set(LEAD_COLUMNS) | set(TAIL_COLUMNS) | set(df.get("axis", pd.Series(dtype=str)).dropna())
    start = list(df.columns).index("reason") + 1 if "reason" in df.columns else 0
    return [c for c in list(df.columns)[start:] if c not in skip and pd.api.types.is_numeric_dtype(df[c])
            and not pd.api.types.is_bool_dtype(df[c])]


def tornado(df: pd.DataFrame, metric: str | None = None) -> pd.DataFrame:
    """Per tornado key: the metric at the low and the high end, the base, and the swing, widest first."""
    metric = metric or main_objective(df, required=False)
    t = df[df["study"] == "tornado"]
    cols = ["parameter", "low", "high", "metric", "base_value", "value_at_low", "value_at_high", "swing",
            "status_low", "status_high"]
    if not len(t) or metric not in t.columns:
        return pd.DataFrame(columns=cols)
    rows = []
    for mix, g in t.groupby("mix", sort=False):
        base = g[g["side"] == "base"]
        base_value = float(base[metric].iloc[0]) if len(base) and base["status"].iloc[0] in _OK else math.nan
        for key, h in g[g["side"] != "base"].groupby("axis", sort=False):
            lo, hi = h[h["side"] == "low"], h[h["side"] == "high"]
            if not len(lo) or not len(hi):
                continue
            v_lo = float(lo[metric].iloc[0]) if lo["status"].iloc[0] in _OK else math.nan
            v_hi = float(hi[metric].iloc[0]) if hi["status"].iloc[0] in _OK else math.nan
            rows.append({"mix": mix, "parameter": key, "low": lo[key].iloc[0], "high": hi[key].iloc[0],
                         "metric": metric, "base_value": base_value, "value_at_low": v_lo, "value_at_high": v_hi,
                         "swing": abs(v_hi - v_lo), "status_low": lo["status"].iloc[0],
                         "status_high": hi["status"].iloc[0]})
    out = pd.DataFrame(rows)
    if not len(out):
        return pd.DataFrame(columns=cols)
    if (out["mix"] == "").all():
        out = out.drop(columns=["mix"])
    return out.sort_values("swing", ascending=False, kind="stable", na_position="last").reset_index(drop=True)


def marginal_values(df: pd.DataFrame) -> pd.DataFrame:
    """One row per item: base and plus objective, the saving per step and per unit, exact or an interval."""
    metric = main_objective(df, required=False)
    m = df[df["study"] == "marginal"]
    cols = ["family", "item", "step", "unit", "base_cny", "plus_cny", "value_cny", "value_per_unit_cny",
            "value_low_cny", "value_high_cny", "exact", "method"]
    if metric is None or not len(m) or not (m["side"] == "base").any():
        return pd.DataFrame(columns=cols)
    rows = []
    for mix, g in m.groupby("mix", sort=False):
        base = g[g["side"] == "base"].iloc[0].to_dict()
        for plus in g[g["side"] != "base"].to_dict("records"):
            family, _, item = str(plus["axis"]).partition(":")
            rows.append(_pair(mix, family, item, base, plus, metric))
    out = pd.DataFrame(rows)
    if (out["mix"] == "").all():
        out = out.drop(columns=["mix"])
    return out


_UNITS = {"power_cap_mw": "MW", "chips": "chips", "rtt_slo_ms": "ms"}


def _pair(mix: str, family: str, item: str, base: dict[str, Any], plus: dict[str, Any],
          metric: str) -> dict[str, Any]:
    step = _num(str(plus["side"]).lstrip("+"))  # the side of a marginal run is "+STEP"
    ok = base["status"] in _OK and plus["status"] in _OK
    b_obj, p_obj = (_num(base[metric]), _num(plus[metric])) if ok else (math.nan, math.nan)
    b_bound, p_bound = (_num(base.get("best_bound")), _num(plus.get("best_bound"))) if ok else (math.nan, math.nan)
    value = b_obj - p_obj
    exact = ok and _num(base.get("gap")) == 0 and _num(plus.get("gap")) == 0
    lo, hi = (value, value) if exact else (b_bound - p_obj, b_obj - p_bound)
    return {"mix": mix, "family": family, "item": item, "step": step, "unit": _UNITS.get(family, ""),
            "base_cny": b_obj, "plus_cny": p_obj, "value_cny": value,
            "value_per_unit_cny": value / step if step else math.nan,
            "value_low_cny": lo, "value_high_cny": hi, "exact": bool(exact),
            "method": "paired re-solve" + ("" if ok else f" (no plan: {base['status']} / {plus['status']})")}


def _num(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def kpi_spread(df: pd.DataFrame) -> pd.DataFrame:
    """Min, quartiles, max, mean of the key KPIs over runs with a plan."""
    ok = df[df["status"].isin(_OK)]
    cols = [c for c in KEY_KPIS if c in ok.columns]
    if not len(ok) or not cols:
        return pd.DataFrame(columns=["kpi", "runs", "min", "p25", "median", "p75", "max", "mean"])
    rows = []
    for c in cols:
        s = ok[c].astype(float)
        rows.append({"kpi": c, "runs": int(s.notna().sum()), "min": s.min(), "p25": s.quantile(0.25),
                     "median": s.median(), "p75": s.quantile(0.75), "max": s.max(), "mean": s.mean()})
    return pd.DataFrame(rows)


def status_counts(df: pd.DataFrame) -> pd.DataFrame:
    return df.groupby("status").size().rename("runs").reset_index()
