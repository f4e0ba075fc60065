"""`planner export`: a verified plan as Kueue and Volcano objects.

Every custom object is checked against the upstream CRD's openAPIV3Schema (the manifests in
../shared/reference/k8s-crds/, see its README), every Job and Deployment with
kubernetes-validate, and the numbers against the plan: quotas per flavor equal the plan's
chips per pool, and each gang's pods request exactly its chips.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections import defaultdict
from functools import lru_cache
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

import hardware_catalog
from hardware_catalog.device_plugins import QUALIFIED_NAME, load_device_plugins
from hardware_catalog.provenance import Confidence, audit
from planner.cli import main
from planner.core.solve import solve
from planner.errors import InputError
from planner.export import ORIGINAL_NAME, Namer, build_export, to_yaml, write_export
from planner.export.kube import chips_per_node, pod_split
from planner.export.names import DNS_LABEL
from planner.inputs.scenario import load_scenario
from planner.studies.capacity import plan_capacity
from plan_fixtures import example

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "workloads" / "examples"
SPATIAL, TIME, CAPACITY = (EXAMPLES / f for f in ("east_west_small.yaml", "time_of_use_day.yaml",
                                                    "capacity_2027.yaml"))


def _crd_dir() -> Path | None:
    """../shared/reference/k8s-crds beside the clone (a worktree may sit one level deeper)."""
    if os.environ.get("PLANNER_K8S_CRDS"):
        return Path(os.environ["PLANNER_K8S_CRDS"])
    for parent in ROOT.parents[:2]:
        candidate = parent / "shared" / "reference" / "k8s-crds"
        if candidate.is_dir():
            return candidate
    return None


CRDS = _crd_dir()
needs_crds = pytest.mark.skipif(CRDS is None, reason="upstream CRD manifests not found: ../shared/reference/k8s-crds "
                                                    "beside the clone (or PLANNER_K8S_CRDS) is absent")


@lru_cache(maxsize=1)
def crd_schemas() -> dict[tuple[str, str], tuple[dict, str]]:
    """(apiVersion, kind) -> (openAPIV3Schema, scope) for every served version of every CRD."""
    out = {}
    for path in sorted(CRDS.glob("*.yaml")):  # type: ignore[union-attr]
        crd = yaml.safe_load(path.read_text())
        group, kind, scope = crd["spec"]["group"], crd["spec"]["names"]["kind"], crd["spec"]["scope"]
        for version in crd["spec"]["versions"]:
            if version.get("served"):
                out[(f"{group}/{version['name']}", kind)] = (version["schema"]["openAPIV3Schema"], scope)
    return out


CORE_KINDS = {("v1", "Namespace"), ("batch/v1", "Job"), ("apps/v1", "Deployment")}
LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?)?$")


def check_object(obj: dict) -> None:
    """One object: its metadata as the API server would check it, then its schema."""
    meta = obj["metadata"]
    assert DNS_LABEL.match(meta["name"]), meta["name"]
    for key, value in meta.get("labels", {}).items():
        assert QUALIFIED_NAME.match(key) and LABEL_VALUE.match(value), (key, value)
    for key, value in meta.get("annotations", {}).items():
        assert QUALIFIED_NAME.match(key) and isinstance(value, str), (key, value)
    key = (obj["apiVersion"], obj["kind"])
    if key in CORE_KINDS:
        kubernetes_validate.validate(obj, kubernetes_validate.latest_version(), strict=True)
        return
    schema, scope = crd_schemas()[key]
    jsonschema.Draft7Validator(schema).validate(obj)
    assert ("namespace" in meta) == (scope == "Namespaced"), (key, meta)


# -- plans --------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _time_plan() -> str:
    return json.dumps(solve(load_scenario(TIME), time_limit_s=20).to_dict())


@lru_cache(maxsize=1)
def _capacity_plan() -> str:
    """Any verified capacity plan will do (export does not need the optimum), so the solve is capped at 8 s."""
    return json.dumps(plan_capacity(load_scenario(CAPACITY), time_limit_s=8).to_dict())


def spatial_plan() -> dict:
    return example().to_dict()


def time_plan() -> dict:
    return json.loads(_time_plan())


def capacity_plan() -> dict:
    return json.loads(_capacity_plan())


PLANS = {"spatial": (spatial_plan, SPATIAL), "time": (time_plan, TIME), "capacity": (capacity_plan, CAPACITY)}


def export_of(which: str, target: str, **kw):
    plan_fn, scenario = PLANS[which]
    return build_export(plan_fn(), target, hardware_catalog.load(), load_device_plugins(), **kw)


def quotas(export) -> dict[tuple[str, str], int]:
    """Quota per pool summed over every queue, read back from the objects."""
    out: dict[tuple[str, str], int] = defaultdict(int)
    if export.target == "kueue":
        flavors = {o["metadata"]["name"]: o["spec"]["nodeLabels"] for o in export.objects
                   if o["kind"] == "ResourceFlavor"}
        for cq in (o for o in export.objects if o["kind"] == "ClusterQueue"):
            for group in cq["spec"]["resourceGroups"]:
                for flavor in group["flavors"]:
                    labels = flavors[flavor["name"]]
                    pool = (labels["topology.kubernetes.io/region"], labels["planner.io/accelerator"])
                    out[pool] += sum(int(r["nominalQuota"]) for r in flavor["resources"])
    return dict(out)


def plan_pools(plan: dict) -> dict[tuple[str, str], int]:
    return {(r["site"], r["accelerator"]): int(r["chips_used"]) for r in plan["inventory"] if r["chips_used"] > 0}


def pod_chips(template: dict) -> int:
    (container,) = template["spec"]["containers"]
    requests, limits = container["resources"]["requests"], container["resources"]["limits"]
    assert requests == limits and len(requests) == 1
    return int(next(iter(requests.values())))


# -- schemas ------------------------------------------------------------------------------------


@needs_crds
@pytest.mark.parametrize("which", ["spatial", "time", "capacity"])
@pytest.mark.parametrize("target", ["kueue", "volcano"])
def test_every_object_validates_against_its_upstream_schema(which, target):
    export = export_of(which, target)
    kinds = {o["kind"] for o in export.objects}
    assert kinds >= ({"ResourceFlavor", "ClusterQueue", "LocalQueue", "Job", "Deployment"} if target == "kueue"
                     else {"Queue", "Job", "Deployment"})
    for obj in export.objects:
        check_object(obj)
    for cq in (o for o in export.objects if o["kind"] == "ClusterQueue"):
        # Kueue's own rules beyond the schema: each flavor quotes every covered resource; a resource
        # and a flavor belong to one resource group only.
        groups = cq["spec"]["resourceGroups"]
        assert all(len(f["resources"]) == len(g["coveredResources"]) for g in groups for f in g["flavors"])
        covered = [r for g in groups for r in g["coveredResources"]]
        flavors = [f["name"] for g in groups for f in g["flavors"]]
        assert len(covered) == len(set(covered)) and len(flavors) == len(set(flavors))
    # The YAML on disk is the same objects, read back with the safe loader.
    assert list(yaml.safe_load_all(to_yaml(export.objects))) == export.objects


@needs_crds
def test_the_schema_check_catches_a_wrong_field():
    export = export_of("spatial", "kueue")
    cq = next(o for o in export.objects if o["kind"] == "ClusterQueue")
    cq["spec"]["resourceGroups"][0]["flavors"][0]["resources"][0].pop("nominalQuota")
    with pytest.raises(jsonschema.ValidationError, match="nominalQuota"):
        check_object(cq)
    job = next(o for o in export.objects if o["kind"] == "Job")
    job["spec"]["parallelism"] = "eight"
    with pytest.raises(kubernetes_validate.ValidationError):
        check_object(job)


# -- numbers against the plan -------------------------------------------------------------------


@pytest.mark.parametrize("which", ["spatial", "time", "capacity"])
def test_kueue_quotas_sum_to_the_plans_chips_per_pool(which):
    plan_fn, _ = PLANS[which]
    plan = plan_fn()
    if which == "capacity":
        plan = plan["periods"][list(plan["periods"])[-1]]
    assert quotas(export_of(which, "kueue")) == plan_pools(plan)


def test_spatial_quotas_are_the_chips_every_placement_holds():
    """In a spatial plan everything runs at once: a pool's quota is the sum of its placements' chips."""
    held: dict[tuple[str, str], int] = defaultdict(int)
    for row in spatial_plan()["placements"]:
        held[(row["site"], row["accelerator"])] += row["chips"]
    assert quotas(export_of("spatial", "kueue")) == dict(held)


@pytest.mark.parametrize("which", ["spatial", "time"])
def test_volcano_queues_hold_each_sites_chips(which):
    export = export_of(which, "volcano")
    per_site: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for p in export.pools:
        per_site[p.site][p.resource] += p.chips
    queues = {o["metadata"]["name"]: o["spec"] for o in export.objects if o["kind"] == "Queue"}
    assert queues == {site: {"capability": dict(r), "deserved": dict(r)} for site, r in per_site.items()}


@pytest.mark.parametrize("which", ["spatial", "time", "capacity"])
@pytest.mark.parametrize("target", ["kueue", "volcano"])
def test_every_gang_requests_exactly_its_chips_on_its_pool(which, target):
    export = export_of(which, target)
    plan = PLANS[which][0]()
    if which == "capacity":
        plan = plan["periods"][list(plan["periods"])[-1]]
    gangs = {r["workload"]: r for r in plan["placements"] if r["kind"] in ("training", "batch")}
    jobs = [o for o in export.objects if o["kind"] == "Job"]
    assert sorted(j["metadata"]["annotations"]["planner.io/workload"] for j in jobs) == sorted(gangs)
    for job in jobs:
        row = gangs[job["metadata"]["annotations"]["planner.io/workload"]]
        if target == "kueue":
            spec = job["spec"]
            pods, template = spec["parallelism"], spec["template"]
            assert spec["completions"] == pods and spec["suspend"] is True
            assert job["metadata"]["labels"]["kueue.x-k8s.io/queue-name"]
            assert template["spec"]["nodeSelector"]["topology.kubernetes.io/region"] == row["site"]
        else:
            (task,) = job["spec"]["tasks"]
            pods, template = task["replicas"], task["template"]
            assert job["spec"]["minAvailable"] == pods and job["spec"]["schedulerName"] == "volcano"
            assert job["spec"]["queue"] == row["site"]
            terms = template["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
            exprs = {e["key"]: e["values"] for e in terms["nodeSelectorTerms"][0]["matchExpressions"]}
            assert exprs["topology.kubernetes.io/region"] == [row["site"]]
            assert exprs["planner.io/accelerator"] == [row["accelerator"]]
        assert pods * pod_chips(template) == row["chips"]


@pytest.mark.parametrize("target", ["kueue", "volcano"])
def test_deployments_hold_the_planned_replicas_and_chips(target):
    export = export_of("spatial", target)
    served = {(r["workload"], r["site"], r["accelerator"]): r for r in spatial_plan()["placements"]
              if r["kind"] == "inference"}
    deployments = [o for o in export.objects if o["kind"] == "Deployment"]
    assert len(deployments) == len(served)
    for d in deployments:
        notes = d["metadata"]["annotations"]
        row = served[(notes["planner.io/workload"], notes["planner.io/site"], notes["planner.io/accelerator"])]
        assert int(notes["planner.io/replicas"]) == row["replicas"]
        assert d["spec"]["replicas"] * pod_chips(d["spec"]["template"]) == row["chips"]
        if target == "volcano":
            assert d["spec"]["template"]["spec"]["schedulerName"] == "volcano"
            assert d["spec"]["template"]["metadata"]["annotations"]["scheduling.volcano.sh/queue-name"] == row["site"]


def test_time_of_use_jobs_carry_their_start_step():
    plan = time_plan()
    starts = defaultdict(list)
    for row in plan["schedule"]:
        starts[row["workload"]].append(row["start_h"])
    step_h = plan["meta"]["step_h"]
    for job in (o for o in export_of("time", "kueue").objects if o["kind"] == "Job"):
        notes = job["metadata"]["annotations"]
        first = min(starts[notes["planner.io/workload"]])
        assert float(notes["planner.io/start-h"]) == first
        assert int(notes["planner.io/start-step"]) == round(first / step_h)
        assert len(notes["planner.io/segments-h"].split(",")) == len(starts[notes["planner.io/workload"]])


def test_a_capacity_plan_exports_the_chosen_period():
    plan = capacity_plan()
    first = list(plan["periods"])[0]
    export = export_of("capacity", "kueue", period=first)
    assert quotas(export) == plan_pools(plan["periods"][first])
    assert all(o["metadata"]["labels"]["planner.io/period"] == first for o in export.objects)
    with pytest.raises(InputError, match="unknown period"):
        export_of("capacity", "kueue", period="2031")


# -- pods per node, by hand ---------------------------------------------------------------------


def test_pods_are_node_sized_divisors_of_the_gang():
    """64 chips on 8-chip nodes: 8 pods of 8. 20 chips: 8 does not divide 20, so 4 pods of 5
    (the largest divisor that fits a node). 7 chips (prime, below a node): 1 pod of 7. 13 chips:
    13 pods of 1 (prime above a node; every pod still fits)."""
    assert pod_split(64, 8) == (8, 8)
    assert pod_split(20, 8) == (4, 5)
    assert pod_split(7, 8) == (1, 7)
    assert pod_split(13, 8) == (13, 1)


def test_chips_per_node_come_from_the_catalogs_systems():
    catalog, plugins = hardware_catalog.load(), load_device_plugins()
    assert chips_per_node(catalog, plugins, "h20")[0] == 8                # HGX H20: one 8-GPU server
    assert chips_per_node(catalog, plugins, "ascend-910c") == (8, "cloudmatrix-384: 8 per node")  # 48 x 8
    assert chips_per_node(catalog, plugins, "ascend-910b2")[0] == 8       # ships in the Atlas 800T A2
    n, basis = chips_per_node(catalog, plugins, "kunlunxin-p800")         # no system in the catalog
    assert n == 8 and "estimate" in basis


# -- names --------------------------------------------------------------------------------------


@given(st.lists(st.text(min_size=1, max_size=90), min_size=1, max_size=25, unique=True))
def test_names_are_valid_unique_and_reversible(originals):
    namer = Namer()
    namer.reserve(originals)
    names = {o: namer.name(o) for o in originals}
    assert all(DNS_LABEL.match(n) for n in names.values())
    assert len(set(names.values())) == len(originals)
    for original, name in names.items():
        notes = Namer.annotations(original, name)
        assert notes.get(ORIGINAL_NAME, name) == original
        assert namer.name(original) == name  # stable


def test_plan_names_that_are_not_kubernetes_names_are_renamed_and_recorded():
    """'eval-sweep#1' is cleaned to 'eval-sweep-1'; a plan job already called 'eval-sweep-1' keeps
    that name and the cleaned one gets a hash suffix instead."""
    plan = spatial_plan()
    row = next(r for r in plan["placements"] if r["workload"] == "eval-sweep#2")
    plan["placements"].append({**row, "workload": "eval-sweep-1"})
    plan["inventory"] = [dict(r, chips_used=r["chips_used"] + (row["chips"] if (r["site"], r["accelerator"]) ==
                                                                (row["site"], row["accelerator"]) else 0))
                         for r in plan["inventory"]]
    export = build_export(plan, "kueue", hardware_catalog.load(), load_device_plugins())
    jobs = {o["metadata"]["annotations"]["planner.io/workload"]: o["metadata"] for o in export.objects
            if o["kind"] == "Job"}
    assert jobs["eval-sweep-1"]["name"] == "eval-sweep-1" and ORIGINAL_NAME not in jobs["eval-sweep-1"]["annotations"]
    renamed = jobs["eval-sweep#1"]
    assert re.fullmatch(r"eval-sweep-1-[0-9a-f]{6}", renamed["name"])
    assert renamed["annotations"][ORIGINAL_NAME] == "eval-sweep#1"
    assert jobs["eval-sweep#2"]["name"] == "eval-sweep-2"


# -- device-plugin data -------------------------------------------------------------------------


def test_every_catalog_accelerator_has_a_sourced_device_plugin_entry():
    plugins = load_device_plugins()
    assert set(plugins.plugins) == set(hardware_catalog.load().accelerators)
    assert plugins.plugin("h20").resource_name.value == "nvidia.com/gpu"
    assert "nvidia.com/gpu.product" in plugins.plugin("h20").node_labels
    assert plugins.plugin("ascend-910c").resource_name.value == "huawei.com/Ascend910"
    assert plugins.plugin("ascend-950pr").resource_name.value == "huawei.com/npu"
    for p in plugins.plugins.values():
        if p.resource_name.value is not None and p.resource_name.confidence.value != "estimate":
            assert "http" in p.resource_name.source or "/" in p.resource_name.source


def test_every_device_plugin_name_passes_the_provenance_audit():
    """The catalog's audit (no bare domains, estimates with a method, honest dates) holds for names too."""
    problems = [f"{where}: {p}" for where, fig in load_device_plugins().provenance() for p in audit(fig)]
    assert problems == []
    for where, fig in load_device_plugins().provenance():
        if fig.confidence is not Confidence.estimate:
            assert fig.rechecked is True and fig.retrieved == dt.date(2026, 12, 1), where


