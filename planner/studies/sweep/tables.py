"""Reading and writing sweep tables: CSV, Parquet or JSON, and rebuilding one from the run store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from planner.errors import InputError
from planner.studies.sweep.store import RunStore
from planner.studies.sweep.study import LEAD_COLUMNS, TAIL_COLUMNS

FORMATS = {".csv": "csv", ".parquet": "parquet", ".json": "json"}


def write_table(df: pd.DataFrame, path: str | Path) -> Path:
    """Write by extension: .csv, .parquet or .json (records)."""
    path = Path(path)
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise InputError(f"cannot tell the format of '{path.name}'", field="--output",
                         fix="end the file name in .csv, .parquet or .json")
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "csv":
        df.to_csv(path, index=False)
    elif kind == "parquet":
        _parquet_safe(df).to_parquet(path, index=False, engine="pyarrow")
    else:
        path.write_text(df.to_json(orient="records", indent=2) + "\n", encoding="utf-8")
    return path


def _parquet_safe(df: pd.DataFrame) -> pd.DataFrame:
    """Object columns holding mixed types (a parameter swept over numbers and strings) become text."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object:
            kinds = {type(v) for v in out[col].dropna()}
            if len(kinds) > 1 or (kinds and not kinds <= {str}):
                out[col] = out[col].map(lambda v: None if v is None or (isinstance(v, float) and pd.isna(v))
                                        else (v if isinstance(v, str) else json.dumps(v)))
    return out


def read_table(path: str | Path) -> pd.DataFrame:
    """A sweep table written by ``planner sweep -o``."""
    path = Path(path)
    kind = FORMATS.get(path.suffix.lower())
    fix = "give the table written by `planner sweep FILE -o sweep.csv|.parquet|.json`"
    if not path.exists():
        raise InputError("no such file", file=str(path), fix=fix)
    try:
        if kind == "csv":
            df = pd.read_csv(path, keep_default_na=True)
        elif kind == "parquet":
            df = pd.read_parquet(path)
        elif kind == "json":
            df = pd.DataFrame(json.loads(path.read_text(encoding="utf-8")))
        else:
            raise InputError("not a sweep table", file=str(path), fix=fix)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"cannot read: {' '.join(str(exc).split())[:160]}", file=str(path), fix=fix) from None
    missing = [c for c in ("study", "axis", "side", "status") if c not in df.columns]
    if missing:
        raise InputError(f"not a sweep table: no column {missing[0]}", file=str(path), fix=fix)
    for col in ("axis", "side", "mix", "reason"):
        if col in df.columns:
            df[col] = df[col].fillna("").astype(str)
    return df


def table_from_store(store: Any, sweep_id: str | None = None) -> pd.DataFrame:
    """The tidy table of one sweep in the store (the latest by default), or of every run when there is none."""
    if sweep_id is None:
        sweep_id = store.latest_sweep()
    else:
        sweep_id = store.resolve_id(sweep_id, "sweeps", "sweep_id")
    runs = store.runs(sweep_id)
    if sweep_id is None:
        runs = runs.assign(position=range(len(runs)), study="single", axis="", side="")
    rows, keys = [], []
    for r in runs.to_dict("records"):
        params = json.loads(r["params"]) if isinstance(r["params"], str) else (r["params"] or {})
        keys += [k for k in params if k not in keys]
        row = {"position": r["position"], "run_id": r["run_id"], "study": r["study"], "axis": r["axis"] or "",
               "side": r["side"] or "", "mix": r["mix"] or "", **params, "status": r["status"],
               "reason": r["reason"] or ""}
        row.update(json.loads(r["objective"]))
        row.update({k: v for k, v in json.loads(r["kpis"]).items() if k not in row})
        row.update({k: r[k] for k in ("gap", "best_bound", "solve_s", "wall_s")})
        row.update({"verified": bool(r["verified"]), "violation_count": int(r["violation_count"]), "skipped": False})
        rows.append(row)
    df = pd.DataFrame(rows)
    if not len(df):
        raise InputError("the store holds no runs", file=str(store.path),
                         fix="record runs with `planner sweep FILE --store runs.duckdb`")
    first = [c for c in LEAD_COLUMNS + keys if c in df.columns] + ["status", "reason"]
    tail = [c for c in TAIL_COLUMNS if c in df.columns and c not in first]
    middle = [c for c in df.columns if c not in first and c not in tail]
    return df[first + middle + tail]


def sweep_source(path: str | Path, sweep_id: str | None = None) -> pd.DataFrame | None:
    """The sweep table behind ``path`` when it is one (a run store, or a CSV/Parquet/JSON sweep table); else None."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".duckdb", ".db"):
        with RunStore(path, read_only=True) as store:
            return table_from_store(store, sweep_id)
    if suffix in (".csv", ".parquet"):
        return read_table(path)
    if suffix == ".json" and path.exists():
        with path.open("rb") as fh:
            head = fh.read(64).lstrip()
        if head.startswith(b"["):  # a plan is a JSON object; a sweep table is a list of records
            return read_table(path)
    return None
