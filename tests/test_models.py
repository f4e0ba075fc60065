"""The model library: published configs load and derived figures match hand arithmetic."""

from __future__ import annotations

import pytest

from planner.errors import InputError, UnknownNameError
from workloads.models import get_model, load_models

EXPECTED_IDS = {"deepseek-v3", "deepseek-r1", "qwen3-235b-a22b", "qwen3-32b", "glm-4.5", "kimi-k2",
                "minimax-m2", "llama-3.1-70b"}


def test_library_holds_the_issue_models():
    assert EXPECTED_IDS <= set(load_models())


@pytest.mark.parametrize(("model_id", "kv_bytes"), [
    ("deepseek-v3", 61 * (512 + 64) * 2),        # MLA: latent + rope key, bf16 = 70,272 B
    ("kimi-k2", 61 * (512 + 64) * 2),
    ("qwen3-235b-a22b", 2 * 94 * 4 * 128 * 2),   # GQA: 192,512 B
    ("glm-4.5", 2 * 92 * 8 * 128 * 2),
    ("llama-3.1-70b", 2 * 80 * 8 * 128 * 2),     # 327,680 B
])
def test_kv_bytes_per_token_from_config(model_id, kv_bytes):
    assert load_models()[model_id].kv_bytes_per_token("bf16") == kv_bytes
    assert load_models()[model_id].kv_bytes_per_token("fp8") == kv_bytes / 2


def test_moe_parameter_split():
    """DeepSeek-V3: routed = (671 - 37) / (1 - 8/256) = 654.45B, close to 58 x 256 x 3 x 7168 x 2048 = 653.9B."""
    ds = load_models()["deepseek-v3"]
    assert ds.routed_expert_params == pytest.approx(654.45e9, rel=1e-4)
    assert ds.weights_read_params(1) == pytest.approx(37e9, rel=1e-6)
    assert ds.weights_read_params(10_000) == pytest.approx(671e9, rel=1e-6)


def test_unknown_model_suggests_the_closest():
    with pytest.raises(UnknownNameError, match="did you mean 'deepseek-v3'"):
        get_model("deepseek-v4")


def test_scenario_can_add_a_model():
    models = load_models(extra={"tiny": {
        "name": "Tiny", "source": "scenario", "retrieved": "2026-11-23",
        "total_params_b": {"value": 1, "source": "scenario", "retrieved": "2026-11-23", "confidence": "estimate",
                           "method": "scenario author"},
        "active_params_b": {"value": 1, "source": "scenario", "retrieved": "2026-11-23", "confidence": "estimate",
                            "method": "scenario author"},
        "layers": 2, "hidden_size": 64, "attention": "mha", "attention_heads": 4, "kv_heads": 4, "head_dim": 16,
        "max_context_tokens": 2048}})
    assert models["tiny"].kv_bytes_per_token() == 2 * 2 * 4 * 16 * 2


def test_bad_scenario_model_names_the_field():
    with pytest.raises(InputError, match="scenario models: bad.layers") as exc:
        load_models(extra={"bad": {"name": "Bad", "source": "s", "retrieved": "2026-11-23",
                                   "total_params_b": {"value": 1, "source": "s", "retrieved": "2026-11-23",
                                                      "confidence": "paper"},
                                   "active_params_b": {"value": 1, "source": "s", "retrieved": "2026-11-23",
                                                       "confidence": "paper"},
                                   "layers": 0, "hidden_size": 64, "attention": "gqa", "attention_heads": 4,
                                   "kv_heads": 4, "head_dim": 16, "max_context_tokens": 2048}})
    assert "fix:" in str(exc.value)


def test_model_figures_come_through_the_shared_figure_loader():
    """A ModelSpec figure is read like every catalog and topology figure: an estimate without a method,
    or a bare number with no provenance, is one error naming the model and field."""
    fig = {"value": 1, "source": "s", "retrieved": "2026-11-23", "confidence": "estimate"}
    fields = {"name": "Bad", "source": "s", "retrieved": "2026-11-23", "total_params_b": fig,
              "active_params_b": {**fig, "method": "m"}, "layers": 2, "hidden_size": 64, "attention": "mha",
              "attention_heads": 4, "kv_heads": 4, "head_dim": 16, "max_context_tokens": 2048}
    with pytest.raises(InputError, match="estimate must say its method") as exc:
        load_models(extra={"bad": fields})
    assert exc.value.field == "bad.total_params_b" and exc.value.file == "scenario models" and exc.value.fix
    with pytest.raises(InputError, match="no provenance") as exc:
        load_models(extra={"bad": {**fields, "total_params_b": 7}})
    assert exc.value.field == "bad.total_params_b"
