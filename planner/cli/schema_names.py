"""The built-in ids (sites, demand cities, accelerators, systems, models) added to the scenario's
JSON Schema, so an editor completes them.

The ids are given as ``anyOf: [{enum: [...]}, {type: string}]`` rather than a closed enum: a
scenario may add accelerators (``catalog.add``), models (``models:``) and sites (a topology
overlay), so an id outside the built-in list is still valid. Editors that read JSON Schema
(VS Code's YAML extension, JetBrains) offer the enum's values as completions.
"""

from __future__ import annotations

import copy
from typing import Any

import hardware_catalog
from planner.inputs import topology as topo_mod
from workloads.models import load_models

#: property name -> (where the ids go: "keys" of an object, "items" of a list, or the "value"), kind
NAMED = {
    "sites": [("keys", "site"), ("items", "site")],
    "space_racks": [("keys", "site")],
    "allowed_sites": [("items", "site")],
    "inventory": [("keys", "accelerator")],
    "allowed_accelerators": [("items", "accelerator")],
    "tokens_per_s_per_chip": [("keys", "accelerator")],
    "chips_per_replica": [("keys", "accelerator")],
    "duration_h_by_accelerator": [("keys", "accelerator")],
    "supply_chips_per_period": [("keys", "accelerator")],
    "demand_tokens_per_s": [("keys", "city")],
    "dataset_origin": [("value", "place")],
    "model": [("value", "model")],
    "system": [("value", "system")],
}


def builtin_ids() -> dict[str, list[str]]:
    """Every built-in id by kind, from the catalog, topology and model library."""
    catalog, topology = hardware_catalog.load(), topo_mod.load()
    sites, cities = sorted(topology.sites), sorted(topology.cities)
    return {"site": sites, "city": cities, "place": sorted(set(sites) | set(cities)),
            "accelerator": sorted(catalog.accelerators), "system": sorted(catalog.systems),
            "model": sorted(load_models())}


def with_names(schema: dict[str, Any], ids: dict[str, list[str]]) -> dict[str, Any]:
    """A copy of ``schema`` whose id-valued fields list the built-in ids."""
    out = copy.deepcopy(schema)
    out.setdefault("$defs", {})
    for kind, names in ids.items():
        out["$defs"][f"{kind}_id"] = {"anyOf": [{"enum": names}, {"type": "string"}],
                                      "description": f"a {kind} id: the built-in ones, or one the scenario adds"}
    _walk(out)
    return out


def _walk(node: Any) -> None:
    if isinstance(node, dict):
        for name, prop in (node.get("properties") or {}).items():
            for where, kind in NAMED.get(name, []):
                for target in _variants(prop):
                    _annotate(target, where, kind)
        for value in node.values():
            _walk(value)
    elif isinstance(node, list):
        for value in node:
            _walk(value)


def _variants(prop: dict[str, Any]) -> list[dict[str, Any]]:
    return [v for v in prop.get("anyOf", []) if isinstance(v, dict)] or [prop]


def _annotate(target: dict[str, Any], where: str, kind: str) -> None:
    ref = {"$ref": f"#/$defs/{kind}_id"}
    if where == "keys" and target.get("type") == "object":
        target["propertyNames"] = ref
    elif where == "items" and target.get("type") == "array" and target.get("items", {}).get("type") == "string":
        target["items"] = ref
    elif where == "value" and target.get("type") == "string":
        target.clear()
        target.update(ref)
