"""``planner estimate``: chips, throughput and energy for a model on the catalog's accelerators."""

from __future__ import annotations

import click
import pandas as pd

from planner.cli.output import FORMATS, print_frame
from planner.errors import InputError, UnknownNameError


@click.command("estimate")
@click.option("--model", "model_id", help="model id, e.g. deepseek-v3")
@click.option("--accelerator", "accel_id", help="accelerator id from the hardware catalog, e.g. ascend-910c")
@click.option("--all-accelerators", is_flag=True, help="compare every accelerator in the catalog")
@click.option("--precision", default="bf16", show_default=True, help="fp32, bf16, fp16, fp8 or int8")
@click.option("--tpot-ms", default=50.0, show_default=True, type=float, help="time-per-output-token SLO")
@click.option("--ttft-ms", default=None, type=float, help="time-to-first-token SLO (reported, not enforced)")
@click.option("--input-tokens", default=2048, show_default=True, type=int)
@click.option("--output-tokens", default=512, show_default=True, type=int)
@click.option("--chips-per-replica", default=None, type=int,
              help="replica size (default: the fewest chips that hold weights and one context)")
@click.option("--price-cny-per-kwh", default=None, type=float, help="adds CNY per million tokens")
@click.option("--pue", default=1.0, show_default=True, type=float)
@click.option("--roofline", is_flag=True, help="uncalibrated roofline figures (no fitted factors or overrides)")
@click.option("--calibration", "show_calibration", is_flag=True,
              help="print the estimator's error against every published measurement")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
def command(model_id, accel_id, all_accelerators, precision, tpot_ms, ttft_ms, input_tokens, output_tokens,
            chips_per_replica, price_cny_per_kwh, pue, roofline, show_calibration, fmt) -> None:
    """Estimate serving throughput, chips per replica and energy per token."""
    from workloads.calibration import (
        calibrate,
        catalog_hardware,
        compare_accelerators,
        error_report,
        error_summary,
    )
    from workloads.models import get_model

    if show_calibration:
        report = error_report()
        cols = ["id", "set", "hardware", "model", "precision", "metric", "measured", "roofline", "factor",
                "estimate", "error_pct", "loo_abs_error_pct", "status"]
        print_frame(report[cols], fmt, title="Estimator vs published measurements")
        if fmt == "table":
            print_frame(error_summary(report), fmt, title="Absolute % error")
        return
    if not model_id:
        raise InputError("no model given", field="--model", fix="pass --model, e.g. --model deepseek-v3")
    if not accel_id and not all_accelerators:
        raise InputError("no accelerator given", field="--accelerator",
                         fix="pass --accelerator ascend-910c or --all-accelerators")
    model = get_model(model_id)
    unavailable: dict[str, str] = {}
    hardware = catalog_hardware(unavailable=unavailable)
    if accel_id:
        if accel_id in unavailable:
            raise InputError(unavailable[accel_id], field="--accelerator",
                             fix="add the missing figure to the catalog or pick another accelerator")
        if accel_id not in hardware:
            raise UnknownNameError("accelerator", accel_id, hardware, field="--accelerator")
        hardware, unavailable = {accel_id: hardware[accel_id]}, {}
    cal = None if roofline else calibrate()
    frame: pd.DataFrame = compare_accelerators(
        model, hardware, cal, precision=precision, price_cny_per_kwh=price_cny_per_kwh, pue=pue,
        unavailable=unavailable, tpot_ms=tpot_ms, ttft_ms=ttft_ms, input_tokens=input_tokens,
        output_tokens=output_tokens, chips_per_replica=chips_per_replica)
    title = f"{model.name} at {precision}, TPOT {tpot_ms:g} ms"
    if fmt == "table" and len(frame) == 1:  # one accelerator: figures down the page
        row = frame.iloc[0]
        frame = pd.DataFrame({"figure": list(row.index), "value": [_show(v) for v in row]})
    elif fmt == "table":
        frame = frame[[c for c in TABLE_COLUMNS if c in frame.columns]]
    print_frame(frame, fmt, title=title)


TABLE_COLUMNS = ("accelerator", "chips_per_replica", "batch_size", "decode_tokens_per_s_per_chip",
                 "prefill_tokens_per_s_per_chip", "tokens_per_s_per_chip", "power_kw_per_chip", "tokens_per_kwh",
                 "cny_per_mtokens", "basis", "notes")


def _show(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    return "–" if value is None else str(value)
