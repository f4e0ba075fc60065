"""Turn a verified plan into Kubernetes objects for Kueue or Volcano.

Pools, gangs and services are read from the plan JSON; the catalog gives each
accelerator's chips per node, and ``hardware_catalog/data/device_plugins.yaml`` its
extended resource name and node labels.

* A **pool** is a (site, accelerator) pair the plan uses. Its chips are the plan's
  ``inventory.chips_used`` (for a time-of-use plan: at the busiest step), which is
  what quotas are set to. Pools the plan leaves idle get no objects.
* A **gang** (a training or batch job) becomes ``pods`` pods of ``pod_chips`` chips:
  ``pod_chips`` is the largest divisor of the job's chips that fits one node, so the
  pods together request exactly the job's chips.
* A **service** placement becomes one Deployment per (service, pool); a replica wider
  than a node is cut into node-sized pods the same way (``planner.io/pods-per-replica``).

Kueue: one ResourceFlavor per pool (node labels for site and accelerator), one
ClusterQueue whose nominal quota per flavor is the pool's chips, a LocalQueue in each
namespace, suspended ``batch/v1`` Jobs and Deployments carrying the queue label.
Volcano: one Queue per site (capability = deserved = the site's chips per resource),
a ``batch.volcano.sh`` Job per gang (``minAvailable`` = its pods, node affinity to
its pool) and Deployments scheduled by Volcano in the site's queue.

Neither Kueue's Topology nor Volcano's HyperNode is produced: the plan places work
on pools, not on racks or network blocks inside a site, so it has nothing to put in
them.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from planner.errors import InputError, UnknownNameError
from planner.export.names import Namer, is_dns_label, label_value, sanitize

TARGETS = ("kueue", "volcano")
JOB_KINDS = ("training", "batch")
MANAGED_BY = {"app.kubernetes.io/managed-by": "planner"}
KUEUE_API = "kueue.x-k8s.io/v1beta2"
KUEUE_QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
VOLCANO_QUEUE_ANNOTATION = "scheduling.volcano.sh/queue-name"
#: the order objects are written and applied in (namespaces first)
KIND_ORDER = ("Namespace", "ResourceFlavor", "ClusterQueue", "LocalQueue", "Queue", "Job", "Deployment")


@dataclass(frozen=True)
class Pool:
    site: str
    accelerator: str
    chips: int
    chips_owned: int
    resource: str
    resource_confidence: str
    node_labels: dict[str, str]
    chips_per_node: int
    chips_per_node_basis: str


@dataclass(frozen=True)
class Gang:
    workload: str
    kind: str
    site: str
    accelerator: str
    chips: int
    segments: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True)
class Service:
    workload: str
    site: str
    accelerator: str
    chips: int
    replicas: int
    replicas_by_step: str | None = None


@dataclass
class Export:
    """The objects of one export, in apply order, with the pools they were built from."""

    target: str
    plan: str
    objects: list[dict[str, Any]]
    pools: list[Pool]
    notes: list[str] = field(default_factory=list)

    def by_kind(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for kind in KIND_ORDER:
            objs = [o for o in self.objects if o["kind"] == kind]
            if objs:
                out[kind] = objs
        return out

    def kinds_frame(self) -> pd.DataFrame:
        """Objects per kind (apiVersion, kind, count)."""
        return pd.DataFrame([{"api_version": objs[0]["apiVersion"], "kind": kind, "objects": len(objs)}
                             for kind, objs in self.by_kind().items()])

    def pools_frame(self) -> pd.DataFrame:
        """Chips per pool: the quota exported, the chips owned, the resource and the pod size basis."""
        return pd.DataFrame([{"site": p.site, "accelerator": p.accelerator, "resource": p.resource,
                              "chips": p.chips, "chips_owned": p.chips_owned, "chips_per_node": p.chips_per_node,
                              "resource_confidence": p.resource_confidence} for p in self.pools])


# ---------------------------------------------------------------------------------------------
# Reading the plan
# ---------------------------------------------------------------------------------------------


def select_plan(data: dict[str, Any], period: str | None, file: str) -> tuple[dict[str, Any], str | None]:
    """The plan to export: the plan itself, or one period of a capacity plan (the last by default)."""
    if data.get("kind") != "capacity":
        if period is not None:
            raise InputError("--period applies to capacity plans only", file=file, field="--period",
                             fix="leave out --period for a plan written by `planner solve`")
        return data, None
    periods = data.get("periods") or {}
    if not isinstance(periods, dict) or not periods:
        raise InputError("the capacity plan has no periods", file=file, field="periods",
                         fix="export a plan written by `planner plan-capacity -o`")
    name = list(periods)[-1] if period is None else period
    if name not in periods:
        raise UnknownNameError("period", name, periods, file=file, field="--period")
    return periods[name], name


def chips_per_node(catalog: Any, plugins: Any, accel: str) -> tuple[int, str]:
    """Accelerators per node for ``accel`` and where the number comes from.

    The first catalog system built around the accelerator (else one that also ships
    with it): its ``chips_per_node`` for a multi-server system, its ``chips`` for a
    single server; without one, the device-plugin table's default (an estimate).
    """
    systems = list(catalog.systems.values())
    system = next((s for s in systems if s.accelerator == accel), None) \
        or next((s for s in systems if accel in s.also_ships_with), None)
    if system is not None and system.chips_per_node is not None:
        return system.chips_per_node, f"{system.id}: {system.chips_per_node} per node"
    if system is not None and system.racks is None:
        return system.chips, f"{system.id}: {system.chips} per server"
    default = int(plugins.default_chips_per_node.value)
    return default, f"default {default} per node ({plugins.default_chips_per_node.confidence.value})"


def pod_split(chips: int, per_node: int) -> tuple[int, int]:
    """(pods, chips per pod): the largest divisor of ``chips`` that fits a node, so pods sum to ``chips``."""
    size = max(d for d in range(1, min(chips, per_node) + 1) if chips % d == 0)
    return chips // size, size


def read_pools(plan: dict[str, Any], catalog: Any, plugins: Any, resource_overrides: dict[str, str],
               file: str) -> list[Pool]:
    """Pools with planned chips, in plan order."""
    inventory = plan.get("inventory") or []
    used: dict[tuple[str, str], tuple[int, int]] = {}
    if inventory:
        used = {(r["site"], r["accelerator"]): (int(r.get("chips_used", 0)), int(r.get("chips", 0)))
                for r in inventory}
    else:  # a plan without inventory rows: the chips its placements hold
        held: dict[tuple[str, str], int] = defaultdict(int)
        for row in plan.get("placements") or []:
            held[(row["site"], row["accelerator"])] += int(row["chips"])
        used = {key: (chips, chips) for key, chips in held.items()}
    pools = []
    for (site, accel), (chips, owned) in used.items():
        if chips <= 0:
            continue
        plugin = plugins.plugin(accel)
        resource = resource_overrides.get(accel, plugin.resource_name.value)
        if resource is None:
            raise InputError(f"no device-plugin resource name is known for '{accel}' (pool {site}/{accel})",
                             file=plugins.file, field=f"plugins.{accel}.resource_name",
                             fix=f"pass --resource-name {accel}=DOMAIN/NAME with the name your device plugin "
                                 "advertises")
        confidence = "given" if accel in resource_overrides else plugin.resource_name.confidence.value
        labels = {plugins.site_label: label_value(site), plugins.accelerator_label: label_value(accel)}
        labels.update({k: v.value for k, v in plugin.node_labels.items()})
        per_node, basis = chips_per_node(catalog, plugins, accel)
        pools.append(Pool(site, accel, chips, owned, resource, confidence, labels, per_node, basis))
    if not pools:
        raise InputError("the plan places no work: nothing to export", file=file, field="placements",
                         fix="export a plan with at least one placement")
    return pools


def read_gangs(plan: dict[str, Any]) -> list[Gang]:
    """Training and batch placements, with their run segments (time-of-use plans)."""
    segments: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for row in plan.get("schedule") or []:
        segments[row["workload"]].append((float(row["start_h"]), float(row["end_h"])))
    return [Gang(row["workload"], row["kind"], row["site"], row["accelerator"], int(row["chips"]),
                 tuple(sorted(segments.get(row["workload"], ()))))
            for row in plan.get("placements") or [] if row["kind"] in JOB_KINDS and int(row["chips"]) > 0]


def read_services(plan: dict[str, Any]) -> list[Service]:
    """Inference placements; a time-of-use plan's placement holds its peak replicas."""
    steps: dict[tuple[str, str, str], list[tuple[float, float, int]]] = defaultdict(list)
    for row in plan.get("replicas") or []:
        steps[(row["service"], row["site"], row["accelerator"])].append(
            (float(row["start_h"]), float(row["end_h"]), int(row["replicas"])))
    out = []
    for row in plan.get("placements") or []:
        if row["kind"] != "inference" or int(row.get("replicas", 0)) <= 0:
            continue
        key = (row["workload"], row["site"], row["accelerator"])
        out.append(Service(row["workload"], row["site"], row["accelerator"], int(row["chips"]),
                           int(row["replicas"]), _runs(steps[key]) if key in steps else None))
    return out


