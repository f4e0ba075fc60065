"""Write the corpus of bad inputs: scenario files for validate/solve, plan files for verify.

Run once after changing it (``python tests/data/bad/make_corpus.py``); the files are committed and
``tests/test_bad_inputs.py`` runs every one through the real command line. Each file is a small
change to a valid file (``base.yaml``, ``base_time.yaml``, ``base_capacity.yaml`` and the plans solved
from them), and ``expected.yaml`` records, per file, the commands it goes through and a fragment
the one-line error must contain (the field, or the line for files that are not YAML/JSON at all).

Categories (the ones in issue 13): numbers (inf, NaN, 1e300, 2**70, booleans, negatives, below a
bound), files (not UTF-8, binary, deep nesting, duplicate keys, not a mapping, syntax, unsafe tags),
resources (count, total copies, variables, workers), names, overlays, catalog overrides and
added accelerators, paths to other files, time-of-use settings, capacity settings, and plan files
(binary, not JSON, non-finite numbers, missing keys, wrong types, unknown names, malformed rows).
"""

from __future__ import annotations

import copy
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT))

SCEN = HERE / "scenarios"
PLANS = HERE / "plans"
AUX = HERE / "aux"

expected: dict[str, dict[str, Any]] = {}


def _base(name: str) -> dict[str, Any]:
    data = yaml.safe_load((HERE / name).read_text())
    for ref in ("catalog", "topology"):  # scenarios/ is one level deeper than base.yaml
        if data.get(ref, {}).get("path"):
            data[ref]["path"] = "../" + data[ref]["path"]
    if data.get("time", {}).get("demand_profile", "builtin") != "builtin":
        data["time"]["demand_profile"] = "../" + data["time"]["demand_profile"]
    return data


