"""Sourced specifications of the accelerators and systems China's AI fleets run.

    import hardware_catalog
    cat = hardware_catalog.load()
    cat.accelerator("ascend-910c").tflops_bf16      # a Figure: value, source, retrieved, confidence
    cat.chip_power_kw("h20")                        # kW per chip incl. its server share, excl. PUE
    cat.stack_efficiency("cann").training_mfu
    cat.to_frame()                                  # one row per accelerator, plain values
"""

from hardware_catalog.catalog import Catalog, load
from hardware_catalog.models import (
    PRECISIONS,
    SOFTWARE_STACKS,
    Accelerator,
    ExportControl,
    StackEfficiency,
    System,
)
from hardware_catalog.provenance import Confidence, Figure

__all__ = [
    "PRECISIONS",
    "SOFTWARE_STACKS",
    "Accelerator",
    "Catalog",
    "Confidence",
    "ExportControl",
    "Figure",
    "StackEfficiency",
    "System",
    "load",
]
