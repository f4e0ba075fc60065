"""The roofline estimator: hand-computed cases, invariants and memory-fit edges."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from planner.errors import InputError
from workloads.calibration import catalog_hardware, compare_accelerators
from workloads.estimator import (HardwareSpec, cny_per_moutput_tokens, estimate_inference, estimate_training,
                                 min_chips_per_replica, serving_peak)
from workloads.steptime import Efficiency, comm_s_per_token, layout
from workloads.models import load_models

MODELS = load_models()

# H20 spec-sheet figures (148 TFLOPS BF16, 296 FP8, 96 GiB, 4.0 TB/s, NVLink 450 GB/s each way) with
# compute efficiency 1.0 so the hand arithmetic below is bare; memory bandwidth runs at the default 0.8 of
# peak (estimator_defaults.yaml), i.e. 3.2 TB/s, links at 0.8, and each decode step pays the default 2 ms.
H20 = HardwareSpec(id="h20", peak_tflops={"bf16": 148.0, "fp16": 148.0, "fp8": 296.0, "int8": 296.0},
                   memory_gib=96.0, memory_bandwidth_tb_per_s=4.0, chip_power_kw=0.5, tdp_w=400.0,
                   scale_up_domain_chips=8, training_mfu=0.4, inference_efficiency=1.0, software_stack="cuda",
                   scale_up_gb_per_s=450.0)
H800 = HardwareSpec(id="h800", peak_tflops={"bf16": 989.0, "fp8": 1979.0}, memory_gib=80.0,
                    memory_bandwidth_tb_per_s=3.35, chip_power_kw=1.2, tdp_w=700.0, scale_up_domain_chips=8,
                    training_mfu=0.4, inference_efficiency=0.5, software_stack="cuda", scale_up_gb_per_s=200.0)


def test_dense_model_on_one_h20_is_capacity_bound():
    """Qwen3-32B, bf16, one H20, 1024 in / 1024 out, TPOT 50 ms. One chip: no communication.

    weights W = 32.8e9 x 2 B = 65.6e9 B; KV = 2 x 64 layers x 8 heads x 128 x 2 B = 262,144 B/token
    usable memory = 96 GiB x 0.9 = 92,771,293,593.6 B
    batch cap = floor((92.771e9 - 65.6e9) / (2048 tokens x 262,144 B)) = floor(50.61) = 50
    step(50): memory = (65.6e9 + 50 x 1536 x 262,144) / (0.8 x 4e12) = 26.7915 ms
              compute = 50 x (2 x 32.8e9 + 2 x 64 x 64 x 1536 x 256) / 148e12 = 50 x 0.46500 ms = 23.25 ms
              step = max(26.79, 23.25) + 2 ms overhead = 28.7915 ms <= 50 ms: the memory cap binds.
    decode = 50 / 0.0287915 s = 1,736.6 tokens/s per chip of the decode pool.
    prefill: 1 / (0.443243 ms + 2 x 64 x 64 x 512 x 256 / 148e12) = 1 / 0.450498 ms = 2,219.8 tokens/s.
    end to end: 1024 / (1024 / 2219.8 + 1024 / 1736.6) = 974.3 output tokens/s per chip, of which the
    prefill pool holds 0.4505 / 1.0263 = 43.9 % of the chips. Roofline (ideal HBM, no overhead):
    50 / max(21.43, 23.25) ms = 2,150.5 decode, 1 / (1/2219.8 + 1/2150.5) = 1,092.3 end to end.
    """
    est = estimate_inference(MODELS["qwen3-32b"], H20, "bf16", tpot_ms=50, input_tokens=1024,
                             output_tokens=1024, chips_per_replica=1)
    assert est.batch_size == 50
    assert est.decode_bound == "memory-capacity"
    assert est.step_ms == pytest.approx(28.7915, rel=1e-4)
    assert est.decode_tokens_per_s_per_chip == pytest.approx(1736.6, rel=1e-4)
    assert est.prefill_tokens_per_s_per_chip == pytest.approx(2219.8, rel=1e-4)
    assert est.output_tokens_per_s_per_chip == pytest.approx(974.3, rel=1e-4)
    assert est.input_tokens_per_s_per_chip == pytest.approx(974.3, rel=1e-4)  # 1024 in per 1024 out
    assert est.prefill_chip_share == pytest.approx(0.4389, rel=1e-3)
    assert est.roofline_decode_tokens_per_s_per_chip == pytest.approx(2150.5, rel=1e-4)
    assert est.roofline_output_tokens_per_s_per_chip == pytest.approx(1092.3, rel=1e-4)
    assert est.weights_gib_per_chip == pytest.approx(65.6e9 / 2**30)
    assert est.output_tokens_per_kwh == pytest.approx(est.output_tokens_per_s_per_chip * 3600 / 0.5)


def test_known_bandwidth_bound_decode():
    """Same setup at TPOT 25 ms: 20.5 ms + B x 0.125829 ms + 2 ms <= 25 ms gives B = 19.

    step(19) = (65.6e9 + 19 x 1536 x 262,144) / 3.2e12 + 2 ms = 22.8908 + 2 = 24.8908 ms (compute
    19 x 0.465 = 8.84 ms is below the memory time), so decode is bandwidth-bound at
    19 / 0.0248908 s = 763.3 tokens/s.
    """
    est = estimate_inference(MODELS["qwen3-32b"], H20, "bf16", tpot_ms=25, input_tokens=1024,
                             output_tokens=1024, chips_per_replica=1)
    assert est.batch_size == 19
    assert est.decode_bound == "bandwidth"
    assert est.decode_tokens_per_s_per_chip == pytest.approx(763.3, rel=1e-4)


def test_tpot_below_one_sequence_step_has_no_throughput():
    """Reading 65.6 GB at 3.2 TB/s takes 20.5 ms (+ 2 ms overhead), so a 10 ms TPOT cannot be met on one
    chip: the estimate says so and offers no throughput at that SLO."""
    est = estimate_inference(MODELS["qwen3-32b"], H20, "bf16", tpot_ms=10, chips_per_replica=1)
    assert not est.meets_tpot and est.batch_size == 0 and est.decode_bound == "tpot-unmet"
    assert est.output_tokens_per_s_per_chip == 0.0 and "no throughput" in est.notes[-1]


def test_expert_all_to_all_crosses_the_scale_out_network():
    """DeepSeek-V3 fp8 on 16 H800 (two 8-GPU NVLink domains), per token and chip:

    bytes = 58 MoE layers x 8 experts x 7168 x (1 B fp8 dispatch + 2 B bf16 combine) = 9,977,856 B
    scale-up: 7/8 of them over NVLink at 200 GB/s x 0.8 = 160 GB/s -> 54.56 us
    scale-out: one copy per other domain hit, (2 - 1)(1 - (1 - 1/2)^8) = 0.99609 of bytes / 8,
               over 50 GB/s x 0.8 = 40 GB/s -> 31.06 us;  total 85.63 us.
    Attention stays whole on every chip (17 GB fp8, under a quarter of 72 GiB usable): no tensor parallelism.
    """
    model = MODELS["deepseek-v3"]
    lay = layout(model, H800, "fp8", 16)
    assert lay.tensor_parallel == 1 and lay.domain_chips == 8
    assert comm_s_per_token(model, H800, "fp8", lay, Efficiency.of(H800)) * 1e6 == pytest.approx(85.63, rel=1e-4)


def test_tensor_parallel_all_reduce():
    """Llama-3.1-70B bf16 over 2 H20: 2 all-reduces x 80 layers x 2 (2 - 1) / 2 x 8192 x 2 B = 2,621,440 B
    per token and chip over NVLink at 450 GB/s x 0.8 = 360 GB/s: 7.282 us."""
    model = MODELS["llama-3.1-70b"]
    lay = layout(model, H20, "bf16", 2)
    assert lay.tensor_parallel == 2
    assert comm_s_per_token(model, H20, "bf16", lay, Efficiency.of(H20)) * 1e6 == pytest.approx(7.282, rel=1e-3)


def test_910c_and_950_compare_on_an_8_bit_equivalence():
    """The 910C has INT8 but no FP8, the 950 FP8 but no published INT8: each is served at its 8-bit peak and
    the estimate says it is an equivalence."""
    no_fp8 = H20.replace(id="int8-only", peak_tflops={"bf16": 148.0, "int8": 296.0})
    est = estimate_inference(MODELS["qwen3-32b"], no_fp8, "fp8", chips_per_replica=1)
    assert any("equivalence" in note for note in est.notes)
    native = estimate_inference(MODELS["qwen3-32b"], H20, "fp8", chips_per_replica=1)
    assert est.output_tokens_per_s_per_chip == pytest.approx(native.output_tokens_per_s_per_chip)


def test_training_hand_computed():
    """Llama-3.1-70B, 1e12 tokens, 1024 chips at 148 TFLOPS and MFU 0.4, seq 4096.

    per token = 6 x 70.6e9 + 6 x 80 x 64 x 4096 x (128 + 128) = 423.6e9 + 32.212e9 = 455.81e9 FLOPs
    hours = 4.5581e23 / (1024 x 148e12 x 0.4) / 3600 = 2,088.6 h; chip-hours x 0.5 kW = energy
    """
    est = estimate_training(MODELS["llama-3.1-70b"], H20, tokens=1e12, chips=1024)
    assert est.flops == pytest.approx(4.55812e23, rel=1e-4)
    assert est.hours == pytest.approx(2088.6, rel=1e-3)
    assert est.chip_hours == pytest.approx(2088.6 * 1024, rel=1e-3)
    assert est.energy_kwh == pytest.approx(est.chip_hours * 0.5)
    assert estimate_training(MODELS["llama-3.1-70b"], H20, flops=est.flops, chips=1024).hours == \
        pytest.approx(est.hours)


def test_training_needs_room_for_optimizer_state():
    """70.6e9 params x 16 B = 1.13e12 B over 92.77e9 B usable per chip needs 13 chips."""
    with pytest.raises(InputError, match="at least 13"):
        estimate_training(MODELS["llama-3.1-70b"], H20, tokens=1e9, chips=12)


def test_cost_per_million_output_tokens():
    est = estimate_inference(MODELS["qwen3-32b"], H20, "bf16", chips_per_replica=1)
    cost = cny_per_moutput_tokens(est, price_cny_per_kwh=0.4, pue=1.2)
    assert cost == pytest.approx(1e6 / (est.output_tokens_per_s_per_chip * 3600 / 0.5) * 1.2 * 0.4)


# -- memory fit ----------------------------------------------------------------------------


def test_min_chips_is_a_power_of_two():
    """Llama-3.1-70B bf16 = 141.2e9 B of weights > 92.77e9 B usable on one H20, fits on two."""
    assert min_chips_per_replica(MODELS["llama-3.1-70b"], H20, "bf16", 4096) == 2
    assert min_chips_per_replica(MODELS["llama-3.1-70b"], H20, "fp8", 4096) == 1


def test_batch_of_exactly_one_fits_and_one_byte_less_does_not():
    model = MODELS["qwen3-32b"]
    need_gib = (model.total_params * 2 + 2048 * model.kv_bytes_per_token()) / 0.9 / 2**30
    exact = H20.replace(memory_gib=need_gib * (1 + 1e-12))
    assert estimate_inference(model, exact, "bf16", input_tokens=1024, output_tokens=1024,
                              chips_per_replica=1).batch_size == 1
    short = H20.replace(memory_gib=need_gib * (1 - 1e-9))
    with pytest.raises(InputError, match="does not fit on 1 h20"):
        estimate_inference(model, short, "bf16", input_tokens=1024, output_tokens=1024, chips_per_replica=1)


def test_moe_model_spans_scale_up_domains():
    """DeepSeek-V3 bf16 is 1,342 GB. Its always-read 16.5e9 params (33 GB) exceed a quarter of 72 GiB usable,
    so they split over t = 2; then 16.5 GB + 1,309 GB / n + one context fit from n = 32 (4 NVLink domains)."""
    assert min_chips_per_replica(MODELS["deepseek-v3"], H800, "bf16", 2560) == 32
    est = estimate_inference(MODELS["deepseek-v3"], H800, "bf16", chips_per_replica=32)
    assert est.scale_up_domains_per_replica == 4 and est.tensor_parallel == 2


def test_replica_sizing_does_not_depend_on_the_scale_up_domain():
    """Two chips of one family that differ only in their scale-up domain get the same replica sizes to choose
    from; the one that must send its traffic over the scale-out network pays for it in throughput."""
    model = MODELS["llama-3.1-70b"]
    alone = H20.replace(scale_up_domain_chips=1)
    assert min_chips_per_replica(model, alone, "bf16") == min_chips_per_replica(model, H20, "bf16") == 2
    slow = estimate_inference(model, alone, "bf16", tpot_ms=100)
    fast = estimate_inference(model, H20, "bf16", tpot_ms=100)
    assert slow.meets_tpot and slow.output_tokens_per_s_per_chip < fast.output_tokens_per_s_per_chip


def test_context_beyond_model_limit_is_rejected():
    with pytest.raises(InputError, match="maximum context"):
        estimate_inference(MODELS["qwen3-32b"], H20, input_tokens=200_000, output_tokens=1)


def test_unsupported_precision_names_alternatives():
    no_fp8 = H20.replace(peak_tflops={"bf16": 148.0})
    with pytest.raises(InputError, match="no fp8 peak") as exc:
        estimate_inference(MODELS["qwen3-32b"], no_fp8, "fp8")
    assert "bf16" in str(exc.value)


def test_model_that_fits_nowhere_gives_a_clear_message():
    giant = load_models(extra={"giant-dense": {
        "name": "Giant", "source": "test", "retrieved": "2026-11-23",
        "total_params_b": {"value": 20000, "source": "test", "retrieved": "2026-11-23", "confidence": "estimate",
                           "method": "test fixture"},
        "active_params_b": {"value": 20000, "source": "test", "retrieved": "2026-11-23",
                            "confidence": "estimate", "method": "test fixture"},
        "layers": 200, "hidden_size": 32768, "attention": "gqa", "attention_heads": 256, "kv_heads": 16,
        "head_dim": 128, "max_context_tokens": 8192}})["giant-dense"]
    with pytest.raises(InputError, match="fits on no accelerator") as exc:
        compare_accelerators(giant, {"h20": H20, "h800": H800}, precision="bf16")
    assert "h20" in str(exc.value) and "h800" in str(exc.value) and "fix:" in str(exc.value)


# -- invariants ----------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(bw=st.floats(0.5, 8.0), extra=st.floats(1.0, 4.0), tpot=st.floats(5, 200),
       model_id=st.sampled_from(["qwen3-32b", "deepseek-v3", "minimax-m2"]), chips=st.sampled_from([16, 64]))
def test_more_bandwidth_never_lowers_decode_throughput(bw, extra, tpot, model_id, chips):
    """At a fixed replica size (the default replica may shrink when bandwidth lets it meet the TPOT)."""
    model = MODELS[model_id]
    slow = estimate_inference(model, H800.replace(memory_bandwidth_tb_per_s=bw), "fp8", tpot_ms=tpot,
                              chips_per_replica=chips)
    fast = estimate_inference(model, H800.replace(memory_bandwidth_tb_per_s=bw * extra), "fp8", tpot_ms=tpot,
                              chips_per_replica=chips)
    assert fast.decode_tokens_per_s_per_chip >= slow.decode_tokens_per_s_per_chip * (1 - 1e-12)


@settings(max_examples=60, deadline=None)
@given(chips=st.integers(16, 4096), more=st.integers(0, 4096), tokens=st.floats(1e9, 2e13),
       model_id=st.sampled_from(sorted(MODELS)))
def test_more_chips_never_lengthen_training(chips, more, tokens, model_id):
    model = MODELS[model_id]
    hw = H800.replace(memory_gib=4096.0)
    base = estimate_training(model, hw, tokens, chips)
    bigger = estimate_training(model, hw, tokens, chips + more)
    assert bigger.hours <= base.hours
    assert bigger.chip_hours == pytest.approx(base.chip_hours)


# -- roofline and SLO properties over the catalog ---------------------------------------------

CATALOG = catalog_hardware()
SERVING_MODELS = sorted(MODELS)


@settings(max_examples=80, deadline=None)
@given(model_id=st.sampled_from(SERVING_MODELS), accel=st.sampled_from(sorted(CATALOG)),
       precision=st.sampled_from(["bf16", "fp8", "int8"]), tpot=st.floats(5, 300),
       chips=st.sampled_from([None, 1, 2, 8, 16, 64, 144, 256]), factor=st.floats(0.2, 8.0),
       hit=st.sampled_from([0.0, 0.5]))
def test_no_estimate_is_above_the_replica_roofline(model_id, accel, precision, tpot, chips, factor, hit):
    """Over models, catalog chips, precisions, SLOs, replica sizes and calibration factors: decode, prefill and
    end-to-end figures stay under the replica's roofline, and under a bound computed here independently
    (peak FLOPs / 2 x active params per token, prefix-cache hits aside)."""
    model, hw = MODELS[model_id], CATALOG[accel]
    try:
        est = estimate_inference(model, hw, precision, tpot_ms=tpot, chips_per_replica=chips,
                                 prefix_cache_hit_rate=hit, decode_factor=factor, prefill_factor=factor)
    except InputError:
        assume(False)
    tol = 1 + 1e-9
    assert est.decode_tokens_per_s_per_chip <= est.roofline_decode_tokens_per_s_per_chip * tol
    assert est.prefill_tokens_per_s_per_chip <= est.roofline_prefill_tokens_per_s_per_chip * tol
    assert est.output_tokens_per_s_per_chip <= est.roofline_output_tokens_per_s_per_chip * tol
    peak = serving_peak(hw, precision)[0] * 1e12
    assert est.decode_tokens_per_s_per_chip <= peak / (2 * model.active_params) * tol
    assert est.prefill_tokens_per_s_per_chip * (1 - hit) <= peak / (2 * model.active_params) * tol


@settings(max_examples=60, deadline=None)
@given(model_id=st.sampled_from(SERVING_MODELS), accel=st.sampled_from(sorted(CATALOG)),
       precision=st.sampled_from(["bf16", "fp8", "int8"]), tpot=st.floats(5, 150), looser=st.floats(1.0, 4.0),
       chips=st.sampled_from([None, None, 8, 32, 160]))
def test_throughput_never_falls_when_the_tpot_loosens(model_id, accel, precision, tpot, looser, chips):
    """With the replica chosen by the estimator (the best of a fixed set of sizes) or fixed."""
    model, hw = MODELS[model_id], CATALOG[accel]
    try:
        strict = estimate_inference(model, hw, precision, tpot_ms=tpot, chips_per_replica=chips)
        loose = estimate_inference(model, hw, precision, tpot_ms=tpot * looser, chips_per_replica=chips)
    except InputError:
        assume(False)
    assert loose.output_tokens_per_s_per_chip >= strict.output_tokens_per_s_per_chip * (1 - 1e-12)