def _set(data: Any, path: str, value: Any) -> None:
    parts = path.split(".")
    node = data
    for p in parts[:-1]:
        node = node[int(p)] if isinstance(node, list) else node.setdefault(p, {})
    last = parts[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def scenario(name: str, fragment: str, *, base: str = "base.yaml", sets: dict[str, Any] | None = None,
             text: str | None = None, raw: bytes | None = None, commands: tuple[str, ...] = ("validate", "solve"),
             edit: Any = None) -> None:
    """A bad scenario file ``scenarios/<name>.yaml``."""
    path = SCEN / f"{name}.yaml"
    if raw is not None:
        path.write_bytes(raw)
    elif text is not None:
        path.write_text(text, encoding="utf-8")
    else:
        data = _base(base)
        for key, value in (sets or {}).items():
            _set(data, key, value)
        if edit is not None:
            edit(data)
        path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    expected[f"scenarios/{path.name}"] = {"commands": list(commands), "fragment": fragment}


def plan(name: str, fragment: str, *, of: str = "spatial", edit: Any = None, text: str | None = None,
         raw: bytes | None = None) -> None:
    """A bad plan file ``plans/<name>.json``, verified against the scenario it was solved from."""
    path = PLANS / f"{name}.json"
    if raw is not None:
        path.write_bytes(raw)
    elif text is not None:
        path.write_text(text, encoding="utf-8")
    else:
        data = copy.deepcopy(SOLVED[of])
        edit(data)
        path.write_text(json.dumps(data, indent=1, allow_nan=True), encoding="utf-8")
    expected[f"plans/{path.name}"] = {"commands": ["verify"], "fragment": fragment,
                                      "scenario": {"spatial": "base.yaml", "time": "base_time.yaml",
                                                   "capacity": "base_capacity.yaml"}[of]}


# -- numbers -----------------------------------------------------------------------------------------------
NUMBER_FIELDS = {
    "horizon_h": "horizon_h",
    "sites.east.inventory.gpu": "sites.east.inventory.gpu",
    "sites.east.power_cap_mw": "sites.east.power_cap_mw",
    "training_jobs.0.chips": "training_jobs[0].chips",
    "training_jobs.0.count": "training_jobs[0].count",
    "training_jobs.0.duration_h": "training_jobs[0].duration_h",
    "training_jobs.0.priority": "training_jobs[0].priority",
    "inference_services.0.demand_tokens_per_s.metro": "inference_services[0].demand_tokens_per_s.metro",
    "inference_services.0.rtt_slo_ms": "inference_services[0].rtt_slo_ms",
    "inference_services.0.tokens_per_s_per_chip.gpu": "inference_services[0].tokens_per_s_per_chip.gpu",
    "inference_services.0.chips_per_replica.gpu": "inference_services[0].chips_per_replica.gpu",
    "objective.unplaced_training_cny_per_chip_hour": "objective.unplaced_training_cny_per_chip_hour",
    "objective.unserved_inference_cny_per_mtokens": "objective.unserved_inference_cny_per_mtokens",
    "objective.latency_cny_per_mtokens_ms": "objective.latency_cny_per_mtokens_ms",
    "solver.seed": "solver.seed",
    "solver.workers": "solver.workers",
    "solver.time_limit_s": "solver.time_limit_s",
    "solver.relative_gap": "solver.relative_gap",
}
BAD_NUMBERS = {"inf": float("inf"), "nan": float("nan"), "1e300": 1e300, "2pow70": 2**70, "true": True, "neg": -1}


def numbers() -> None:
    for key, field in NUMBER_FIELDS.items():
        short = key.split(".")[-1] if key.count(".") < 2 else "_".join(key.split(".")[-2:])
        for label, value in BAD_NUMBERS.items():
            scenario(f"number_{key.split('.')[0]}_{short}_{label}", field, sets={key: value})
    scenario("number_duration_tiny", "training_jobs[0].duration_h", sets={"training_jobs.0.duration_h": 1e-300})
    scenario("number_chips_fraction", "training_jobs[0].chips", sets={"training_jobs.0.chips": 2.5})
    scenario("number_chips_zero", "training_jobs[0].chips", sets={"training_jobs.0.chips": 0})
    scenario("number_demand_zero", "inference_services[0].demand_tokens_per_s.metro",
             sets={"inference_services.0.demand_tokens_per_s.metro": 0})
    scenario("number_horizon_string", "horizon_h", sets={"horizon_h": "a day"})
    scenario("number_inf_text", "horizon_h", text=(HERE / "base.yaml").read_text().replace(
        "horizon_h: 24", "horizon_h: .inf").replace("path: ../core", "path: ../../core"))


# -- resources ----------------------------------------------------------------------------------------------
def resources() -> None:
    scenario("resource_count_ten_million", "training_jobs[0].count", sets={"training_jobs.0.count": 10_000_000})

    def many_copies(d: dict) -> None:
        d["training_jobs"] = [{**d["training_jobs"][0], "id": f"t{i}", "count": 100_000} for i in range(3)]
    scenario("resource_total_copies", "count", edit=many_copies)

    def huge_time_model(d: dict) -> None:
        d["horizon_h"] = 8760
        d["time"] = {"mode": "time"}
        d["training_jobs"] = [{**d["training_jobs"][0], "id": f"t{i}", "count": 1, "preemptible": True}
                              for i in range(150)]
    scenario("resource_time_variables", "solver.max_variables", edit=huge_time_model)
    scenario("resource_workers", "solver.workers", sets={"solver.workers": 100_000})
    scenario("resource_max_variables_tiny", "solver.max_variables", sets={"solver.max_variables": 10})
    scenario("resource_time_limit_year", "solver.time_limit_s", sets={"solver.time_limit_s": 3.2e7})


# -- files -----------------------------------------------------------------------------------------------
def files() -> None:
    text = (SCEN / "../base.yaml").resolve().read_text().replace("path: ../core", "path: ../../core")
    scenario("file_latin1", "line 1", raw=("# café\n" + text).encode("latin-1"))
    scenario("file_utf16", "line 1", raw=text.encode("utf-16"))
    scenario("file_binary_png", "line", raw=b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    scenario("file_nul_bytes", "line", raw=text.encode() + b"\x00\x00name: x\n")
    scenario("file_deep_flow", "line 1", text="name: [" + "[" * 5000 + "]" * 5000 + "]\n")
    scenario("file_deep_block", "line", text="".join(f"{'  ' * i}k{i}:\n" for i in range(200)) + "  " * 200 + "v\n")
    scenario("file_empty", "mapping", text="")
    scenario("file_list_top", "mapping", text="- a\n- b\n")
    scenario("file_scalar_top", "mapping", text="just words\n")
    scenario("file_bad_indent", "line", text=text.replace("  east:", " east:", 1))
    scenario("file_unclosed_quote", "line", text=text.replace("name: corpus-base", 'name: "corpus-base'))
    scenario("file_tab_indent", "line", text=text.replace("  east:", "\teast:", 1))
    scenario("file_python_tag", "line", text=text.replace("name: corpus-base",
                                                          "name: !!python/object/apply:os.system ['true']"))
    scenario("file_dup_sites", "'sites' is given twice", text=text + "sites:\n  east: {inventory: {gpu: 1}}\n")
    scenario("file_dup_training_jobs", "'training_jobs' is given twice", text=text + "training_jobs: []\n")
    scenario("file_dup_inventory_key", "'gpu' is given twice",
             text=text.replace("inventory: {gpu: 16, npu: 16}, power_cap_mw", "inventory: {gpu: 16, gpu: 8}, power_cap_mw"))
    scenario("file_dup_site", "'east' is given twice",
             text=text.replace("  west: {", "  east: {inventory: {gpu: 1}}\n  west: {", 1))
    scenario("file_dup_job_field", "'chips' is given twice", text=text.replace("chips: 8,", "chips: 8, chips: 64,"))
    scenario("file_alias_bomb", "sites", text="a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"l{i}: &l{i} [*{'a' if i == 0 else f'l{i - 1}'}, *{'a' if i == 0 else f'l{i - 1}'}, "
        f"*{'a' if i == 0 else f'l{i - 1}'}, *{'a' if i == 0 else f'l{i - 1}'}]\n" for i in range(12))
        + "lol: *l11\n")


# -- names --------------------------------------------------------------------------------------------------
def names() -> None:
    scenario("name_unknown_site", "sites.eats", edit=lambda d: d["sites"].update(eats=d["sites"].pop("east")))
    scenario("name_unknown_accelerator", "sites.east.inventory.gpx", sets={"sites.east.inventory": {"gpx": 8}})
    scenario("name_unknown_city", "demand_tokens_per_s",
             sets={"inference_services.0.demand_tokens_per_s": {"metropolis": 10}})
    scenario("name_unknown_key", "trainig_jobs", edit=lambda d: d.update(trainig_jobs=d.pop("training_jobs")))
    scenario("name_unknown_job_key", "training_jobs[0].chip", edit=lambda d: d["training_jobs"][0].update(chip=8))
    scenario("name_duplicate_job_id", "id 'train'",
             edit=lambda d: d["training_jobs"].append(dict(d["training_jobs"][0])))
    scenario("name_job_service_clash", "chat", sets={"training_jobs.0.id": "chat"})
    scenario("name_unknown_allowed_accelerator", "allowed_accelerators",
             sets={"training_jobs.0.allowed_accelerators": ["gpu", "tpu"]})
    scenario("name_unknown_allowed_site", "allowed_sites", sets={"training_jobs.0.allowed_sites": ["north"]})
    scenario("name_empty_id", "training_jobs[0].id", sets={"training_jobs.0.id": ""})
    scenario("name_no_work", "training_jobs", edit=lambda d: d.update(training_jobs=[], inference_services=[]))
    scenario("name_no_sites", "sites", sets={"sites": {}})
    scenario("name_unmeetable_slo", "rtt_slo_ms", sets={"inference_services.0.rtt_slo_ms": 0.5})
    scenario("name_replica_missing_accel", "chips_per_replica",
             sets={"inference_services.0.chips_per_replica": {"gpu": 4}})


# -- overlays, catalog overrides, other files --------------------------------------------------------------
def overlays() -> None:
    scenario("overlay_unknown_key", "topology.overlay", sets={"topology.overlay": {"bogus": 1}})
    scenario("overlay_not_mapping", "topology.overlay", sets={"topology.overlay": [1, 2]})
    scenario("overlay_remove_unknown_site", "topology.overlay.remove_sites",
             sets={"topology.overlay": {"remove_sites": ["north"]}})
    scenario("overlay_add_site_incomplete", "topology.overlay", sets={"topology.overlay": {"add_sites": [{"id": "x"}]}})
    scenario("overlay_add_site_existing", "topology.overlay.add_sites",
             sets={"topology.overlay": {"add_sites": [{"id": "east", "name": "E", "province": "P", "role": "east",
                                                       "lat": 1, "lon": 1, "pue": 1.1, "price_cny_per_kwh": 0.5}]}})
    scenario("overlay_tariff_negative", "topology.overlay.tariffs",
             sets={"topology.overlay": {"tariffs": {"east": {"price_cny_per_kwh": -0.5}}}})
    scenario("overlay_tariff_inf", "topology.overlay.tariffs",
             sets={"topology.overlay": {"tariffs": {"east": {"price_cny_per_kwh": float("inf")}}}})
    scenario("overlay_tariff_unknown_site", "topology.overlay.tariffs",
             sets={"topology.overlay": {"tariffs": {"north": {"price_cny_per_kwh": 0.5}}}})
    scenario("overlay_tariff_not_mapping", "topology.overlay.tariffs",
             sets={"topology.overlay": {"tariffs": {"east": 0.5}}})
    scenario("overlay_cut_link_malformed", "topology.overlay.cut_links", sets={"topology.overlay": {"cut_links": ["east"]}})
    scenario("overlay_cut_link_missing", "topology.overlay.cut_links",
             sets={"topology.overlay": {"cut_links": [["east", "nowhere"]]}})
    scenario("overlay_add_link_negative_rtt", "topology.overlay.add_links",
             sets={"topology.overlay": {"add_links": [{"a": "metro", "b": "east", "rtt_ms": -3,
                                                       "bandwidth_gbps": 10}]}})
    scenario("overlay_add_link_1e300", "topology.overlay.add_links",
             sets={"topology.overlay": {"add_links": [{"a": "metro", "b": "east", "rtt_ms": 1e300,
                                                       "bandwidth_gbps": 10}]}})
    scenario("override_unknown_accelerator", "catalog.overrides", sets={"catalog.overrides": {"tpu": {"tdp_w": 400}}})
    scenario("override_negative_tdp", "catalog.overrides", sets={"catalog.overrides": {"gpu": {"tdp_w": -400}}})
    scenario("override_inf_tdp", "catalog.overrides", sets={"catalog.overrides": {"gpu": {"tdp_w": float("inf")}}})
    scenario("override_huge_tdp", "catalog.overrides", sets={"catalog.overrides": {"gpu": {"tdp_w": 1e300}}})
    scenario("override_not_mapping", "catalog.overrides", sets={"catalog.overrides": {"gpu": 400}})
    scenario("override_unknown_field", "catalog.overrides", sets={"catalog.overrides": {"gpu": {"tdp_kw": 0.4}}})
    scenario("add_accelerator_incomplete", "catalog.add", sets={"catalog.add": [{"id": "xpu"}]})
    scenario("add_accelerator_existing", "catalog.add", sets={"catalog.add": [{"id": "gpu", "name": "G", "vendor": "V",
                                                                               "released": True, "domestic": False,
                                                                               "software_stack": "cuda", "tdp_w": 500}]})
    scenario("path_catalog_missing", "catalog", sets={"catalog.path": "no-such-catalog.yaml"})
    scenario("path_topology_missing", "topology", sets={"topology.path": "no-such-topology.yaml"})
    scenario("path_catalog_binary", "catalog.path", sets={"catalog.path": "../aux/binary.yaml"})
    scenario("path_topology_latin1", "line", sets={"topology.path": "../aux/latin1_topology.yaml"})
    scenario("path_topology_duplicate_sites", "given twice", sets={"topology.path": "../aux/dup_topology.yaml"})
    scenario("path_topology_deep", "line", sets={"topology.path": "../aux/deep.yaml"})
    scenario("path_catalog_directory", "catalog", sets={"catalog.path": "../aux"})


# -- time of use -------------------------------------------------------------------------------------------
def time_mode() -> None:
    scenario("time_profile_missing", "time.demand_profile", base="base_time.yaml",
             sets={"time.demand_profile": "no-such.csv"})
    scenario("time_profile_latin1", "line", base="base_time.yaml", sets={"time.demand_profile": "../aux/latin1.csv"})
    scenario("time_profile_header", "header", base="base_time.yaml", sets={"time.demand_profile": "../aux/bad_header.csv"})
    scenario("time_profile_binary", "time.demand_profile", base="base_time.yaml", sets={"time.demand_profile": "../aux/binary.yaml"})
    scenario("time_step_zero", "time.step_h", base="base_time.yaml", sets={"time.step_h": 0})
    scenario("time_step_off_grid", "step", base="base_time.yaml", sets={"time.step_h": 5})
    scenario("time_month_13", "time.month", base="base_time.yaml", sets={"time.month": 13})
    scenario("time_deadline_before_release", "training_jobs[0]", base="base_time.yaml",
             sets={"training_jobs.0.release_h": 10, "training_jobs.0.deadline_h": 5})
    scenario("time_idle_fraction", "time.idle_power_fraction", base="base_time.yaml",
             sets={"time.idle_power_fraction": 2})
    scenario("time_unknown_origin", "dataset_origin", base="base_time.yaml",
             sets={"training_jobs.0.dataset_origin": "atlantis", "training_jobs.0.dataset_gb": 10})
    scenario("time_dataset_nan", "training_jobs[0].dataset_gb", base="base_time.yaml",
             sets={"training_jobs.0.dataset_origin": "metro", "training_jobs.0.dataset_gb": float("nan")})
    scenario("time_unknown_mode", "time.mode", base="base_time.yaml", sets={"time.mode": "hourly"})


# -- capacity -----------------------------------------------------------------------------------------------
def capacity() -> None:
    cap = ("validate", "plan-capacity")
    scenario("capacity_unknown_system", "capacity.candidates[0].system", base="base_capacity.yaml", commands=cap,
             sets={"capacity.candidates.0.system": "tpu-box"})
    scenario("capacity_unknown_site", "capacity.candidates[0].sites", base="base_capacity.yaml", commands=cap,
             sets={"capacity.candidates.0.sites": ["north"]})
    scenario("capacity_negative_budget", "capacity.budget_cny", base="base_capacity.yaml", commands=cap,
             sets={"capacity.budget_cny": -5})
    scenario("capacity_no_periods", "capacity.periods", base="base_capacity.yaml", commands=cap,
             sets={"capacity.periods": []})
    scenario("capacity_no_candidates", "capacity.candidates", base="base_capacity.yaml", commands=cap,
             sets={"capacity.candidates": []})
    scenario("capacity_negative_supply", "capacity.supply_chips_per_period.npu", base="base_capacity.yaml",
             commands=cap, sets={"capacity.supply_chips_per_period": {"npu": -8}})
    scenario("capacity_interest_rate", "capacity.interest_rate", base="base_capacity.yaml", commands=cap,
             sets={"capacity.interest_rate": 2})
    scenario("capacity_inf_price", "capacity.candidates[0].price_cny", base="base_capacity.yaml", commands=cap,
             sets={"capacity.candidates.0.price_cny": float("inf")})
    scenario("capacity_growth_1e300", "capacity.periods[0].inference_growth", base="base_capacity.yaml",
             commands=cap, sets={"capacity.periods.0.inference_growth": 1e300})
    scenario("capacity_racks_nan", "capacity.space_racks.east", base="base_capacity.yaml", commands=cap,
             sets={"capacity.space_racks": {"east": float("nan")}})


# -- plans ---------------------------------------------------------------------------------------------------
SOLVED: dict[str, Any] = {}


def plans() -> None:
    plan("plan_binary", "line", raw=b"\x89PNG\r\n\x1a\n\x00\x00" + bytes(range(256)))
    plan("plan_latin1", "line 1", raw='{"scenario": "café"}'.encode("latin-1"))
    plan("plan_not_json", "line 1", text="this is not a plan\n")
    plan("plan_truncated", "line", text=json.dumps(SOLVED["spatial"])[:200])
    plan("plan_array", "not a plan", text="[1, 2, 3]\n")
    plan("plan_empty_object", "status", text="{}\n")
    plan("plan_deep", "nesting", text='{"a": ' + "[" * 100_000 + "]" * 100_000 + "}")
    plan("plan_nan_token", "NaN", edit=lambda d: d["objective"].update(total_cny=float("nan")))
    plan("plan_infinity_token", "Infinity", edit=lambda d: d["kpis"].update(energy_mwh=float("inf")))
    plan("plan_huge_number", "objective.total_cny",
         text=json.dumps(SOLVED["spatial"]).replace('"total_cny": ', '"total_cny": 1e400, "x": ', 1))
    plan("plan_missing_status", "status", edit=lambda d: d.pop("status"))
    plan("plan_missing_objective", "objective", edit=lambda d: d.pop("objective"))
    plan("plan_unknown_status", "status", edit=lambda d: d.update(status="maybe"))
    plan("plan_placements_mapping", "placements", edit=lambda d: d.update(placements={}))
    plan("plan_chips_string", "placements[0].chips", edit=lambda d: d["placements"][0].update(chips="many"))
    plan("plan_chips_fraction", "placements[0].chips", edit=lambda d: d["placements"][0].update(chips=2.5))
    plan("plan_chips_bool", "placements[0].chips", edit=lambda d: d["placements"][0].update(chips=True))
    plan("plan_missing_site", "placements[0].site", edit=lambda d: d["placements"][0].pop("site"))
    plan("plan_unknown_site", "placements[0].site", edit=lambda d: d["placements"][0].update(site="north"))
    plan("plan_unknown_accelerator", "placements[0].accelerator",
         edit=lambda d: d["placements"][0].update(accelerator="tpu"))
    plan("plan_unknown_job", "placements[0].workload", edit=lambda d: d["placements"][0].update(workload="ghost"))
    plan("plan_unknown_kind", "placements[0].kind", edit=lambda d: d["placements"][0].update(kind="fine-tune"))
    plan("plan_unknown_service", "routing[0].service", edit=lambda d: d["routing"][0].update(service="ghost"))
    plan("plan_unknown_city", "routing[0].city", edit=lambda d: d["routing"][0].update(city="atlantis"))
    plan("plan_tokens_string", "routing[0].tokens_per_s", edit=lambda d: d["routing"][0].update(tokens_per_s="fast"))
    plan("plan_kpi_string", "kpis.energy_mwh", edit=lambda d: d["kpis"].update(energy_mwh="lots"))
    plan("plan_row_not_mapping", "placements[0]", edit=lambda d: d["placements"].__setitem__(0, [1, 2]))
    plan("plan_unplaced_no_reason", "unplaced[0].reason",
         edit=lambda d: d["unplaced"].append({"workload": "train#1", "kind": "training"}))
    plan("plan_solver_gap_string", "solver.gap", edit=lambda d: d["solver"].update(gap="small"))
    plan("plan_time_unknown_job", "schedule[0].workload", of="time",
         edit=lambda d: d["schedule"][0].update(workload="ghost"))
    plan("plan_time_hourly_nan", "NaN", of="time", edit=lambda d: d["hourly"][0].update(meter_kw=float("nan")))
    plan("plan_time_replicas_fraction", "replicas[0].replicas", of="time",
         edit=lambda d: d["replicas"][0].update(replicas=1.5))
    plan("plan_time_unknown_site", "serving[0].site", of="time", edit=lambda d: d["serving"][0].update(site="north"))
    plan("plan_capacity_units_missing", "purchases[0].units", of="capacity",
         edit=lambda d: d["purchases"][0].pop("units"))
    plan("plan_capacity_units_string", "purchases[0].units", of="capacity",
         edit=lambda d: d["purchases"][0].update(units="x"))
    plan("plan_capacity_units_fraction", "purchases[0].units", of="capacity",
         edit=lambda d: d["purchases"][0].update(units=1.5))
    plan("plan_capacity_purchases_mapping", "purchases", of="capacity", edit=lambda d: d.update(purchases={}))
    plan("plan_capacity_row_not_mapping", "purchases[0]", of="capacity",
         edit=lambda d: d["purchases"].__setitem__(0, "gpu-box"))
    plan("plan_capacity_periods_list", "periods", of="capacity", edit=lambda d: d.update(periods=[]))
    plan("plan_capacity_period_status", "periods.y1.status", of="capacity",
         edit=lambda d: d["periods"]["y1"].pop("status"))
    plan("plan_capacity_unknown_accelerator", "placements[0].accelerator", of="capacity",
         edit=lambda d: d["periods"]["y1"]["placements"][0].update(accelerator="tpu"))


def aux() -> None:
    AUX.mkdir(exist_ok=True)
    (AUX / "binary.yaml").write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)))
    topo = (HERE.parent / "core" / "topology.yaml").read_text()
    (AUX / "latin1_topology.yaml").write_bytes(("# Zhōngwèi\n" + topo).encode("utf-8").replace(
        "ō".encode(), b"\xf6"))
    (AUX / "dup_topology.yaml").write_text(topo + "sites: []\n")
    (AUX / "deep.yaml").write_text("sites: " + "[" * 300 + "]" * 300 + "\n")
    (AUX / "latin1.csv").write_bytes("hour,fraction_of_peak\n0,0.5\n# café\n".encode("latin-1"))
    (AUX / "bad_header.csv").write_text("hr,share\n0,0.5\n")


