"""The hardware catalog: provenance on every figure, sanity of the numbers, overlays and errors."""

from __future__ import annotations

import math

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

import hardware_catalog
from hardware_catalog import Accelerator, Confidence, Figure
from hardware_catalog.catalog import _resolve_figure
from planner.cli import main
from planner.errors import InputError, UnknownNameError

ACCELERATOR_IDS = [
    "h20", "h800", "h100-sxm", "h200",
    "ascend-910b1", "ascend-910b2", "ascend-910b3", "ascend-910b4", "ascend-910c",
    "ascend-950pr", "ascend-950dt", "ascend-960",
    "mlu370-x8", "mlu590", "kunlunxin-p800", "hygon-k100-ai", "metax-c500", "mtt-s4000",
    "biren-br104", "t-head-ppu",
]
# Integer fields are counts and years; their provenance is the entry's `source`.
COUNT_FIELDS = {"release_year", "chips", "scale_up_domain_chips", "rack_units", "racks", "chips_per_node"}


@pytest.fixture(scope="module")
def cat() -> hardware_catalog.Catalog:
    return hardware_catalog.load()


# -- every entry validates, every number is sourced -------------------------------------------


def test_builtin_catalog_has_the_required_entries(cat):
    assert cat.version == "2026.11"
    assert list(cat.accelerators) == ACCELERATOR_IDS
    for system_id in ("hgx-h20", "atlas-800t-a2", "cloudmatrix-384", "atlas-950-superpod",
                      "cambricon-mlu370-x8-server"):
        assert system_id in cat.systems
    assert set(cat.stacks) == set(hardware_catalog.SOFTWARE_STACKS)


def _walk(obj: BaseModel, path: str):
    """Yield (path, value) for every leaf that is a number outside a Figure."""
    for name, value in obj:
        where = f"{path}.{name}"
        if isinstance(value, Figure):
            yield where, value
        elif isinstance(value, BaseModel):
            yield from _walk(value, where)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            yield where, value


def test_every_numeric_field_has_provenance(cat):
    entries = [*cat.accelerators.values(), *cat.systems.values(), *cat.stacks.values()]
    checked = 0
    for entry in entries:
        for where, value in _walk(entry, getattr(entry, "id", None) or entry.stack):
            if isinstance(value, Figure):
                assert value.source.strip() and value.retrieved, where
                assert isinstance(value.confidence, Confidence), where
                if value.confidence is Confidence.estimate:
                    assert value.method, f"{where}: estimate without method"
                checked += 1
            else:
                assert where.rsplit(".", 1)[1] in COUNT_FIELDS, f"{where}={value} is a bare number"
                assert getattr(entry, "source", None), f"{where}: count without an entry source"
    assert checked > 150
    assert cat.server_overhead_factor.method


def test_export_control_has_rule_and_source(cat):
    for a in cat.accelerators.values():
        assert a.export_control is not None, a.id
        assert a.export_control.rule and a.export_control.source
        assert (a.export_control.status == "domestic") == a.domestic, a.id


# -- sanity of the figures --------------------------------------------------------------------


def test_precision_ladder_and_memory(cat):
    for a in cat.accelerators.values():
        fp8, bf16, tf32 = a.peak_tflops("fp8"), a.peak_tflops("bf16"), a.peak_tflops("tf32")
        if fp8 is not None and bf16 is not None:
            assert fp8 >= bf16, a.id
        if bf16 is not None and tf32 is not None:
            assert bf16 >= tf32, a.id
        assert a.memory_gib is not None and a.memory_gib.value > 0, a.id
        if a.memory_bandwidth_tb_per_s is not None:
            assert a.memory_bandwidth_tb_per_s.value > 0


def test_system_power_covers_its_chips(cat):
    for s in cat.systems.values():
        if s.power_kw is None:
            continue
        for accel_id in (s.accelerator, *s.also_ships_with):
            tdp = cat.accelerator(accel_id).tdp_w
            assert s.power_kw.value >= s.chips * tdp.value / 1000, (s.id, accel_id)


def test_known_values(cat):
    assert cat.accelerator("h100-sxm").tflops_bf16.value == 989
    assert cat.accelerator("h20").memory_bandwidth_tb_per_s.value == 4.0
    assert cat.accelerator("ascend-910c").memory_gib.value == 128
    assert cat.accelerator("ascend-910c").tflops_fp8.value is None  # unsupported, not unknown
    assert cat.accelerator("kunlunxin-p800").tflops_bf16 is None   # not published
    assert cat.accelerator("ascend-960").released is False
    assert cat.accelerator("mlu370-x8").peak_tflops("INT8") == 256
    assert cat.stack_efficiency("cann").training_mfu.value == pytest.approx(0.30)


