"""The run store: every run of a sweep (or a ``solve --store``) in one DuckDB file, for SQL.

Tables (query them with any DuckDB client, e.g. ``duckdb runs.duckdb``):

    runs        run_id (hash of the resolved scenario + settings), created_at, scenario,
                scenario_file, scenario_hash, params (JSON), settings (JSON), mode, model, mix,
                status, reason, objective_cny (the total; CNY per year for capacity runs),
                objective (JSON terms), kpis (JSON), gap, best_bound, solve_s, wall_s,
                verified, violation_count, violations (JSON), planner_version,
                catalog_version, topology_version
    sweeps      sweep_id, created_at, scenario_file, spec (JSON: parameters, settings, study)
    sweep_runs  sweep_id, run_id, position, study, axis, side, params (JSON)
    placements  run_id, period, workload, kind, site, accelerator, chips, replicas, hours,
                energy_mwh, power_cost_cny
    routing     run_id, period, service, city, site, accelerator, tokens_per_s, rtt_ms
    purchases   run_id, period, site, system, accelerator, units, chips, in_service_from,
                capex_cny, annualised_cny_per_year
    unplaced    run_id, period, workload, kind, city, tokens_per_s, reason

``period`` is NULL for placement runs and the period's name for capacity runs.
For example: ``SELECT params->>'demand_scale' AS scale, objective_cny FROM runs``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from planner.errors import InputError
from planner.studies.sweep.grid import objective_key

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY, created_at TIMESTAMP, scenario VARCHAR, scenario_file VARCHAR,
    scenario_hash VARCHAR, params JSON, settings JSON, mode VARCHAR, model VARCHAR, mix VARCHAR,
    status VARCHAR, reason VARCHAR, objective_cny DOUBLE, objective JSON, kpis JSON, gap DOUBLE,
    best_bound DOUBLE, solve_s DOUBLE, wall_s DOUBLE, verified BOOLEAN, violation_count INTEGER,
    violations JSON, planner_version VARCHAR, catalog_version VARCHAR, topology_version VARCHAR);
CREATE TABLE IF NOT EXISTS sweeps (
    sweep_id VARCHAR PRIMARY KEY, created_at TIMESTAMP, scenario_file VARCHAR, spec JSON);
CREATE TABLE IF NOT EXISTS sweep_runs (
    sweep_id VARCHAR, run_id VARCHAR, position INTEGER, study VARCHAR, axis VARCHAR, side VARCHAR,
    params JSON, PRIMARY KEY (sweep_id, position));
CREATE TABLE IF NOT EXISTS placements (
    run_id VARCHAR, period VARCHAR, workload VARCHAR, kind VARCHAR, site VARCHAR, accelerator VARCHAR,
    chips BIGINT, replicas BIGINT, hours DOUBLE, energy_mwh DOUBLE, power_cost_cny DOUBLE);
CREATE TABLE IF NOT EXISTS routing (
    run_id VARCHAR, period VARCHAR, service VARCHAR, city VARCHAR, site VARCHAR, accelerator VARCHAR,
    tokens_per_s DOUBLE, rtt_ms DOUBLE);
CREATE TABLE IF NOT EXISTS purchases (
    run_id VARCHAR, period VARCHAR, site VARCHAR, system VARCHAR, accelerator VARCHAR, units BIGINT,
    chips BIGINT, in_service_from VARCHAR, capex_cny DOUBLE, annualised_cny_per_year DOUBLE);
CREATE TABLE IF NOT EXISTS unplaced (
    run_id VARCHAR, period VARCHAR, workload VARCHAR, kind VARCHAR, city VARCHAR, tokens_per_s DOUBLE,
    reason VARCHAR);
"""

