"""Device-plugin resource names and node labels per accelerator, with their sources.

``data/device_plugins.yaml`` says how each accelerator appears on a Kubernetes node:
the extended resource its device plugin advertises (``nvidia.com/gpu``,
``huawei.com/Ascend910`` …) and any vendor node labels (``nvidia.com/gpu.product``).
Every name carries provenance like a catalog figure (``ref`` into the file's
``sources``; estimates say their ``method``); ``value: null`` means no source was
found and no name is given.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from hardware_catalog.catalog import DATA_DIR, _read_yaml, _resolve_figure, _source_library
from hardware_catalog.provenance import Confidence, Figure
from planner.errors import InputError, UnknownNameError

FILE = DATA_DIR / "device_plugins.yaml"

# Kubernetes qualified name: optional DNS-subdomain prefix and '/', then a name of
# at most 63 characters (alphanumerics, '-', '_', '.'; alphanumeric at both ends).
_NAME = r"[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?"
_PREFIX = r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*"
QUALIFIED_NAME = re.compile(rf"^({_PREFIX}/)?{_NAME}$")
LABEL_VALUE = re.compile(rf"^({_NAME})?$")


class SourcedName(BaseModel):
    """One sourced name (a resource name or a label value). ``value`` None: no source found."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    value: str | None
    source: str
    retrieved: dt.date
    confidence: Confidence
    method: str | None = None
    note: str | None = None
    published: dt.date | None = None
    rechecked: bool | None = None
    mirror: str | None = None

    def provenance(self) -> Figure:
        """The provenance as a Figure (value None), so the catalog's audit applies to names too."""
        return Figure.model_validate({k: v for k, v in self.model_dump().items() if k != "value"} | {"value": None})

    @model_validator(mode="after")
    def _check(self) -> "SourcedName":
        if self.confidence is Confidence.estimate and not self.method:
            raise ValueError("an estimate must say its method (field 'method')")
        return self


class DevicePlugin(BaseModel):
    """How one accelerator appears on a node: its extended resource and vendor labels."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    accelerator: str
    resource_name: SourcedName
    node_labels: dict[str, SourcedName] = {}

    @field_validator("resource_name")
    @classmethod
    def _resource(cls, name: SourcedName) -> SourcedName:
        if name.value is not None and (not QUALIFIED_NAME.match(name.value) or "/" not in name.value):
            raise ValueError(f"'{name.value}' is not an extended resource name (domain/name)")
        return name

    @field_validator("node_labels")
    @classmethod
    def _labels(cls, labels: dict[str, SourcedName]) -> dict[str, SourcedName]:
        for key, value in labels.items():
            if not QUALIFIED_NAME.match(key):
                raise ValueError(f"'{key}' is not a valid label key")
            if value.value is None or not LABEL_VALUE.match(value.value):
                raise ValueError(f"label {key}: '{value.value}' is not a valid label value")
        return labels


@dataclass(frozen=True)
class DevicePlugins:
    """The loaded mapping, read-only."""

    site_label: str
    accelerator_label: str
    default_chips_per_node: Figure
    plugins: Mapping[str, DevicePlugin]
    file: str

    def plugin(self, accel_id: str) -> DevicePlugin:
        try:
            return self.plugins[accel_id]
        except KeyError:
            raise UnknownNameError("accelerator in the device-plugin table", accel_id, self.plugins,
                                   file=self.file, field="plugins") from None

    def provenance(self) -> list[tuple[str, Figure]]:
        """(where, provenance) of every sourced name and of ``default_chips_per_node``."""
        out = [("default_chips_per_node", self.default_chips_per_node)]
        for accel, p in self.plugins.items():
            out.append((f"{accel}.resource_name", p.resource_name.provenance()))
            out += [(f"{accel}.node_labels.{k}", v.provenance()) for k, v in p.node_labels.items()]
        return out

    def to_frame(self) -> pd.DataFrame:
        """One row per accelerator: resource name, vendor labels, confidence and source."""
        return pd.DataFrame([{
            "accelerator": p.accelerator,
            "resource_name": p.resource_name.value,
            "node_labels": ", ".join(f"{k}={v.value} ({v.confidence.value})" for k, v in p.node_labels.items()),
            "confidence": p.resource_name.confidence.value,
            "source": p.resource_name.source,
        } for p in self.plugins.values()])


def load_device_plugins(path: str | Path | None = None) -> DevicePlugins:
    """Load ``device_plugins.yaml`` (the built-in one unless ``path`` is given)."""
    if path is None:
        return _builtin()
    return _load(Path(path))


@lru_cache(maxsize=1)
def _builtin() -> DevicePlugins:
    return _load(FILE)


def _load(path: Path) -> DevicePlugins:
    file = str(path)
    doc = _read_yaml(path)
    allowed = {"catalog_version", "schema_version", "site_label", "accelerator_label", "default_chips_per_node",
               "sources", "plugins"}
    for key in doc:
        if key not in allowed:
            raise UnknownNameError("device-plugin file key", key, allowed, file=file, field=key)
    sources = _source_library(doc, file)
    for key in ("site_label", "accelerator_label"):
        if not isinstance(doc.get(key), str) or not QUALIFIED_NAME.match(doc[key]):
            raise InputError(f"'{key}' must be a label key such as topology.kubernetes.io/region", file=file,
                             field=key, fix="give a Kubernetes label key (prefix/name)")
    raw_default = _resolve_figure(doc.get("default_chips_per_node"), sources, file, "default_chips_per_node",
                                  plain_source=None)
    try:
        default = Figure.model_validate(raw_default)
    except ValidationError as exc:
        raise _error(exc, file, "default_chips_per_node") from None
    if default.value is None or default.value < 1 or default.value != int(default.value):
        raise InputError("default_chips_per_node must be a whole number of chips", file=file,
                         field="default_chips_per_node", fix="give a positive integer such as 8")
    entries = doc.get("plugins")
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise InputError("'plugins' must be a list of mappings", file=file, field="plugins",
                         fix="write 'plugins:' followed by '- accelerator: ...' entries")
    plugins: dict[str, DevicePlugin] = {}
    for i, entry in enumerate(entries):
        where = f"plugins[{i}]"
        raw: dict[str, Any] = dict(entry)
        if isinstance(raw.get("resource_name"), dict):
            raw["resource_name"] = _resolve_figure(raw["resource_name"], sources, file, f"{where}.resource_name",
                                                   plain_source=None)
        if isinstance(raw.get("node_labels"), dict):
            raw["node_labels"] = {k: _resolve_figure(v, sources, file, f"{where}.node_labels.{k}", plain_source=None)
                                  if isinstance(v, dict) else v for k, v in raw["node_labels"].items()}
        try:
            plugin = DevicePlugin.model_validate(raw)
        except ValidationError as exc:
            raise _error(exc, file, where) from None
        if plugin.accelerator in plugins:
            raise InputError(f"duplicate accelerator '{plugin.accelerator}'", file=file, field=f"{where}.accelerator",
                             fix="give each accelerator one entry")
        plugins[plugin.accelerator] = plugin
    return DevicePlugins(site_label=doc["site_label"], accelerator_label=doc["accelerator_label"],
                         default_chips_per_node=default, plugins=MappingProxyType(plugins), file=file)


def _error(exc: ValidationError, file: str, where: str) -> InputError:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"] if p != "__root__")
    field = f"{where}.{loc}" if loc else where
    return InputError(err["msg"], file=file, field=field, fix="correct the entry as the message says")
