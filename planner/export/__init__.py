"""From plan to cluster: a verified plan as Kueue or Volcano objects.

    data = load_plan("plan.json")
    scenario = load_scenario("workloads/examples/east_west_small.yaml")
    refuse_unverified(scenario, data, "plan.json")            # InputError unless `planner verify` passes
    export = build_export(data, "kueue", load_catalog_for(scenario), load_device_plugins())
    write_export(export, "out/kueue")                        # one YAML file per kind

See :mod:`planner.export.kube` for what is built and why.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from planner.check.document import verify_document
from planner.check.plan_schema import read_plan
from planner.errors import InputError
from planner.export.kube import KIND_ORDER, TARGETS, Export, build_export
from planner.export.names import ORIGINAL_NAME, Namer, sanitize
from planner.results.result import Status

__all__ = ["KIND_ORDER", "ORIGINAL_NAME", "TARGETS", "Export", "Namer", "build_export", "load_plan",
           "refuse_unverified", "sanitize", "scenario_path_of", "to_yaml", "write_export"]

FILE_NAMES = {"Namespace": "00-namespaces.yaml", "ResourceFlavor": "10-resourceflavors.yaml",
              "ClusterQueue": "20-clusterqueues.yaml", "LocalQueue": "30-localqueues.yaml",
              "Queue": "20-queues.yaml", "Job": "40-jobs.yaml", "Deployment": "50-deployments.yaml"}


def load_plan(path: str | Path) -> dict[str, Any]:
    """The plan JSON at ``path``, read as ``planner verify`` reads it; an unreadable file is an InputError."""
    data = read_plan(path)
    if not isinstance(data, dict):
        raise InputError("not a plan: expected a JSON object", file=str(path),
                         fix="pass a plan written by `planner solve -o`")
    return data


def scenario_path_of(data: dict[str, Any], given: str | None, file: str) -> tuple[str, tuple[str, ...]]:
    """The scenario to verify against and the ``--set`` overrides the plan was solved with:
    ``--scenario`` if given, else the file the plan records (``planner solve -o`` records it),
    else an InputError asking for ``--scenario``."""
    if given:
        return given, ()
    recorded = data.get("scenario_file")
    if isinstance(recorded, dict) and isinstance(recorded.get("path"), str) and Path(recorded["path"]).is_file():
        return recorded["path"], tuple(str(s) for s in recorded.get("sets") or ())
    raise InputError("the plan does not record a scenario file that exists here, and export verifies the plan "
                     "first", file=file, fix="pass --scenario FILE (the scenario the plan was solved from)")


def refuse_unverified(scenario: Any, data: dict[str, Any], file: str) -> None:
    """Raise InputError (one line) unless the plan has a plan and passes `planner verify` against ``scenario``."""
    status = data.get("status")
    if status not in {s.value for s in Status if s.has_plan}:
        raise InputError(f"the plan's status is {status!r}: there is no plan to export", file=file, field="status",
                         fix="solve the scenario again until it reports a feasible or optimal plan")
    violations = verify_document(scenario, data, file=file)
    if violations:
        raise InputError(f"refused: the plan fails `planner verify` ({len(violations)} violation(s), first: "
                         f"{violations[0]})", file=file,
                         fix="re-solve the scenario, or pass the --scenario the plan was solved from")


def to_yaml(objects: list[dict[str, Any]]) -> str:
    """Objects as one multi-document YAML string (safe dumper, key order kept)."""
    return yaml.safe_dump_all(objects, sort_keys=False, default_flow_style=False, allow_unicode=True)


def write_export(export: Export, out_dir: str | Path, single_file: bool = False) -> list[Path]:
    """Write one YAML file per kind into ``out_dir`` (or one multi-document file); return the paths.

    File names are numbered so `kubectl apply -f DIR/` creates namespaces and queues first.
    """
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the output directory: {exc.strerror}", file=str(out), field="-o",
                         fix="choose a writable directory") from None
    if single_file:
        path = out / f"{export.target}.yaml"
        path.write_text(to_yaml(export.objects), encoding="utf-8")
        return [path]
    paths = []
    for kind, objs in export.by_kind().items():
        path = out / FILE_NAMES[kind]
        path.write_text(to_yaml(objs), encoding="utf-8")
        paths.append(path)
    return paths