def test_chip_power_from_reference_system_or_tdp(cat):
    assert cat.chip_power_kw("h20") == pytest.approx(6.5 / 8)
    assert cat.chip_power_kw("ascend-910c") == pytest.approx(559 / 384)
    assert cat.chip_power_kw("ascend-910b1") == pytest.approx(6.0 / 8)  # sibling bin, same server
    assert cat.chip_power_kw("biren-br104") == pytest.approx(0.300 * 1.8)  # no system: tdp x overhead
    with pytest.raises(InputError, match="ascend-960"):
        cat.chip_power_kw("ascend-960")


def test_frame_has_plain_values_and_units(cat):
    df = cat.to_frame()
    assert list(df["id"]) == ACCELERATOR_IDS
    assert {"tdp_w", "memory_gib", "memory_bandwidth_tb_per_s", "chip_power_kw", "tflops_bf16"} <= set(df.columns)
    assert not any(isinstance(v, Figure) for v in df.to_numpy().ravel())
    row = df.set_index("id").loc["ascend-910c"]
    assert row["tflops_bf16"] == 752 and math.isnan(row["tflops_fp8"])


# -- overrides, extras and user catalogs ------------------------------------------------------


def test_plain_number_override_is_recorded():
    cat = hardware_catalog.load(overrides={"h20": {"tdp_w": 350, "unit_price_cny": 95000}})
    tdp = cat.accelerator("h20").tdp_w
    assert tdp.value == 350 and tdp.source == "scenario override" and tdp.confidence is Confidence.estimate
    assert cat.version == "2026.11+overrides"
    assert cat.applied == ("h20.tdp_w", "h20.unit_price_cny")
    assert hardware_catalog.load().accelerator("h20").tdp_w.value == 400  # built-in untouched


def test_figure_override_stack_and_system_overrides():
    measured = {"value": 380, "source": "site meter, Qingyang hall 2", "retrieved": "2026-10-01",
                "confidence": "estimate", "method": "mean board power under training load"}
    cat = hardware_catalog.load(overrides={
        "h20": {"tdp_w": measured},
        "stack_efficiency": {"cann": {"training_mfu": 0.36}},
        "systems": {"hgx-h20": {"power_kw": 6.0}},
        "server_overhead_factor": 1.5,
    })
    assert cat.accelerator("h20").tdp_w.source == "site meter, Qingyang hall 2"
    assert cat.stack_efficiency("cann").training_mfu.value == 0.36
    assert cat.chip_power_kw("h20") == pytest.approx(0.75)
    assert cat.chip_power_kw("biren-br104") == pytest.approx(0.45)


def test_unknown_override_names_suggest_the_fix():
    with pytest.raises(UnknownNameError, match="did you mean 'h20'"):
        hardware_catalog.load(overrides={"h2O": {"tdp_w": 300}})
    with pytest.raises(UnknownNameError, match="did you mean 'tdp_w'"):
        hardware_catalog.load(overrides={"h20": {"tdp_watts": 300}})
    with pytest.raises(UnknownNameError, match="did you mean 'cann'"):
        hardware_catalog.load(overrides={"stack_efficiency": {"can": {"training_mfu": 0.3}}})
    with pytest.raises(InputError, match="overrides.h20.tdp_w"):
        hardware_catalog.load(overrides={"h20": {"tdp_w": {"value": 300}}})
    with pytest.raises(InputError, match="overrides.h20.software_stack.*allowed values"):
        hardware_catalog.load(overrides={"h20": {"software_stack": "cuda12"}})


def test_unknown_accelerator_lookup(cat):
    with pytest.raises(UnknownNameError, match="did you mean 'ascend-910c'") as err:
        cat.accelerator("ascend-910")
    assert isinstance(err.value, InputError)


def test_extra_accelerators():
    extra = [{"id": "mlu690", "name": "Cambricon MLU690", "vendor": "Cambricon", "domestic": True,
              "software_stack": "neuware", "released": False, "tdp_w": 450, "tflops_bf16": 500}]
    cat = hardware_catalog.load(extra=extra)
    assert cat.version == "2026.11+extra"
    assert cat.accelerator("mlu690").tflops_bf16.source == "scenario extra accelerator"
    assert cat.chip_power_kw("mlu690") == pytest.approx(0.45 * 1.8)
    with pytest.raises(InputError, match="use overrides"):
        hardware_catalog.load(extra=[{**extra[0], "id": "h20"}])


MINIMAL = """
accelerators:
  - {id: gpu-a, name: Test A, vendor: Acme, domestic: false, software_stack: cuda, released: true, tdp_w: 400}
  - {id: npu-b, name: Test B, vendor: Acme, domestic: true, software_stack: cann, released: true, tdp_w: 300}
systems:
  - {id: box-b, name: B box, vendor: Acme, accelerator: npu-b, chips: 8, scale_up_domain_chips: 8, power_kw: 4.0}
"""


