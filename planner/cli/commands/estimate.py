"""``planner estimate``: throughput, chips and energy for a model on the catalog's accelerators."""

from __future__ import annotations

import click
import pandas as pd

from planner.cli.output import FORMATS, print_frame, say
from planner.errors import InputError, UnknownNameError

MEANING = ("output_tokens_per_s_per_chip = output tokens per second per chip, end to end (prefill chips "
           "included): the figure a scenario's tokens_per_s_per_chip and the solver mean")


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
              help="decode replica size (default: the size with the most output tokens/s per chip)")
@click.option("--prefill-chips-per-replica", default=None, type=int,
              help="prefill replica size (default: the fewest chips that hold the model)")
@click.option("--prefix-cache-hit-rate", default=0.0, show_default=True, type=float,
              help="share of input tokens served from a prefix cache")
@click.option("--price-cny-per-kwh", default=None, type=float, help="adds CNY per million output tokens")
@click.option("--pue", default=1.0, show_default=True, type=float)
@click.option("--basis", type=click.Choice(["auto", "model", "uncalibrated"]), default="auto", show_default=True,
              help="auto: calibrated model, a published measurement where its configuration matches; "
                   "model: the calibrated model alone; uncalibrated: the catalog's efficiencies")
@click.option("--calibration", "show_calibration", is_flag=True,
              help="print the model's error against every published measurement (in-sample, leave-one-out, "
                   "held-out) and chip ratios")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
def command(model_id, accel_id, all_accelerators, precision, tpot_ms, ttft_ms, input_tokens, output_tokens,
            chips_per_replica, prefill_chips_per_replica, prefix_cache_hit_rate, price_cny_per_kwh, pue, basis,
            show_calibration, fmt) -> None:
    """Estimate serving throughput (output tokens/s per chip), chips per replica and energy per token."""
    from workloads.calibration import calibrate, catalog_hardware, compare_accelerators
    from workloads.models import get_model

    if show_calibration:
        _print_calibration(fmt)
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
    frame: pd.DataFrame = compare_accelerators(
        model, hardware, calibrate(), precision=precision, price_cny_per_kwh=price_cny_per_kwh, pue=pue,
        basis=basis, unavailable=unavailable, tpot_ms=tpot_ms, ttft_ms=ttft_ms, input_tokens=input_tokens,
        output_tokens=output_tokens, chips_per_replica=chips_per_replica,
        prefill_chips_per_replica=prefill_chips_per_replica, prefix_cache_hit_rate=prefix_cache_hit_rate)
    title = f"{model.name} at {precision}, TPOT {tpot_ms:g} ms, {input_tokens} in / {output_tokens} out"
    if fmt == "table" and len(frame) == 1:  # one accelerator: figures down the page
        row = frame.iloc[0]
        frame = pd.DataFrame({"figure": list(row.index), "value": [_show(v) for v in row]})
    elif fmt == "table":
        frame = frame[[c for c in TABLE_COLUMNS if c in frame.columns]]
    print_frame(frame, fmt, title=title)
    if fmt == "table":
        say(MEANING)


TABLE_COLUMNS = ("accelerator", "output_tokens_per_s_per_chip", "input_tokens_per_s_per_chip", "basis",
                 "chips_per_replica", "prefill_chip_share", "batch_size", "decode_tokens_per_s_per_chip",
                 "prefill_tokens_per_s_per_chip", "roofline_output_tokens_per_s_per_chip", "power_kw_per_chip",
                 "cny_per_moutput_tokens", "notes")


def _print_calibration(fmt: str) -> None:
    from workloads.calibration import chip_ratios, error_report, error_summary, factor_table

    report = error_report()
    cols = ["id", "set", "hardware", "model", "precision", "phase", "chips", "tpot_ms", "measured", "uncalibrated",
            "roofline", "factor", "estimate", "error_pct", "loo_estimate", "loo_error_pct", "status"]
    print_frame(report[[c for c in cols if c in report.columns]], fmt,
                title="Calibrated step-time model vs published measurements (never a measurement in place of the "
                      "model; held-out rows never fitted)")
    if fmt != "table":
        return
    summary = error_summary(report).set_index("phase").T
    summary = summary.reset_index().rename(columns={"index": "figure"})
    print_frame(summary.map(_show), fmt, title="Absolute % error: in-sample and leave-one-out on calibration rows, "
                                               "held-out rows against the full fit")
    print_frame(chip_ratios(report), fmt, title="Ratios between chips measured on the same phase and model")
    print_frame(factor_table(), fmt, title="Fitted efficiency factors (x the stack's catalog compute efficiency)")


def _show(value: object) -> str:
    if isinstance(value, float) and value != value:  # NaN: no such figure
        return "–"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    return "–" if value is None else str(value)