def test_catalog_plugins_lists_every_accelerator():
    r = run("catalog", "plugins", "--format", "csv")
    assert r.exit_code == 0
    assert len(r.output.strip().splitlines()) == 1 + len(hardware_catalog.load().accelerators)
    assert "huawei.com/Ascend910" in r.output and "NVIDIA-H20 (estimate)" in r.output


def test_an_accelerator_without_a_known_resource_name_needs_one_given():
    plan = spatial_plan()
    for row in plan["placements"] + plan["inventory"]:
        if row["accelerator"] == "h20":
            row["accelerator"] = "t-head-ppu"
    with pytest.raises(InputError, match="--resource-name t-head-ppu="):
        build_export(plan, "kueue", hardware_catalog.load(), load_device_plugins())
    export = build_export(plan, "kueue", hardware_catalog.load(), load_device_plugins(),
                          resource_overrides={"t-head-ppu": "example.com/ppu"})
    flavor = next(o for o in export.objects if o["kind"] == "ResourceFlavor"
                  and o["metadata"]["annotations"]["planner.io/accelerator"] == "t-head-ppu")
    assert flavor["metadata"]["annotations"]["planner.io/resource-name-confidence"] == "given"


# -- the command --------------------------------------------------------------------------------


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def plan_file(tmp_path):
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(spatial_plan()))
    return path