def test_minimal_user_catalog_loads(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(MINIMAL)
    cat = hardware_catalog.load(path=path)
    assert cat.version == "user:tiny"
    assert list(cat.accelerators) == ["gpu-a", "npu-b"]
    assert cat.accelerator("gpu-a").tflops_bf16 is None and cat.accelerator("gpu-a").peak_tflops("bf16") is None
    assert cat.chip_power_kw("npu-b") == pytest.approx(0.5)
    assert cat.chip_power_kw("gpu-a") == pytest.approx(0.4 * 1.8)
    assert cat.stack_efficiency("cuda").training_mfu.value == pytest.approx(0.35)  # built-in fallback
    assert len(cat.to_frame()) == 2


def test_user_catalog_directory(tmp_path):
    data = yaml.safe_load(MINIMAL)
    (tmp_path / "accelerators.yaml").write_text(yaml.safe_dump({"accelerators": data["accelerators"]}))
    (tmp_path / "systems.yaml").write_text(yaml.safe_dump({"systems": data["systems"]}))
    cat = hardware_catalog.load(path=tmp_path, overrides={"gpu-a": {"tdp_w": 500}})
    assert cat.chip_power_kw("gpu-a") == pytest.approx(0.9)


@pytest.mark.parametrize(("old", "new", "field", "fix"), [
    ("tdp_w: 300}", "tdp_w: four hundred}", "accelerators[1].tdp_w", "fix:"),
    ("software_stack: cann", "software_stack: canm", "accelerators[1].software_stack", "allowed values"),
    ("tdp_w: 300}", "tdp_watts: 300}", "accelerators[1].tdp_watts", "did you mean 'tdp_w'"),
    ("power_kw: 4.0", "power_kw: {value: 4.0, source: x, retrieved: 2026-01-01, confidence: guess}",
     "systems[0].power_kw", "use one of"),
])
def test_invalid_user_catalog_names_file_field_and_fix(tmp_path, old, new, field, fix):
    path = tmp_path / "bad.yaml"
    path.write_text(MINIMAL.replace(old, new))
    with pytest.raises(InputError) as err:
        hardware_catalog.load(path=path)
    assert err.value.file == str(path)
    assert err.value.field.startswith(field), err.value.field
    assert fix in str(err.value)


def test_system_must_name_a_known_accelerator(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(MINIMAL.replace("accelerator: npu-b", "accelerator: npu-c"))
    with pytest.raises(UnknownNameError, match="did you mean 'npu-b'"):
        hardware_catalog.load(path=path)


def test_builtin_data_rejects_bare_numbers():
    with pytest.raises(InputError, match="no provenance"):
        _resolve_figure(400, {}, "accelerators.yaml", "accelerators[0].tdp_w", plain_source=None)


@settings(max_examples=25, deadline=None)
@given(accel_id=st.sampled_from(["biren-br104", "t-head-ppu", "metax-c500", "ascend-950pr"]),
       tdp=st.floats(min_value=50, max_value=2000, allow_nan=False))
def test_tdp_override_sets_fallback_chip_power(accel_id, tdp):
    cat = hardware_catalog.load(overrides={accel_id: {"tdp_w": tdp}})
    assert cat.chip_power_kw(accel_id) == pytest.approx(tdp / 1000 * cat.server_overhead_factor.value)
    assert cat.accelerator(accel_id).tdp_w.source == "scenario override"


@settings(max_examples=25, deadline=None)
@given(precision=st.sampled_from(hardware_catalog.PRECISIONS), accel_id=st.sampled_from(ACCELERATOR_IDS))
def test_peak_tflops_matches_field(precision, accel_id):
    accel: Accelerator = hardware_catalog.load().accelerator(accel_id)
    fig = getattr(accel, f"tflops_{precision}")
    assert accel.peak_tflops(precision) == (None if fig is None else fig.value)


# -- CLI --------------------------------------------------------------------------------------


def test_cli_show_unknown_id_exits_2_with_suggestion():
    result = CliRunner().invoke(main, ["catalog", "show", "h2O"])
    assert result.exit_code == 2
    assert "did you mean 'h20'" in result.stderr


def test_cli_show_prints_sources():
    result = CliRunner().invoke(main, ["catalog", "show", "cloudmatrix-384", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = yaml.safe_load(result.stdout)
    assert data["power_kw"]["value"] == 559 and data["power_kw"]["confidence"] == "press"


def test_cli_list_filters_and_sorts():
    result = CliRunner().invoke(main, ["catalog", "list", "--vendor", "huawei", "--precision", "fp8",
                                       "--sort-by", "tflops_fp8", "--desc", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = yaml.safe_load(result.stdout)
    assert [r["id"] for r in rows] == ["ascend-960", "ascend-950pr", "ascend-950dt"]
    bad = CliRunner().invoke(main, ["catalog", "list", "--sort-by", "tdp"])
    assert bad.exit_code == 2 and "did you mean 'tdp_w'" in bad.stderr
