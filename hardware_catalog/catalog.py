"""Load the accelerator catalog: YAML files → merged raw data → validated, frozen models.

Flow (Calliope-style): read the data files, expand ``ref:`` shorthands against the
source library, apply a scenario's overrides and extra accelerators to the raw
data, and only then validate. Invalid input raises ``InputError`` naming the file,
the field and the fix.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any

import pandas as pd
from pydantic import BaseModel, TypeAdapter, ValidationError

from hardware_catalog.models import (
    PRECISIONS,
    Accelerator,
    StackEfficiency,
    System,
)
from hardware_catalog.provenance import Confidence, Figure, figure_record, load_figure
from planner.errors import InputError, UnknownNameError
from planner.inputs.files import read_yaml

DATA_DIR = Path(__file__).parent / "data"
SCHEMA_VERSION = 1
FILE_NAMES = {
    "sources": "sources.yaml",
    "accelerators": "accelerators.yaml",
    "systems": "systems.yaml",
    "stack_efficiency": "stack_efficiency.yaml",
}
# Keys of ``overrides`` that address something other than an accelerator.
RESERVED_OVERRIDE_KEYS = ("stack_efficiency", "systems", "server_overhead_factor")
OVERRIDE_SOURCE = "scenario override"
EXTRA_SOURCE = "scenario extra accelerator"


def _figure_fields(model: type[BaseModel]) -> frozenset[str]:
    return frozenset(name for name, f in model.model_fields.items() if "Figure" in str(f.annotation))


ACCELERATOR_FIGURES = _figure_fields(Accelerator)
SYSTEM_FIGURES = _figure_fields(System)
STACK_FIGURES = _figure_fields(StackEfficiency)


@dataclass(frozen=True)
class Catalog:
    """Validated accelerators, systems and stack efficiencies, read-only."""

    version: str
    accelerators: Mapping[str, Accelerator]
    systems: Mapping[str, System]
    stacks: Mapping[str, StackEfficiency]
    server_overhead_factor: Figure
    applied: tuple[str, ...] = field(default=())
    schema_version: int = SCHEMA_VERSION

    # -- look-ups ---------------------------------------------------------------------------

    def accelerator(self, accel_id: str) -> Accelerator:
        """The accelerator ``accel_id``; unknown ids raise UnknownNameError with a suggestion."""
        try:
            return self.accelerators[accel_id]
        except KeyError:
            raise UnknownNameError("accelerator", accel_id, self.accelerators) from None

    def system(self, system_id: str) -> System:
        try:
            return self.systems[system_id]
        except KeyError:
            raise UnknownNameError("system", system_id, self.systems) from None

    def stack_efficiency(self, stack: str) -> StackEfficiency:
        """Training MFU and inference efficiency of a software stack (e.g. 'cuda', 'cann')."""
        try:
            return self.stacks[stack]
        except KeyError:
            raise UnknownNameError("software stack", stack, self.stacks) from None

    def reference_system(self, accel_id: str) -> System | None:
        """The system whose measured power stands for this accelerator, if any.

        A system built around the accelerator wins over one that merely also ships
        with it (a sibling bin); among equals the first in the data file wins.
        """
        self.accelerator(accel_id)
        powered = [s for s in self.systems.values() if s.power_kw is not None and s.power_kw.value is not None]
        for s in powered:
            if s.accelerator == accel_id:
                return s
        for s in powered:
            if accel_id in s.also_ships_with:
                return s
        return None

    def chip_power_kw(self, accel_id: str) -> float:
        """IT power per chip including its share of the server, excluding facility cooling (PUE).

        reference system power_kw / chips when a system with a power figure exists;
        otherwise tdp_w / 1000 × server_overhead_factor.
        """
        system = self.reference_system(accel_id)
        if system is not None:
            return system.power_kw.value / system.chips  # type: ignore[union-attr]
        accel = self.accelerators[accel_id]
        if accel.tdp_w is not None and accel.tdp_w.value is not None:
            return accel.tdp_w.value / 1000.0 * self.server_overhead_factor.value  # type: ignore[operator]
        raise InputError(
            f"accelerator '{accel_id}' has no power figure: no system with power_kw and no tdp_w",
            field=f"accelerators.{accel_id}.tdp_w",
            fix=f"give it in the scenario, e.g. overrides={{'{accel_id}': {{'tdp_w': 400}}}}",
        )

    def chip_power_basis(self, accel_id: str) -> str:
        """One line saying how chip_power_kw(accel_id) is obtained."""
        system = self.reference_system(accel_id)
        if system is not None:
            return f"{system.id}: {system.power_kw.value:g} kW / {system.chips} chips"  # type: ignore[union-attr]
        accel = self.accelerators[accel_id]
        if accel.tdp_w is not None and accel.tdp_w.value is not None:
            return f"tdp_w {accel.tdp_w.value:g} W × server overhead {self.server_overhead_factor.value:g}"
        return "unknown (no reference system power and no tdp_w)"

    # -- tables -----------------------------------------------------------------------------

    def to_frame(self) -> pd.DataFrame:
        """One row per accelerator with plain values (no Figures); units are in the column names."""
        rows = []
        for a in self.accelerators.values():
            try:
                power = self.chip_power_kw(a.id)
            except InputError:
                power = math.nan
            figures = a.figures()
            confidences = [f.confidence for f in figures.values()]
            rows.append({
                "id": a.id,
                "name": a.name,
                "vendor": a.vendor,
                "release_year": a.release_year,
                "released": a.released,
                "domestic": a.domestic,
                "software_stack": a.software_stack,
                **{f"tflops_{p}": _plain(getattr(a, f"tflops_{p}")) for p in PRECISIONS},
                "memory_type": a.memory_type,
                "memory_gib": _plain(a.memory_gib),
                "memory_bandwidth_tb_per_s": _plain(a.memory_bandwidth_tb_per_s),
                "interconnect_name": a.interconnect_name,
                "interconnect_gb_per_s": _plain(a.interconnect_gb_per_s),
                "interconnect_direction": a.interconnect_direction,
                "tdp_w": _plain(a.tdp_w),
                "chip_power_kw": power,
                "process_node": a.process_node,
                "export_control_status": a.export_control.status if a.export_control else None,
                "unit_price_usd": _plain(a.unit_price_usd),
                "unit_price_cny": _plain(a.unit_price_cny),
                "supply_2025_units": _plain(a.supply_2025_units),
                "supply_2026_units": _plain(a.supply_2026_units),
                "lowest_confidence": _lowest(confidences),
            })
        df = pd.DataFrame(rows)
        if df.empty:
            return df
        for col in df.columns:
            if col.startswith(("tflops_", "memory_gib", "memory_bandwidth", "interconnect_gb", "tdp_w",
                               "chip_power", "unit_price", "supply_")):
                df[col] = df[col].astype(float)
        return df

    def systems_frame(self) -> pd.DataFrame:
        """One row per system with plain values."""
        rows = [{
            "id": s.id,
            "name": s.name,
            "accelerator": s.accelerator,
            "chips": s.chips,
            "scale_up_domain_chips": s.scale_up_domain_chips,
            "power_kw": _plain(s.power_kw),
            "power_per_chip_kw": (_plain(s.power_kw) / s.chips) if _plain(s.power_kw) is not None else None,
            "rack_units": s.rack_units,
            "racks": s.racks,
            "price_usd": _plain(s.price_usd),
            "price_cny": _plain(s.price_cny),
            "released": s.released,
        } for s in self.systems.values()]
        df = pd.DataFrame(rows)
        for col in ("power_kw", "power_per_chip_kw", "price_usd", "price_cny"):
            if col in df:
                df[col] = df[col].astype(float)
        return df

    def stacks_frame(self) -> pd.DataFrame:
        """One row per software stack with its efficiency assumptions."""
        return pd.DataFrame([{
            "stack": s.stack,
            "name": s.name,
            "training_mfu": s.training_mfu.value,
            "training_mfu_confidence": s.training_mfu.confidence.value,
            "inference_efficiency": s.inference_efficiency.value,
            "inference_efficiency_confidence": s.inference_efficiency.confidence.value,
        } for s in self.stacks.values()])


def _plain(fig: Figure | None) -> float | None:
    return None if fig is None else fig.value


def _lowest(confidences: Iterable[Confidence]) -> str | None:
    order = list(Confidence)
    found = sorted(set(confidences), key=order.index)
    return found[-1].value if found else None


# =========================================================================================
# Loading
# =========================================================================================


def load(path: str | Path | None = None, overrides: Mapping[str, Any] | None = None,
         extra: Iterable[Mapping[str, Any]] | None = None) -> Catalog:
    """Load the catalog.

    path: a YAML file or a directory with the same layout as ``hardware_catalog/data``;
        it replaces the built-in accelerators and systems. A user catalog that has no
        ``stack_efficiency`` or ``server_overhead_factor`` falls back to the built-in ones.
    overrides: ``{accel_id: {field: number_or_figure_dict}}``, plus the reserved keys
        ``stack_efficiency`` (``{stack: {field: ...}}``), ``systems``
        (``{system_id: {field: ...}}``) and ``server_overhead_factor``.
        A plain number is kept with source "scenario override".
    extra: accelerator dicts added by a scenario (ids must be new).
    """
    builtin = _read_builtin()
    if path is None:
        raw, strict = builtin, True
    else:
        raw, strict = _read_user(Path(path), builtin), False

    sources = raw["sources"]
    accel_raw = [_resolve_entry(e, ACCELERATOR_FIGURES, sources, raw["files"]["accelerators"], f"accelerators[{i}]",
                                plain_source=None if strict else f"user catalog {raw['files']['accelerators']}")
                 for i, e in enumerate(_as_list(raw["accelerators"], raw["files"]["accelerators"], "accelerators"))]
    system_raw = [_resolve_entry(e, SYSTEM_FIGURES, sources, raw["files"]["systems"], f"systems[{i}]",
                                 plain_source=None if strict else f"user catalog {raw['files']['systems']}")
                  for i, e in enumerate(_as_list(raw["systems"], raw["files"]["systems"], "systems"))]
    stack_raw = [_resolve_entry(e, STACK_FIGURES, raw["stack_sources"], raw["files"]["stack_efficiency"],
                                f"stacks[{i}]", plain_source=None)
                 for i, e in enumerate(_as_list(raw["stacks"], raw["files"]["stack_efficiency"], "stacks"))]
    overhead_raw = _resolve_figure(raw["server_overhead_factor"], raw["stack_sources"] | sources,
                                   raw["files"]["overhead"], "server_overhead_factor", plain_source=None)

    applied: list[str] = []
    if overrides:
        overhead_raw = _apply_overrides(overrides, accel_raw, system_raw, stack_raw, overhead_raw,
                                        sources, applied)
    if extra:
        _add_extra(extra, accel_raw, sources, applied)

    accelerators = _validate_list(Accelerator, accel_raw, raw["files"]["accelerators"], "accelerators",
                                  applied=applied)
    systems = _validate_list(System, system_raw, raw["files"]["systems"], "systems", applied=applied)
    stacks = _validate_list(StackEfficiency, stack_raw, raw["files"]["stack_efficiency"], "stacks", key="stack",
                            applied=applied)
    overhead = _validate_figure(overhead_raw, raw["files"]["overhead"], "server_overhead_factor")
    _check_references(accelerators, systems, stacks, raw["files"])

    version = str(raw["version"])
    if overrides:
        version += "+overrides"
    if extra:
        version += "+extra"
    return Catalog(
        version=version,
        accelerators=MappingProxyType(accelerators),
        systems=MappingProxyType(systems),
        stacks=MappingProxyType(stacks),
        server_overhead_factor=overhead,
        applied=tuple(applied),
    )


# -- reading files ---------------------------------------------------------------------------


def _read_yaml(path: Path) -> dict[str, Any]:
    data = read_yaml(path, what="catalog file", fix="check the catalog path")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError("the top level must be a mapping", file=str(path),
                         fix="start the file with keys such as 'catalog_version:' and 'accelerators:'")
    return data


@lru_cache(maxsize=1)
def _read_builtin() -> dict[str, Any]:
    """The packaged data, parsed once per process. Callers copy before changing anything."""
    docs = {key: _read_yaml(DATA_DIR / name) for key, name in FILE_NAMES.items()}
    versions = {key: doc.get("catalog_version") for key, doc in docs.items()}
    if len(set(versions.values())) != 1:
        raise InputError(f"catalog_version differs between data files: {versions}", file=str(DATA_DIR),
                         fix="give every data file the same catalog_version")
    for key, doc in docs.items():
        if doc.get("schema_version") != SCHEMA_VERSION:
            raise InputError(f"schema_version {doc.get('schema_version')!r} is not {SCHEMA_VERSION}",
                             file=str(DATA_DIR / FILE_NAMES[key]), field="schema_version",
                             fix=f"set schema_version: {SCHEMA_VERSION}")
    files = {key: str(DATA_DIR / name) for key, name in FILE_NAMES.items()}
    files["overhead"] = files["systems"]
    sources = _source_library(docs["sources"], files["sources"])
    return {
        "version": versions["accelerators"],
        "sources": sources,
        "stack_sources": sources,
        "accelerators": docs["accelerators"].get("accelerators"),
        "systems": docs["systems"].get("systems", []),
        "stacks": docs["stack_efficiency"].get("stacks"),
        "server_overhead_factor": docs["systems"].get("server_overhead_factor"),
        "files": files,
    }


def _read_user(path: Path, builtin: dict[str, Any]) -> dict[str, Any]:
    """A user catalog: one YAML file, or a directory laid out like the built-in data."""
    if path.is_dir():
        docs = {key: (_read_yaml(path / name) if (path / name).exists() else None)
                for key, name in FILE_NAMES.items()}
        if docs["accelerators"] is None:
            raise InputError("no accelerators.yaml in the catalog directory", file=str(path),
                             fix="add accelerators.yaml with an 'accelerators:' list")
        files = {key: str(path / name) for key, name in FILE_NAMES.items()}
        merged: dict[str, Any] = {}
        for doc in docs.values():
            if doc:
                merged.update({k: v for k, v in doc.items() if k not in merged})
        merged["accelerators"] = docs["accelerators"].get("accelerators")
        merged["systems"] = (docs["systems"] or {}).get("systems", [])
        merged["stacks"] = (docs["stack_efficiency"] or {}).get("stacks")
        merged["server_overhead_factor"] = (docs["systems"] or {}).get("server_overhead_factor")
        merged["sources"] = (docs["sources"] or {}).get("sources", {})
        overhead_file = files["systems"]
    else:
        merged = _read_yaml(path)
        allowed = {"catalog_version", "schema_version", "sources", "accelerators", "systems", "stacks",
                   "server_overhead_factor"}
        for key in merged:
            if key not in allowed:
                raise UnknownNameError("catalog key", key, allowed, file=str(path), field=key)
        if "accelerators" not in merged:
            raise InputError("no 'accelerators' list", file=str(path), field="accelerators",
                             fix="add 'accelerators:' with at least one entry")
        files = {key: str(path) for key in FILE_NAMES}
        overhead_file = str(path)
    schema = merged.get("schema_version", SCHEMA_VERSION)
    if schema != SCHEMA_VERSION:
        raise InputError(f"schema_version {schema!r} is not supported", file=str(path), field="schema_version",
                         fix=f"convert the catalog to schema_version {SCHEMA_VERSION}")
    user_sources = _source_library({"sources": merged.get("sources") or {}}, files["sources"])
    sources = dict(builtin["sources"]) | user_sources
    use_builtin_stacks = merged.get("stacks") is None
    use_builtin_overhead = merged.get("server_overhead_factor") is None
    files["overhead"] = builtin["files"]["overhead"] if use_builtin_overhead else overhead_file
    if use_builtin_stacks:
        files["stack_efficiency"] = builtin["files"]["stack_efficiency"]
    return {
        "version": merged.get("catalog_version") or f"user:{path.stem}",
        "sources": sources,
        "stack_sources": builtin["sources"] if use_builtin_stacks else sources,
        "accelerators": merged.get("accelerators"),
        "systems": merged.get("systems") or [],
        "stacks": builtin["stacks"] if use_builtin_stacks else merged["stacks"],
        "server_overhead_factor": (builtin["server_overhead_factor"] if use_builtin_overhead
                                   else merged["server_overhead_factor"]),
        "files": files,
    }


def _source_library(doc: Mapping[str, Any], file: str) -> dict[str, dict[str, Any]]:
    """``sources: {id: {source, retrieved, confidence[, note]}}`` — the targets of ``ref:``."""
    library = doc.get("sources") or {}
    if not isinstance(library, dict):
        raise InputError("'sources' must be a mapping of id → {source, retrieved, confidence}", file=file,
                         field="sources", fix="write sources as 'my-id: {source: ..., retrieved: ..., confidence: ...}'")
    allowed = {"source", "retrieved", "confidence", "note", "published", "rechecked", "mirror", "method"}
    for key, entry in library.items():
        if not isinstance(entry, dict) or not {"source", "retrieved", "confidence"} <= set(entry):
            raise InputError("a source needs 'source', 'retrieved' and 'confidence'", file=file,
                             field=f"sources.{key}", fix="add the missing keys")
        for k in entry:
            if k not in allowed:
                raise UnknownNameError("source key", k, allowed, file=file, field=f"sources.{key}.{k}")
    return dict(library)


def _as_list(value: Any, file: str, section: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise InputError(f"'{section}' must be a list of mappings", file=file, field=section,
                         fix=f"write '{section}:' followed by '- id: ...' entries")
    return [dict(v) for v in value]


# -- figures and refs ------------------------------------------------------------------------


def _resolve_entry(entry: dict[str, Any], figure_fields: frozenset[str], sources: Mapping[str, Any], file: str,
                   where: str, plain_source: str | None) -> dict[str, Any]:
    out = dict(entry)
    for name in figure_fields:
        if name in out:
            out[name] = _resolve_figure(out[name], sources, file, f"{where}.{name}", plain_source)
    control = out.get("export_control")
    if isinstance(control, dict) and "ref" in control:
        control = dict(control)
        ref = control.pop("ref")
        if ref not in sources:
            raise UnknownNameError("source", str(ref), sources, file=file, field=f"{where}.export_control.ref")
        out["export_control"] = {"source": sources[ref]["source"], "retrieved": sources[ref]["retrieved"]} | control
    return out


def _resolve_figure(raw: Any, sources: Mapping[str, Any], file: str, where: str,
                    plain_source: str | None, method: str | None = None) -> dict[str, Any] | None:
    """Turn a Figure as written (dict with optional ``ref``, or a plain number) into a Figure dict."""
    return figure_record(raw, file=file, field=where, sources=sources, plain_source=plain_source, method=method)


def _validate_figure(raw: Any, file: str, where: str) -> Figure:
    return load_figure(raw, file=file, field=where)  # type: ignore[return-value]


def _validate_field(model: type[BaseModel], fname: str, value: Any, file: str, where: str) -> None:
    """Check one overridden field on its own, so the error points at the override."""
    info = model.model_fields[fname]
    try:
        TypeAdapter(Annotated[info.annotation, info]).validate_python(value)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise InputError(err["msg"], file=file, field=where,
                         fix=_FIXES.get(err["type"], "correct the value as the message says")) from None


def _validate_list(model: type[BaseModel], entries: list[dict[str, Any]], file: str, section: str,
                   key: str = "id", applied: Iterable[str] = ()) -> dict[str, Any]:
    touched = {a.split(".")[-2] for a in applied if "." in a}
    out: dict[str, Any] = {}
    for i, entry in enumerate(entries):
        where = f"{section}[{i}]"
        try:
            obj = model.model_validate(entry)
        except ValidationError as exc:
            error = _input_error(exc, file, where, entry.get(key))
            if entry.get(key) in touched:
                error = InputError(f"{error.detail} after applying the scenario overrides", file=file,
                                   field=error.field, fix=error.fix)
            raise error from None
        name = getattr(obj, key)
        if name in out:
            raise InputError(f"duplicate {key} '{name}'", file=file, field=f"{where}.{key}",
                             fix=f"give each entry a unique {key}")
        out[name] = obj
    return out


_FIXES = {
    "missing": "add this field",
    "extra_forbidden": "remove this field or check its spelling",
    "literal_error": "use one of the allowed values shown",
    "string_pattern_mismatch": "use a lowercase slug: letters, digits, '-' and '.'",
    "date_from_datetime_parsing": "write the date as YYYY-MM-DD",
    "date_parsing": "write the date as YYYY-MM-DD",
    "enum": "use one of: " + ", ".join(c.value for c in Confidence),
}


def _input_error(exc: ValidationError, file: str, where: str, name: Any = None) -> InputError:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"] if p not in ("function-after",))
    field_path = f"{where}.{loc}" if loc else where
    message = err["msg"]
    if name:
        message = f"{message} (entry '{name}')"
    fix = _FIXES.get(err["type"])
    if err["type"] == "extra_forbidden":
        known = _known_fields(where)
        if known:
            suggestion = UnknownNameError("field", str(err["loc"][-1]), known).fix
            fix = suggestion or fix
    if fix is None:
        fix = "correct the value as the message says"
    return InputError(message, file=file, field=field_path, fix=fix)


def _known_fields(where: str) -> list[str]:
    if where.startswith("accelerators"):
        return list(Accelerator.model_fields)
    if where.startswith("systems"):
        return list(System.model_fields)
    if where.startswith("stacks"):
        return list(StackEfficiency.model_fields)
    return []


# -- overrides and extras --------------------------------------------------------------------


def _apply_overrides(overrides: Mapping[str, Any], accel_raw: list[dict[str, Any]],
                     system_raw: list[dict[str, Any]], stack_raw: list[dict[str, Any]],
                     overhead_raw: dict[str, Any] | None, sources: Mapping[str, Any],
                     applied: list[str]) -> dict[str, Any] | None:
    file = "scenario overrides"
    if not isinstance(overrides, Mapping):
        raise InputError("overrides must be a mapping of accelerator id → {field: value}", file=file,
                         fix="write overrides as {'h20': {'tdp_w': 400}}")
    accel_by_id = {e.get("id"): e for e in accel_raw}
    for key, changes in overrides.items():
        if key == "stack_efficiency":
            stacks_by_id = {e.get("stack"): e for e in stack_raw}
            for stack, fields in _mapping(changes, file, "overrides.stack_efficiency").items():
                if stack not in stacks_by_id:
                    raise UnknownNameError("software stack", stack, stacks_by_id, file=file,
                                           field=f"overrides.stack_efficiency.{stack}")
                _override_entry(stacks_by_id[stack], fields, StackEfficiency, STACK_FIGURES, sources, file,
                                f"stack_efficiency.{stack}", applied)
        elif key == "systems":
            systems_by_id = {e.get("id"): e for e in system_raw}
            for sid, fields in _mapping(changes, file, "overrides.systems").items():
                if sid not in systems_by_id:
                    raise UnknownNameError("system", sid, systems_by_id, file=file, field=f"overrides.systems.{sid}")
                _override_entry(systems_by_id[sid], fields, System, SYSTEM_FIGURES, sources, file,
                                f"systems.{sid}", applied)
        elif key == "server_overhead_factor":
            overhead_raw = _resolve_figure(changes, sources, file, "overrides.server_overhead_factor",
                                           plain_source=OVERRIDE_SOURCE, method="value set by the scenario")
            applied.append("server_overhead_factor")
        else:
            if key not in accel_by_id:
                raise UnknownNameError("accelerator", str(key), accel_by_id, file=file, field=f"overrides.{key}")
            _override_entry(accel_by_id[key], changes, Accelerator, ACCELERATOR_FIGURES, sources, file,
                            str(key), applied)
    return overhead_raw


def _mapping(value: Any, file: str, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InputError("expected a mapping", file=file, field=where, fix="write {name: {field: value}}")
    return value


def _override_entry(entry: dict[str, Any], changes: Any, model: type[BaseModel], figure_fields: frozenset[str],
                    sources: Mapping[str, Any], file: str, where: str, applied: list[str]) -> None:
    for fname, value in _mapping(changes, file, f"overrides.{where}").items():
        if fname not in model.model_fields:
            raise UnknownNameError("field", fname, model.model_fields, file=file, field=f"overrides.{where}.{fname}")
        if fname in ("id", "stack"):
            raise InputError(f"'{fname}' cannot be overridden", file=file, field=f"overrides.{where}.{fname}",
                             fix="add a new entry with 'extra' instead")
        if fname in figure_fields:
            value = _resolve_figure(value, sources, file, f"overrides.{where}.{fname}",
                                    plain_source=OVERRIDE_SOURCE, method="value set by the scenario")
            if value is not None:
                _validate_figure(value, file, f"overrides.{where}.{fname}")
        else:
            _validate_field(model, fname, value, file, f"overrides.{where}.{fname}")
        entry[fname] = value
        applied.append(f"{where}.{fname}")


def _add_extra(extra: Iterable[Mapping[str, Any]], accel_raw: list[dict[str, Any]],
               sources: Mapping[str, Any], applied: list[str]) -> None:
    file = "scenario extra accelerators"
    known = {e.get("id") for e in accel_raw}
    for i, entry in enumerate(extra):
        if not isinstance(entry, Mapping):
            raise InputError("each extra accelerator must be a mapping", file=file, field=f"extra[{i}]",
                             fix="give id, name, vendor, domestic, software_stack, released and tdp_w")
        resolved = _resolve_entry(dict(entry), ACCELERATOR_FIGURES, sources, file, f"extra[{i}]",
                                  plain_source=EXTRA_SOURCE)
        accel_id = resolved.get("id")
        if accel_id in known:
            raise InputError(f"accelerator '{accel_id}' already exists", file=file, field=f"extra[{i}].id",
                             fix="use overrides to change an existing accelerator, or pick a new id")
        known.add(accel_id)
        accel_raw.append(resolved)
        applied.append(f"extra.{accel_id}")


# -- cross-references ------------------------------------------------------------------------


def _check_references(accelerators: Mapping[str, Accelerator], systems: Mapping[str, System],
                      stacks: Mapping[str, StackEfficiency], files: Mapping[str, str]) -> None:
    for i, s in enumerate(systems.values()):
        for accel_id in (s.accelerator, *s.also_ships_with):
            if accel_id not in accelerators:
                raise UnknownNameError("accelerator", accel_id, accelerators, file=files["systems"],
                                       field=f"systems[{i}].accelerator")
    for i, a in enumerate(accelerators.values()):
        if a.id in RESERVED_OVERRIDE_KEYS:
            raise InputError(f"'{a.id}' is a reserved name", file=files["accelerators"], field=f"accelerators[{i}].id",
                             fix="pick another id")
        if a.software_stack not in stacks:
            raise UnknownNameError("software stack", a.software_stack, stacks, file=files["accelerators"],
                                   field=f"accelerators[{i}].software_stack")
