"""The ``planner estimate`` command."""

from __future__ import annotations

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