PLAN_TABLES = {
    "placements": ["period", "workload", "kind", "site", "accelerator", "chips", "replicas", "hours", "energy_mwh",
                   "power_cost_cny"],
    "routing": ["period", "service", "city", "site", "accelerator", "tokens_per_s", "rtt_ms"],
    "purchases": ["period", "site", "system", "accelerator", "units", "chips", "in_service_from", "capex_cny",
                  "annualised_cny_per_year"],
    "unplaced": ["period", "workload", "kind", "city", "tokens_per_s", "reason"],
}
RUN_COLUMNS = ["run_id", "created_at", "scenario", "scenario_file", "scenario_hash", "params", "settings", "mode",
               "model", "mix", "status", "reason", "objective_cny", "objective", "kpis", "gap", "best_bound",
               "solve_s", "wall_s", "verified", "violation_count", "violations", "planner_version",
               "catalog_version", "topology_version"]


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _clean(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value


class RunStore:
    """A DuckDB file holding runs. Only the process driving a sweep writes to it."""

    def __init__(self, path: str | Path, read_only: bool = False) -> None:
        self.path = Path(path)
        if read_only and not self.path.exists():
            raise InputError("no such run store", file=str(path),
                             fix="record runs with `planner sweep FILE --store runs.duckdb` or `planner solve --store`")
        try:
            self.con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.Error as exc:
            raise InputError(f"cannot open the run store: {' '.join(str(exc).split())[:200]}", file=str(path),
                             fix="give a DuckDB file written by planner (or a new path), and close other writers")
        if not read_only:
            self.con.execute(SCHEMA)

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> "RunStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- writing ----------------------------------------------------------------------
    def record(self, spec: Any, outcome: dict[str, Any], scenario_file: str | None = None) -> None:
        """Insert or replace one run and its plan tables (one transaction)."""
        rid = spec.run_id
        s = spec.settings
        objective = outcome.get("objective") or {}
        row = [rid, dt.datetime.now(dt.timezone.utc).replace(tzinfo=None), spec.scenario.name,
               scenario_file or spec.scenario.source_path, spec.scenario_hash, _json(spec.params), _json(s.as_dict()),
               s.mode, s.model, s.mix, outcome["status"], outcome.get("reason") or "",
               _clean(objective.get(objective_key(s.mode))), _json(objective), _json(outcome.get("kpis") or {}),
               _clean(outcome.get("gap")), _clean(outcome.get("best_bound")), outcome.get("solve_s"),
               outcome.get("wall_s"), bool(outcome.get("verified")), int(outcome.get("violation_count") or 0),
               _json(outcome.get("violations") or []), outcome.get("planner_version"),
               outcome.get("catalog_version"), outcome.get("topology_version")]
        con = self.con
        con.execute("BEGIN TRANSACTION")
        try:
            for table in ("runs", *PLAN_TABLES):
                con.execute(f"DELETE FROM {table} WHERE run_id = ?", [rid])
            con.execute(f"INSERT INTO runs VALUES ({', '.join('?' * len(RUN_COLUMNS))})", row)
            for table, cols in PLAN_TABLES.items():
                records = outcome.get(table) or []
                if records:
                    df = pd.DataFrame(records).reindex(columns=cols)  # noqa: F841 (DuckDB reads it by name)
                    df.insert(0, "run_id", rid)
                    con.register("_rows", df)
                    con.execute(f"INSERT INTO {table} SELECT * FROM _rows")
                    con.unregister("_rows")
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise

    def start_sweep(self, sweep_id: str, scenario_file: str, spec: dict[str, Any]) -> None:
        self.con.execute("INSERT OR REPLACE INTO sweeps VALUES (?, ?, ?, ?)",
                         [sweep_id, dt.datetime.now(dt.timezone.utc).replace(tzinfo=None), scenario_file, _json(spec)])

    def link(self, sweep_id: str, position: int, spec: Any) -> None:
        self.con.execute("INSERT OR REPLACE INTO sweep_runs VALUES (?, ?, ?, ?, ?, ?, ?)",
                         [sweep_id, spec.run_id, position, spec.study, spec.axis, spec.side, _json(spec.params)])

    # ---- reading ----------------------------------------------------------------------
    def done(self, run_ids: list[str]) -> dict[str, str]:
        """Status of the given runs that the store already holds."""
        if not run_ids:
            return {}
        rows = self.con.execute("SELECT run_id, status FROM runs WHERE run_id IN (SELECT unnest(?))",
                                [list(run_ids)]).fetchall()
        return dict(rows)

    def runs(self, sweep_id: str | None = None) -> pd.DataFrame:
        """The runs table (of one sweep, in sweep order, with its study columns)."""
        if sweep_id is None:
            return self.con.execute("SELECT * FROM runs ORDER BY created_at, run_id").df()
        return self.con.execute(
            "SELECT r.* REPLACE (l.params AS params), l.position, l.study, l.axis, l.side "
            "FROM sweep_runs l JOIN runs r USING (run_id) "
            "WHERE l.sweep_id = ? ORDER BY l.position", [sweep_id]).df()

    def sweeps(self) -> pd.DataFrame:
        return self.con.execute(
            "SELECT s.sweep_id, s.created_at, s.scenario_file, count(l.run_id) AS runs FROM sweeps s "
            "LEFT JOIN sweep_runs l USING (sweep_id) GROUP BY ALL ORDER BY s.created_at").df()

    def resolve_id(self, prefix: str, table: str = "runs", column: str = "run_id") -> str:
        """A full id from a unique prefix, or a one-line error."""
        rows = [r[0] for r in self.con.execute(f"SELECT {column} FROM {table} WHERE starts_with({column}, ?)",
                                               [prefix]).fetchall()]
        if len(rows) == 1:
            return rows[0]
        kind = column.removesuffix("_id")
        if not rows:
            raise InputError(f"no {kind} '{prefix}' in the store", file=str(self.path), field=column,
                             fix=f"list them with `planner runs list {self.path}`")
        raise InputError(f"{kind} id prefix '{prefix}' matches {len(rows)} {kind}s", file=str(self.path),
                         field=column, fix="give more characters of the id")

    def run(self, run_id: str) -> dict[str, Any]:
        """One run: its row (JSON columns parsed) and its plan tables."""
        rid = self.resolve_id(run_id)
        df = self.con.execute("SELECT * FROM runs WHERE run_id = ?", [rid]).df()
        row = df.iloc[0].to_dict()
        for key in ("params", "settings", "objective", "kpis", "violations"):
            row[key] = json.loads(row[key]) if isinstance(row[key], str) else row[key]
        tables = {t: self.con.execute(f"SELECT * EXCLUDE (run_id) FROM {t} WHERE run_id = ?", [rid]).df()
                  for t in PLAN_TABLES}
        return {"run": row, **tables}

    def latest_sweep(self) -> str | None:
        row = self.con.execute("SELECT sweep_id FROM sweeps ORDER BY created_at DESC LIMIT 1").fetchone()
        return row[0] if row else None
