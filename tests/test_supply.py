"""Per-vendor supply figures from the catalog as default capacity supply caps."""

from __future__ import annotations

import hardware_catalog
from planner.inputs.scenario import CapacitySettings
from planner.inputs.supply import largest_cap, supply_caps

CAT = hardware_catalog.load()


def settings(**kw) -> CapacitySettings:
    periods = kw.pop("periods", [{"name": "2025"}, {"name": "2026"}, {"name": "year-3"}])
    return CapacitySettings.model_validate({"candidates": [{"system": "hgx-h20"}], "periods": periods, **kw})


def test_catalog_figures_cap_periods_named_by_their_year():
    """910C: 300k in 2025 (Bloomberg's 'double this year' for 600k in 2026), 600k in 2026; no 2027 figure."""
    caps = supply_caps(settings(), CAT, {"ascend-910c", "h20", "mlu590", "ascend-950pr"})
    assert caps["2025"]["ascend-910c"].chips == 300_000
    assert caps["2026"]["ascend-910c"].chips == 600_000
    assert caps["2025"]["h20"].chips == 330_000 and "h20" not in caps["2026"]
    assert caps["2026"]["mlu590"].chips == 300_000 and "mlu590" not in caps["2025"]
    assert caps["year-3"] == {}                       # not a year: uncapped
    assert "ascend-950pr" not in caps["2026"]         # no supply figure: uncapped
    assert "catalog supply_2026_units" in caps["2026"]["ascend-910c"].basis
    assert largest_cap(caps, "ascend-910c") is None   # uncapped in year-3


def test_scenario_figures_override_and_opt_out():
    caps = supply_caps(settings(supply_chips_per_period={"ascend-910c": 3072}), CAT, {"ascend-910c", "h20"})
    assert {p: c["ascend-910c"].chips for p, c in caps.items()} == {"2025": 3072, "2026": 3072, "year-3": 3072}
    assert largest_cap(caps, "ascend-910c") == 3072
    off = supply_caps(settings(catalog_supply_caps=False), CAT, {"ascend-910c", "h20"})
    assert off == {"2025": {}, "2026": {}, "year-3": {}}