def solve_bases() -> None:
    from planner.core.solve import solve
    from planner.inputs.scenario import load_scenario
    from planner.studies.capacity import plan_capacity

    SOLVED["spatial"] = solve(load_scenario(HERE / "base.yaml"), time_limit_s=10, workers=1).to_dict()
    SOLVED["time"] = solve(load_scenario(HERE / "base_time.yaml"), time_limit_s=10, workers=1).to_dict()
    SOLVED["capacity"] = plan_capacity(load_scenario(HERE / "base_capacity.yaml"), time_limit_s=10,
                                       workers=1).to_dict()
    SOLVED.update(json.loads(json.dumps(SOLVED)))


def main() -> None:
    for folder in (SCEN, PLANS, AUX):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
    aux()
    solve_bases()
    numbers()
    resources()
    files()
    names()
    overlays()
    time_mode()
    capacity()
    plans()
    (HERE / "expected.yaml").write_text(
        "# Written by make_corpus.py: per bad file, the commands it goes through and a fragment of the error.\n"
        + yaml.safe_dump(expected, sort_keys=True), encoding="utf-8")
    print(f"{len(expected)} bad files: {sum(1 for k in expected if k.startswith('scenarios/'))} scenarios, "
          f"{sum(1 for k in expected if k.startswith('plans/'))} plans")


if __name__ == "__main__":
    main()
