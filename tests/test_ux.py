"""The everyday experience (issue 15): output that fits, names that can be found, capacity
answers that explain themselves, and names printed as text, never as markup (issue 13)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from rich.console import Console

from conftest import EXAMPLE
from planner.cli import main
from planner.cli.output import format_number, print_frame
from planner.problem.sanity import long_job_warning

ROOT = Path(__file__).resolve().parents[1]
CAPACITY = ROOT / "workloads" / "examples" / "capacity_2027.yaml"
TIME_OF_USE = ROOT / "workloads" / "examples" / "time_of_use_day.yaml"


def run(*args: object, columns: int | None = None):
    env = {"COLUMNS": str(columns)} if columns else {}
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


def _fits(text: str, width: int) -> None:
    """No line wider than the terminal and nothing cut with an ellipsis."""
    wide = [line for line in text.splitlines() if len(line) > width]
    assert wide == [], "\n".join(wide)
    assert "…" not in text.replace("horizon …", "").replace("s) …", "")


# ---- names are text, never markup --------------------------------------------------------------
HOSTILE_IDS = ["train[/]", "[white on white]hidden-job", "[bold red]loud[/bold red]", "x[/i]y"]


def _hostile_scenario(tmp_path: Path) -> Path:
    data = yaml.safe_load(Path(EXAMPLE).read_text())
    data["training_jobs"] = [{"id": jid, "chips": 64, "allowed_accelerators": ["h20", "ascend-910b2"],
                              "duration_h": 12} for jid in HOSTILE_IDS]
    path = tmp_path / "hostile.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_job_ids_that_look_like_rich_markup_print_literally(tmp_path):
    r = run("solve", _hostile_scenario(tmp_path), "--time-limit", "10", columns=120)
    assert r.exit_code == 0, r.output
    for jid in HOSTILE_IDS:
        assert jid in r.output, jid


def test_print_frame_titles_cells_and_stacked_rows_are_literal():
    buf = io.StringIO()
    console = Console(file=buf, width=60, color_system=None)
    df = pd.DataFrame({"workload": ["[white on white]hidden-job", "train[/]"], "site": ["[red]x", "y"],
                       **{f"column_{i}_cny": [1.0, 2.0] for i in range(12)}})
    print_frame(df, title="[bold]title[/]", console=console)  # too wide for 60 columns: stacked
    text = buf.getvalue()
    assert "[white on white]hidden-job" in text and "train[/]" in text and "[bold]title[/]" in text
    assert "[red]x" in text


def test_warnings_and_messages_with_names_are_literal(tmp_path):
    data = yaml.safe_load(Path(EXAMPLE).read_text())
    data["training_jobs"] = [{"id": "[white on white]long", "chips": 64, "allowed_accelerators": ["h20"],
                              "duration_h": 500}]
    path = tmp_path / "long.yaml"
    path.write_text(yaml.safe_dump(data))
    r = run("solve", path, "--time-limit", "10", columns=200)
    assert r.exit_code == 0, r.output
    assert "job '[white on white]long' runs 500 h" in r.output


# ---- tables that fit ---------------------------------------------------------------------------
@pytest.mark.parametrize("args", [
    ("topology", "show"), ("topology", "rtt"), ("topology", "checks"), ("catalog", "list"), ("catalog", "systems"),
    ("estimate", "--model", "deepseek-v3", "--all-accelerators"),
])
def test_tables_fit_80_columns_without_cutting(args):
    r = run(*args, columns=80)
    assert r.exit_code == 0, r.output
    _fits(r.output, 80)


def test_solve_output_fits_80_columns_and_keeps_every_id():
    r = run("solve", EXAMPLE, "--time-limit", "10", columns=80)
    assert r.exit_code == 0, r.output
    _fits(r.output, 80)
    plan = json.loads(run("solve", EXAMPLE, "--format", "json", "--time-limit", "10").stdout)
    for row in plan["placements"]:
        assert row["workload"] in r.output and row["accelerator"] in r.output
    assert "ascend-910b2" in r.output and "ascend-910c" in r.output  # never both shown as "ascend-9…"
    # totals state their time basis
    assert "objective (per 168 h)" in r.output and "energy (per 168 h)" in r.output


def test_one_format_per_unit():
    assert format_number("capex_cny", 166_400_000.0) == "166,400,000"
    assert format_number("power_cost_cny", 1234.4) == "1,234"
    assert format_number("cny_per_mtokens", 0.41253) == "0.413"
    assert format_number("energy_mwh", 411.26) == "411.3"
    assert format_number("rtt_ms", 2.04) == "2.0"
    assert format_number("power_cap_mw", 12.0) == "12.00"
    assert format_number("tokens_per_s", 60000.0) == "60,000"
    assert format_number("chips", 1024) == "1,024"
    assert format_number("chip_utilisation", 0.929) == "92.9 %"
    assert format_number("anything", float("nan")) == "–"


def test_too_wide_tables_drop_low_priority_columns_and_say_so():
    buf = io.StringIO()
    console = Console(file=buf, width=50, color_system=None)
    df = pd.DataFrame({"workload": ["pretrain-moe-stage2"], "site": ["zhangjiakou"], "chips": [1024],
                       "energy_mwh": [12.5], "power_cost_cny": [12345.0]})
    print_frame(df, console=console, keep=["workload", "site"], drop_first=["energy_mwh"])
    text = buf.getvalue()
    assert "pretrain-moe-stage2" in text and "zhangjiakou" in text and "12,345" in text
    assert "left out at 50 columns: energy_mwh" in text
    _fits(text, 50)


# ---- capacity answers that explain themselves --------------------------------------------------
UNSERVED = """
name: cap-unserved
horizon_h: 168
sites:
  zhangjiakou: {power_cap_mw: 40, inventory: {h20: 256}}