def _runs(rows: list[tuple[float, float, int]]) -> str:
    """Replicas over time as 'start-end:replicas' runs in hours, e.g. '0-6:2,6-18:5'."""
    runs: list[list[float]] = []
    for start, end, n in sorted(rows):
        if runs and runs[-1][2] == n and runs[-1][1] == start:
            runs[-1][1] = end
        else:
            runs.append([start, end, n])
    return ",".join(f"{_h(a)}-{_h(b)}:{int(n)}" for a, b, n in runs)


def _h(x: float) -> str:
    return f"{x:g}"


# ---------------------------------------------------------------------------------------------
# Building objects
# ---------------------------------------------------------------------------------------------


def build_export(data: dict[str, Any], target: str, catalog: Any, plugins: Any, *, namespace: str = "planner",
                 serving_namespace: str | None = None, period: str | None = None, image: str | None = None,
                 resource_overrides: dict[str, str] | None = None, file: str = "<plan>") -> Export:
    """Kubernetes objects for ``target`` ('kueue' or 'volcano') from plan JSON ``data``."""
    if target not in TARGETS:
        raise UnknownNameError("export target", target, TARGETS, field="--to")
    plan, period_name = select_plan(data, period, file)
    serving_namespace = serving_namespace or namespace
    for ns, opt in ((namespace, "--namespace"), (serving_namespace, "--serving-namespace")):
        if not is_dns_label(ns):
            raise InputError(f"'{ns}' is not a valid namespace name", field=opt,
                             fix="use lowercase letters, digits and '-', at most 63 characters")
    pools = read_pools(plan, catalog, plugins, resource_overrides or {}, file)
    by_pool = {(p.site, p.accelerator): p for p in pools}
    gangs, services = read_gangs(plan), read_services(plan)
    scenario = str(data.get("scenario") or "plan")
    ctx = _Context(scenario=scenario, period=period_name, step_h=_step_h(plan), image=image)
    objects: list[dict[str, Any]] = [
        _namespace(ns, ctx) for ns in dict.fromkeys((namespace, serving_namespace))]
    if target == "kueue":
        objects += _kueue(pools, gangs, services, by_pool, ctx, namespace, serving_namespace)
    else:
        objects += _volcano(pools, gangs, services, by_pool, ctx, namespace, serving_namespace)
    notes = []
    if period_name is not None:
        notes.append(f"capacity plan: the fleet of period {period_name} is exported")
    if ctx.step_h is not None:
        notes.append("time-of-use plan: quotas are the chips at the busiest step; each job's start is in its "
                     "planner.io/start-h annotation and each Deployment holds its peak replicas")
    return Export(target, scenario, sorted(objects, key=lambda o: KIND_ORDER.index(o["kind"])), pools, notes)