def test_export_writes_one_file_per_kind_and_dry_run_writes_nothing(tmp_path, plan_file):
    out = tmp_path / "k"
    r = run("export", plan_file, "--to", "kueue", "--scenario", SPATIAL, "-o", out, "--namespace", "train",
            "--serving-namespace", "serve")
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.iterdir()) == ["00-namespaces.yaml", "10-resourceflavors.yaml",
                                                     "20-clusterqueues.yaml", "30-localqueues.yaml",
                                                     "40-jobs.yaml", "50-deployments.yaml"]
    local = list(yaml.safe_load_all((out / "30-localqueues.yaml").read_text()))
    assert sorted(q["metadata"]["namespace"] for q in local) == ["serve", "train"]
    r = run("export", plan_file, "--to", "volcano", "--scenario", SPATIAL, "-o", tmp_path / "v", "--single-file")
    assert r.exit_code == 0, r.output
    docs = list(yaml.safe_load_all((tmp_path / "v" / "volcano.yaml").read_text()))
    assert docs[0]["kind"] == "Namespace" and {d["kind"] for d in docs} == {"Namespace", "Queue", "Job", "Deployment"}
    r = run("export", plan_file, "--to", "volcano", "--scenario", SPATIAL, "-o", tmp_path / "dry", "--dry-run")
    assert r.exit_code == 0 and not (tmp_path / "dry").exists()
    assert "Queue" in r.output and "huawei.com/Ascend910" in r.output and "1,216" in r.output  # thousands separated