inference_services:
  - id: chat
    demand_tokens_per_s: {beijing: 100000}
    rtt_slo_ms: 10
    allowed_accelerators: [h20, ascend-910c]
    tokens_per_s_per_chip: {h20: 299, ascend-910c: 898}
    chips_per_replica: {h20: 16, ascend-910c: 16}
capacity:
  candidates:
    - {system: cloudmatrix-384}
solver: {time_limit_s: 20, workers: 2}
"""


def test_capacity_explains_unserved_demand_and_the_threshold_predicts_buying(tmp_path):
    """256 H20 serve 256 × 299 = 76,544 of 100,000 tokens/s; the rest (23,456 tokens/s) needs two
    16-chip 910C replicas, which come only in a 384-chip CloudMatrix. At the default penalty of 8
    CNY per million tokens the plan buys nothing and says what serving would cost; with the
    penalty set above that figure it buys one, and below it, none."""
    from planner.inputs.scenario import load_scenario
    from planner.studies.capacity import plan_capacity
    from planner.studies.explain import explain_capacity

    path = tmp_path / "unserved.yaml"
    path.write_text(UNSERVED)
    r = run("plan-capacity", path, columns=100)
    assert r.exit_code == 0, r.output
    assert "23,456 tokens/s of chat unserved" in r.output
    assert "unserved penalty is 8 (default: the DeepSeek-V3 API output price" in r.output
    assert "objective.unserved_inference_cny_per_mtokens" in r.output
    assert "cheapest answer" not in r.output

    scenario = load_scenario(path)
    result = plan_capacity(scenario)
    (line,) = explain_capacity(scenario, result)
    threshold = float(line.split("costs at least ")[1].split(" CNY")[0])
    assert threshold > 8
    for penalty, bought in ((threshold * 1.25, 1), (threshold * 0.8, 0)):
        s = load_scenario(path, overrides={"objective.unserved_inference_cny_per_mtokens": penalty})
        assert int(plan_capacity(s).purchases.units.sum()) == bought, penalty


def test_capacity_figures_are_labelled_per_period_and_total():
    r = run("plan-capacity", CAPACITY, "--time-limit", "3", columns=200)
    assert r.exit_code == 0, r.output
    assert "annualised capex, CNY per year" in r.output and "capex paid in the period, CNY" in r.output
    assert "total over 2 period(s), the sum of each period's yearly cost" in r.output
    assert "each period is one 168 h window scaled to a year" in r.output


def test_solve_on_a_capacity_scenario_says_the_section_is_ignored():
    r = run("solve", CAPACITY, "--time-limit", "5", columns=200)
    assert r.exit_code == 0, r.output
    assert "ignores it" in r.output and "plan-capacity" in r.output


# ---- sanity warnings ---------------------------------------------------------------------------
def test_power_cap_above_the_envelope_and_inventory_above_the_cap_are_warned():
    r = run("validate", EXAMPLE, "--set", "sites.guian.power_cap_mw=5000")  # 5 GW: within the schema bound
    assert r.exit_code == 0
    assert "sites.guian.power_cap_mw is 5,000 MW, above the topology's 130 MW power envelope" in r.output
    r = run("validate", EXAMPLE, "--set", "sites.guian.power_cap_mw=1")
    assert "sites.guian: the inventory draws up to" in r.output and "above its 1 MW cap" in r.output
    r = run("validate", EXAMPLE, "--set", "sites.guian.power_cap_mw=0.001")  # a small cap keeps its figures
    assert "above its 0.001 MW cap" in r.output and "0.00 MW" not in r.output


def test_a_job_longer_than_the_horizon_is_warned_the_same_way_by_every_command(tmp_path):
    data = yaml.safe_load(Path(EXAMPLE).read_text())
    data["training_jobs"] = [{"id": "marathon", "chips": 64, "allowed_accelerators": ["h20"], "duration_h": 1200}]
    path = tmp_path / "long.yaml"
    path.write_text(yaml.safe_dump(data))
    expected = long_job_warning("marathon", {"h20": 1200.0}, 168.0)
    assert expected.startswith("job 'marathon' runs 1,200 h on its fastest allowed accelerator, longer than the "
                               "168 h horizon: every plan bills the 168 h it runs inside the horizon (14 % of its run")
    for cmd in (("validate", path), ("solve", path, "--time-limit", "5"),
                ("solve", path, "--model", "time", "--time-limit", "3")):
        r = run(*cmd, columns=300)
        assert expected in " ".join(r.output.split()), r.output  # wrapped to the terminal


# ---- names that can be found -------------------------------------------------------------------
def test_init_writes_a_starter_that_validates_and_solves(tmp_path):
    path = tmp_path / "mine.yaml"
    r = run("init", "-o", path)
    assert r.exit_code == 0 and path.exists()
    assert "planner validate mine.yaml" in path.read_text()
    assert run("validate", path).exit_code == 0
    solved = run("solve", path, "--quiet")
    assert solved.exit_code == 0, solved.output
    assert run("init", "-o", path).exit_code == 2  # never overwrites without --force


def test_schema_lists_the_builtin_ids_and_still_accepts_the_examples():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(run("schema").output)
    ids = {k: schema["$defs"][f"{k}_id"]["anyOf"][0]["enum"] for k in ("site", "city", "accelerator", "model",
                                                                        "system")}
    assert "yrd" in ids["site"] and "shanghai" in ids["city"] and "ascend-910c" in ids["accelerator"]
    assert "deepseek-v3" in ids["model"] and "cloudmatrix-384" in ids["system"]
    assert schema["properties"]["sites"]["propertyNames"] == {"$ref": "#/$defs/site_id"}
    assert schema["$defs"]["SitePlan"]["properties"]["inventory"]["propertyNames"] == {"$ref": "#/$defs/accelerator_id"}
    for example in (EXAMPLE, CAPACITY, TIME_OF_USE):
        jsonschema.validate(_yaml12(yaml.safe_load(Path(example).read_text())), schema)


def _yaml12(node):
    """PyYAML reads YAML 1.1, where ``1.5e9`` (no sign) is a string; editors read YAML 1.2, where it
    is a number (and pydantic accepts both)."""
    if isinstance(node, dict):
        return {k: _yaml12(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_yaml12(v) for v in node]
    if isinstance(node, str):
        try:
            return float(node) if "e" in node.lower() and node[0].isdigit() else node
        except ValueError:
            return node
    return node


@pytest.mark.parametrize("override, expected", [
    ("sites.shanghai={inventory: {h20: 8}}", "shanghai is a demand city; sites within 5 ms: yrd (2.0 ms)"),
    ("sites.guian={inventory: {cloudmatrix-384: 8}}", "cloudmatrix-384 is a system (384 × ascend-910c)"),
    ("inference_services.chat-east.demand_tokens_per_s={shaoguan: 100}",
     "shaoguan is a site, not a demand city; cities nearest it: guangzhou"),
])
def test_did_you_mean_knows_the_kind_of_a_name(override, expected):
    r = run("validate", EXAMPLE, "--set", override)
    assert r.exit_code == 2
    assert expected in r.output and "shaoguan'?" not in r.output


def test_topology_near_lists_the_sites_that_can_serve_a_city():
    r = run("topology", "near", "shanghai", "--slo", "20", "--format", "csv")
    assert r.exit_code == 0
    rows = list(pd.read_csv(io.StringIO(r.output)).itertuples())
    assert [x.site for x in rows] == ["yrd", "wuhu", "shaoguan"]
    assert all(x.rtt_ms <= 20 for x in rows) and rows[0].rtt_ms == pytest.approx(2.0, abs=0.05)
    assert "nearest is yrd" in run("topology", "near", "shanghai", "--slo", "1").output
    assert "is a site, not a demand city" in run("topology", "near", "guian").output


def test_topology_checks_has_a_summary_and_shows_what_fails():
    r = run("topology", "checks", columns=100)
    assert r.exit_code == 0
    first = r.output.splitlines()[0]
    assert " latency checks hold; the " in first
    held, total = (int(x) for x in first.split(" latency")[0].split(" of "))
    assert 0 < held < total
    flat = " ".join(r.output.split())
    assert f"the {total - held} that fail are listed below" in flat and "A check that fails means" in flat


# ---- misleading messages -----------------------------------------------------------------------
def test_verify_says_the_plan_belongs_to_another_scenario(tmp_path):
    plan = tmp_path / "plan.json"
    assert run("solve", EXAMPLE, "-o", plan, "--quiet").exit_code == 0
    assert json.loads(plan.read_text())["meta"]["scenario_fingerprint"]
    r = run("verify", CAPACITY, plan)
    assert r.exit_code == 2
    assert "belongs to scenario 'east-west-small', not to" in r.output and "did you mean" not in r.output
    swapped = run("verify", plan, EXAMPLE)
    assert swapped.exit_code == 2 and "the arguments are swapped" in swapped.output
    assert "Input should be" not in swapped.output


# ---- reports -----------------------------------------------------------------------------------
def test_capacity_report_contains_the_purchase_table(tmp_path):
    plan, html = tmp_path / "cap.json", tmp_path / "cap.html"
    r = run("plan-capacity", CAPACITY, "--time-limit", "10", "-o", plan, "--quiet")
    assert r.exit_code == 0, r.output
    data = json.loads(plan.read_text())
    assert data["purchases"], "the example buys systems"
    assert run("report", plan, "-o", html).exit_code == 0
    text = html.read_text()
    assert "Capacity: what to buy" in text and "added power mw" not in text
    for col in ("system", "units", "chips", "added_power_mw", "capex_cny", "annualised_cny_per_year"):
        assert f"<th>{col}</th>" in text
    for row in data["purchases"]:
        assert f"<td>{row['system']}</td>" in text
    assert "Binding purchase limits" in text and "Capex and opex per period" in text
    assert "the sum of each period's yearly cost" in text


def test_time_of_use_report_shows_bands_hourly_power_and_transfers(tmp_path):
    from planner.core.timemodel import solve_time
    from planner.inputs.scenario import load_scenario
    from planner.viz.report import render_report

    from planner.viz.plots.hourly import plot_hourly_power

    result = solve_time(load_scenario(TIME_OF_USE), time_limit_s=20)
    text = render_report(result)
    assert "Power cost per tariff band" in text and "Dataset transfers" in text
    assert "Power per site, hour by hour" in text and "tariff bands)" in text
    # the stack adds up to the plan's own hourly meter power, hour by hour
    fig = plot_hourly_power(result)
    stacked = [t for t in fig.data if t.stackgroup == "power"]
    assert {t.name for t in stacked} == set(result.hourly.site)
    total = result.hourly.groupby("hour").meter_kw.sum() / 1000
    for i, hour in enumerate(total.index):
        assert sum(t.y[i] for t in stacked) == pytest.approx(total[hour])
    assert any(shape.name and shape.name.startswith("band ") for shape in fig.layout.shapes)


def test_static_images_of_every_plot_need_no_browser():
    pytest.importorskip("matplotlib")
    from planner.core.solve import solve
    from planner.inputs.scenario import load_scenario
    from planner.viz.plots import plot_cost, plot_gantt, plot_latency, plot_map, plot_utilisation
    from planner.viz.static import to_image

    result = solve(load_scenario(EXAMPLE), time_limit_s=10)
    for plot in (plot_map, plot_cost, plot_utilisation, plot_latency, plot_gantt):
        png = to_image(plot(result))
        assert png.startswith(b"\x89PNG") and len(png) > 10_000
    assert to_image(plot_map(result), fmt="svg").lstrip().startswith(b"<?xml")
    # names from a file are drawn as text: tags, entities and mathtext dollars included
    from plan_fixtures import hostile

    bad = hostile()
    bad.placements["workload"] = bad.placements["workload"] + " $x^{2$ \\"
    for plot in (plot_map, plot_cost, plot_gantt):
        assert to_image(plot(bad)).startswith(b"\x89PNG")


# ---- startup -----------------------------------------------------------------------------------
def test_help_lists_every_command_without_importing_them():
    code = ("import sys\nfrom planner.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('pandas', 'ortools', 'plotly', 'networkx', 'planner.cli.commands.solve') "
            "if m in sys.modules]\nprint('HEAVY', heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert "HEAVY []" in out.stdout, out.stdout + out.stderr
    for name in ("solve", "plan-capacity", "init", "topology", "verify", "schema", "report", "compare"):
        assert f"  {name} " in out.stdout


# ---- the scenarios written from `planner init` and the README ---------------------------------
def test_southwest_examples_validate_solve_and_verify(tmp_path):
    """southwest_week: Chengdu and Chongqing chat within 6 ms (tianfu 1.2 ms, chongqing 5.3 and
    1.3 ms; guian at 9.8 ms is out), training at Gui'an. southwest_growth: the same region's chat
    grows 3x by 2027; within 6 ms only Tianfu and Chongqing may serve it, so purchases go there."""
    week = ROOT / "workloads" / "examples" / "southwest_week.yaml"
    growth = ROOT / "workloads" / "examples" / "southwest_growth.yaml"
    plan = tmp_path / "plan.json"
    assert run("validate", week).exit_code == 0 and run("validate", growth).exit_code == 0
    r = run("solve", week, "-o", plan, "--quiet")
    assert r.exit_code == 0, r.output
    data = json.loads(plan.read_text())
    assert data["status"] == "optimal" and data["unplaced"] == []
    assert {row["site"] for row in data["routing"]} <= {"tianfu", "chongqing"}
    assert {row["site"] for row in data["placements"] if row["kind"] == "training"} == {"guian"}
    assert run("verify", week, plan).exit_code == 0
    cap = tmp_path / "cap.json"
    r = run("plan-capacity", growth, "-o", cap, "--quiet")
    assert r.exit_code == 0, r.output
    bought = json.loads(cap.read_text())["purchases"]
    assert bought and {row["site"] for row in bought} <= {"tianfu", "chongqing"}
    assert run("verify", growth, cap).exit_code == 0


def test_a_misspelt_accelerator_in_a_job_names_both_spellings(tmp_path):
    text = Path(EXAMPLE).read_text().replace("allowed_accelerators: [ascend-910c, h20]",
                                             "allowed_accelerators: [ascend-910x, h20]", 1)
    path = tmp_path / "misspelt.yaml"
    path.write_text(text)
    r = run("validate", path)
    assert r.exit_code == 2
    assert "allowed_accelerators names ['ascend-910x']" in r.output and "it has ['ascend-910c'] instead" in r.output


def test_does_not_fit_never_suggests_the_precision_already_used():
    from workloads.models import smaller_fix

    assert "fp8" not in smaller_fix("fp8", "a shorter context", "more memory")
    assert "int8" not in smaller_fix("int8", "a shorter context", "more memory")
    assert smaller_fix("bf16", "a shorter context") == "try a lower precision (fp8 or int8) or a shorter context"


def test_validate_states_the_defaults_in_force_with_their_sources():
    r = run("validate", CAPACITY, columns=300)
    assert r.exit_code == 0
    assert "objective.unserved_inference_cny_per_mtokens = 8 (the DeepSeek-V3 API output price, Feb 2025" in r.output
    assert "objective.unplaced_training_cny_per_chip_hour = 17 (a China GPU rental" in r.output
    assert "latency_cny_per_mtokens_ms" not in r.output  # the example sets it


def test_no_command_hands_rich_a_formatted_string_as_markup():
    """Every message built from names goes through say()/warn()/print_frame(), which print text,
    never markup; a ``console.print(f"...")`` would read ``[...]`` in a name as a style."""
    import ast

    offenders = []
    for path in sorted((ROOT / "planner" / "cli").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "print"
                    and node.args and isinstance(node.args[0], ast.JoinedStr)):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_the_capacity_plan_file_carries_its_explanation_and_still_verifies(tmp_path):
    path, plan, html = tmp_path / "unserved.yaml", tmp_path / "cap.json", tmp_path / "cap.html"
    path.write_text(UNSERVED)
    assert run("plan-capacity", path, "-o", plan, "--quiet").exit_code == 0
    data = json.loads(plan.read_text())
    assert data["explanation"]["binding_limits"] == ""
    (why,) = data["explanation"]["why"]
    assert "tokens/s of chat unserved" in why and why in data["warnings"]
    assert run("verify", path, plan).exit_code == 0
    assert run("report", plan, "-o", html).exit_code == 0
    assert "Why demand is left unserved" in html.read_text()