@dataclass
class _Context:
    scenario: str
    period: str | None
    step_h: float | None
    image: str | None
    namers: dict[tuple[str, str], Namer] = field(default_factory=dict)

    def name(self, kind: str, scope: str, original: str) -> str:
        return self.namers.setdefault((kind, scope), Namer()).name(original)

    def labels(self) -> dict[str, str]:
        out = dict(MANAGED_BY)
        out["planner.io/plan"] = label_value(self.scenario)
        if self.period is not None:
            out["planner.io/period"] = label_value(self.period)
        return out

    def meta(self, kind: str, original: str, namespace: str | None = None,
             annotations: dict[str, str] | None = None, labels: dict[str, str] | None = None) -> dict[str, Any]:
        name = self.name(kind, namespace or "", original)
        out: dict[str, Any] = {"name": name}
        if namespace is not None:
            out["namespace"] = namespace
        out["labels"] = {**self.labels(), **(labels or {})}
        notes = {**Namer.annotations(original, name), **(annotations or {})}
        if notes:
            out["annotations"] = notes
        return out


def _step_h(plan: dict[str, Any]) -> float | None:
    meta = plan.get("meta") or {}
    return float(meta.get("step_h", 1)) if meta.get("mode") == "time" else None


def _namespace(ns: str, ctx: _Context) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": ctx.labels()}}