@pytest.mark.parametrize("change, fragment", [
    ("tamper", "fails `planner verify`"),
    ("no-scenario", "pass --scenario"),
    ("infeasible", "no plan to export"),
])
def test_bad_plans_are_refused_with_one_line_and_exit_2(tmp_path, plan_file, change, fragment):
    data = json.loads(plan_file.read_text())
    args = ["--scenario", SPATIAL]
    if change == "tamper":
        training = next(p for p in data["placements"] if p["kind"] == "training")
        training["chips"] //= 2
    elif change == "no-scenario":
        args = []
    else:
        data["status"] = "infeasible"
    plan_file.write_text(json.dumps(data))
    r = run("export", plan_file, "--to", "kueue", "-o", tmp_path / "out", *args)
    assert r.exit_code == 2
    assert fragment in r.output and len(r.output.strip().splitlines()) == 1
    assert "Traceback" not in r.output and not (tmp_path / "out").exists()


def test_a_plan_written_by_solve_records_its_scenario_so_export_needs_no_scenario(tmp_path):
    plan = tmp_path / "plan.json"
    assert run("solve", SPATIAL, "-o", plan, "--quiet", "--set", "sites.guian.power_cap_mw=50").exit_code == 0
    assert json.loads(plan.read_text())["scenario_file"] == {"path": str(SPATIAL.resolve()),
                                                              "sets": ["sites.guian.power_cap_mw=50"]}
    r = run("export", plan, "--to", "kueue", "--dry-run")
    assert r.exit_code == 0, r.output
    assert "ClusterQueue" in r.output


def test_written_files_round_trip(tmp_path):
    export = export_of("spatial", "volcano")
    paths = write_export(export, tmp_path)
    objects = [o for p in paths for o in yaml.safe_load_all(p.read_text())]
    assert objects == export.objects
