"""The ``planner estimate`` command."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from planner.cli import main


def _catalog_ready() -> bool:
    try:
        import hardware_catalog
        return hasattr(hardware_catalog, "load")
    except ImportError:
        return False


def test_unknown_model_exits_2_with_a_suggestion():
    result = CliRunner().invoke(main, ["estimate", "--model", "deepseek-v4", "--all-accelerators"])
    assert result.exit_code == 2
    assert "did you mean 'deepseek-v3'" in result.output


def test_missing_accelerator_says_what_to_pass():
    result = CliRunner().invoke(main, ["estimate", "--model", "deepseek-v3"])
    assert result.exit_code == 2 and "--all-accelerators" in result.output


@pytest.mark.skipif(not _catalog_ready(), reason="hardware_catalog.load is not available yet")
def test_all_accelerators_csv():
    result = CliRunner().invoke(main, ["estimate", "--model", "qwen3-32b", "--all-accelerators",
                                       "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].startswith("accelerator,")


@pytest.mark.skipif(not _catalog_ready(), reason="hardware_catalog.load is not available yet")
def test_calibration_report_prints():
    result = CliRunner().invoke(main, ["estimate", "--calibration", "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert "deepseek-prod-h800-decode" in result.output
    header = result.output.splitlines()[0].split(",")
    assert {"error_pct", "loo_error_pct", "set"} <= set(header)


def test_calibration_table_shows_leave_one_out_held_out_and_ratios():
    result = CliRunner(env={"COLUMNS": "250"}).invoke(main, ["estimate", "--calibration"])
    assert result.exit_code == 0, result.output
    for text in ("leave-one-out", "held-out", "Ratios between chips", "loo_median_abs_error_pct"):
        assert text in result.output


def _json(args: list[str]) -> list[dict]:
    result = CliRunner().invoke(main, ["estimate", *args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_output_tokens_per_chip_comes_first_and_input_is_labelled_apart():
    """output = input x output_tokens / input_tokens; CNY per million output tokens follows from the
    output figure: 1e6 / (output/s x 3600 / kW) x PUE x price."""
    row, = _json(["--model", "qwen3-32b", "--accelerator", "h20", "--input-tokens", "2048",
                  "--output-tokens", "512", "--price-cny-per-kwh", "0.5", "--pue", "1.2"])
    assert list(row)[:3] == ["accelerator", "output_tokens_per_s_per_chip", "input_tokens_per_s_per_chip"]
    assert "tokens_per_s_per_chip" not in row and "cny_per_mtokens" not in row
    assert row["input_tokens_per_s_per_chip"] == pytest.approx(row["output_tokens_per_s_per_chip"] * 4)
    assert row["cny_per_moutput_tokens"] == pytest.approx(
        1e6 / (row["output_tokens_per_s_per_chip"] * 3600 / row["power_kw_per_chip"]) * 1.2 * 0.5)
    table = CliRunner().invoke(main, ["estimate", "--model", "qwen3-32b", "--accelerator", "h20"]).output
    assert table.index("output_tokens_per_s_per_chip") < table.index("input_tokens_per_s_per_chip")
    assert "end to end (prefill chips included)" in table


def test_basis_model_never_returns_a_measurement():
    args = ["--model", "deepseek-r1", "--accelerator", "ascend-910c", "--precision", "int8",
            "--chips-per-replica", "160", "--input-tokens", "4096", "--output-tokens", "256"]
    auto, = _json(args)
    model, = _json([*args, "--basis", "model"])
    assert auto["basis"].startswith("measured:cloudmatrix-910c-decode-50ms")
    assert auto["decode_tokens_per_s_per_chip"] == 1943
    assert model["basis"] == "calibrated" and model["decode_tokens_per_s_per_chip"] != 1943


def test_mlu590_can_be_estimated():
    row, = _json(["--model", "qwen3-32b", "--accelerator", "mlu590", "--precision", "int8"])
    assert row["output_tokens_per_s_per_chip"] > 0