def _workload_annotations(workload: str, site: str, accel: str, pods: int, pod_chips: int) -> dict[str, str]:
    return {"planner.io/workload": workload, "planner.io/site": site, "planner.io/accelerator": accel,
            "planner.io/pods": str(pods), "planner.io/chips-per-pod": str(pod_chips)}


def _gang_annotations(g: Gang, pods: int, pod_chips: int, ctx: _Context) -> dict[str, str]:
    out = _workload_annotations(g.workload, g.site, g.accelerator, pods, pod_chips)
    out["planner.io/chips"] = str(g.chips)
    if ctx.step_h is not None and g.segments:
        start = g.segments[0][0]
        out["planner.io/start-h"] = _h(start)
        out["planner.io/start-step"] = str(int(round(start / ctx.step_h)))
        out["planner.io/step-h"] = _h(ctx.step_h)
        out["planner.io/segments-h"] = ",".join(f"{_h(a)}-{_h(b)}" for a, b in g.segments)
    return out


def _service_annotations(s: Service, pods_per_replica: int, pod_chips: int, ctx: _Context) -> dict[str, str]:
    out = _workload_annotations(s.workload, s.site, s.accelerator, s.replicas * pods_per_replica, pod_chips)
    out["planner.io/replicas"] = str(s.replicas)
    out["planner.io/pods-per-replica"] = str(pods_per_replica)
    if s.replicas_by_step is not None:
        out["planner.io/replicas-by-h"] = s.replicas_by_step
    return out


def _container(workload: str, resource: str, chips: int, ctx: _Context) -> dict[str, Any]:
    base = re.sub(r"#\d+$", "", workload)  # copies of a job (count: N) share its image
    image = ctx.image or f"planner/{sanitize(base)}:latest"
    return {"name": "main", "image": image,
            "resources": {"requests": {resource: chips}, "limits": {resource: chips}}}


def _pod_template(workload: str, pool: Pool, pod_chips: int, ctx: _Context, *, restart: str,
                  labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None,
                  volcano: bool = False) -> dict[str, Any]:
    spec: dict[str, Any] = {"restartPolicy": restart}
    if volcano:
        spec["schedulerName"] = "volcano"
        spec["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [
                {"key": k, "operator": "In", "values": [v]} for k, v in pool.node_labels.items()]}]}}}
    else:
        spec["nodeSelector"] = dict(pool.node_labels)
    spec["containers"] = [_container(workload, pool.resource, pod_chips, ctx)]
    meta: dict[str, Any] = {"labels": {**ctx.labels(), **(labels or {})}}
    if annotations:
        meta["annotations"] = annotations
    return {"metadata": meta, "spec": spec}


# -- Kueue -------------------------------------------------------------------------------------


def _kueue(pools: list[Pool], gangs: list[Gang], services: list[Service], by_pool: dict[tuple[str, str], Pool],
           ctx: _Context, namespace: str, serving_namespace: str) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    flavor_of: dict[tuple[str, str], str] = {}
    ctx.namers.setdefault(("ResourceFlavor", ""), Namer()).reserve(f"{p.site}-{p.accelerator}" for p in pools)
    for p in pools:
        meta = ctx.meta("ResourceFlavor", f"{p.site}-{p.accelerator}", annotations={
            "planner.io/site": p.site, "planner.io/accelerator": p.accelerator,
            "planner.io/resource-name": p.resource, "planner.io/resource-name-confidence": p.resource_confidence,
            "planner.io/chips-per-node": f"{p.chips_per_node} ({p.chips_per_node_basis})"})
        flavor_of[(p.site, p.accelerator)] = meta["name"]
        objects.append({"apiVersion": KUEUE_API, "kind": "ResourceFlavor", "metadata": meta,
                        "spec": {"nodeLabels": dict(p.node_labels)}})
    groups: dict[str, list[Pool]] = defaultdict(list)
    for p in pools:
        groups[p.resource].append(p)
    cq_meta = ctx.meta("ClusterQueue", ctx.scenario)
    namespaces = list(dict.fromkeys((namespace, serving_namespace)))
    objects.append({"apiVersion": KUEUE_API, "kind": "ClusterQueue", "metadata": cq_meta, "spec": {
        "namespaceSelector": {"matchExpressions": [
            {"key": "kubernetes.io/metadata.name", "operator": "In", "values": namespaces}]},
        "resourceGroups": [{"coveredResources": [resource], "flavors": [
            {"name": flavor_of[(p.site, p.accelerator)], "resources": [{"name": resource, "nominalQuota": p.chips}]}
            for p in members]} for resource, members in groups.items()]}})
    queue = cq_meta["name"]
    _reserve(ctx, gangs, services, namespace, serving_namespace)
    for ns in namespaces:
        objects.append({"apiVersion": KUEUE_API, "kind": "LocalQueue",
                        "metadata": {**ctx.meta("LocalQueue", queue, namespace=ns)},
                        "spec": {"clusterQueue": queue}})
    for g in gangs:
        pool = by_pool[(g.site, g.accelerator)]
        pods, pod_chips = pod_split(g.chips, pool.chips_per_node)
        meta = ctx.meta("Job", g.workload, namespace=namespace,
                        annotations=_gang_annotations(g, pods, pod_chips, ctx), labels={KUEUE_QUEUE_LABEL: queue})
        objects.append({"apiVersion": "batch/v1", "kind": "Job", "metadata": meta, "spec": {
            "suspend": True, "parallelism": pods, "completions": pods, "completionMode": "Indexed",
            "backoffLimit": 0,
            "template": _pod_template(g.workload, pool, pod_chips, ctx, restart="Never")}})
    for s in services:
        objects.append(_deployment(s, by_pool[(s.site, s.accelerator)], ctx, serving_namespace,
                                   labels={KUEUE_QUEUE_LABEL: queue}))
    return objects


def _reserve(ctx: _Context, gangs: list[Gang], services: list[Service], namespace: str,
             serving_namespace: str) -> None:
    """Plan names that are already valid Kubernetes names keep them."""
    ctx.namers.setdefault(("Job", namespace), Namer()).reserve(g.workload for g in gangs)
    ctx.namers.setdefault(("Deployment", serving_namespace), Namer()).reserve(
        f"{s.workload}-{s.site}-{s.accelerator}" for s in services)


def _deployment(s: Service, pool: Pool, ctx: _Context, namespace: str, *, labels: dict[str, str],
                pod_annotations: dict[str, str] | None = None, volcano: bool = False) -> dict[str, Any]:
    per_replica = s.chips // s.replicas
    pods_per_replica, pod_chips = pod_split(per_replica, pool.chips_per_node)
    meta = ctx.meta("Deployment", f"{s.workload}-{s.site}-{s.accelerator}", namespace=namespace,
                    annotations=_service_annotations(s, pods_per_replica, pod_chips, ctx), labels=labels)
    selector = {"app.kubernetes.io/name": meta["name"]}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": {
        "replicas": s.replicas * pods_per_replica,
        "selector": {"matchLabels": selector},
        "template": _pod_template(s.workload, pool, pod_chips, ctx, restart="Always", labels={**labels, **selector},
                                  annotations=pod_annotations, volcano=volcano)}}


# -- Volcano -----------------------------------------------------------------------------------


def _volcano(pools: list[Pool], gangs: list[Gang], services: list[Service], by_pool: dict[tuple[str, str], Pool],
             ctx: _Context, namespace: str, serving_namespace: str) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    per_site: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for p in pools:
        per_site[p.site][p.resource] += p.chips
    queue_of: dict[str, str] = {}
    ctx.namers.setdefault(("Queue", ""), Namer()).reserve(per_site)
    for site, resources in per_site.items():
        meta = ctx.meta("Queue", site, annotations={"planner.io/site": site})
        queue_of[site] = meta["name"]
        objects.append({"apiVersion": "scheduling.volcano.sh/v1beta1", "kind": "Queue", "metadata": meta,
                        "spec": {"capability": dict(resources), "deserved": dict(resources)}})
    _reserve(ctx, gangs, services, namespace, serving_namespace)
    for g in gangs:
        pool = by_pool[(g.site, g.accelerator)]
        pods, pod_chips = pod_split(g.chips, pool.chips_per_node)
        meta = ctx.meta("Job", g.workload, namespace=namespace, annotations=_gang_annotations(g, pods, pod_chips, ctx))
        objects.append({"apiVersion": "batch.volcano.sh/v1alpha1", "kind": "Job", "metadata": meta, "spec": {
            "schedulerName": "volcano", "queue": queue_of[g.site], "minAvailable": pods,
            "tasks": [{"name": "worker", "replicas": pods,
                       "template": _pod_template(g.workload, pool, pod_chips, ctx, restart="Never",
                                                 volcano=True)}]}})
    for s in services:
        objects.append(_deployment(s, by_pool[(s.site, s.accelerator)], ctx, serving_namespace, labels={},
                                   pod_annotations={VOLCANO_QUEUE_ANNOTATION: queue_of[s.site]}, volcano=True))
    return objects
