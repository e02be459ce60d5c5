"""The FPGA flow: devices, the YoWASP tools, out-of-context synthesis, board builds.

``hwgen synth`` and ``bench/`` use :func:`synthesize`; board builds use :func:`setup_environment`
so amaranth's platform build finds the YoWASP tools. A sweep runs a synthesis in three steps
(:func:`plan_synthesis` → :func:`run_synthesis`, anywhere → :func:`store_run`, see
:mod:`hwgen.flow.synth`).

One module per concept: :mod:`~hwgen.flow.devices`, :mod:`~hwgen.flow.tools` (finding the
tools), :mod:`~hwgen.flow.run` (running them, reading their logs and reports),
:mod:`~hwgen.flow.cache` (keys, atomic writes, locks), :mod:`~hwgen.flow.errors`,
:mod:`~hwgen.flow.harness` (the out-of-context harness), :mod:`~hwgen.flow.dsp` (the DSP
budget), :mod:`~hwgen.flow.resources` (cell counts, fit), :mod:`~hwgen.flow.report` (results,
tables), :mod:`~hwgen.flow.synth` (out-of-context synthesis), :mod:`~hwgen.flow.build` (board
bitstreams), :mod:`~hwgen.flow.simulate` (cocotb runs against generated Verilog; the
verification library :mod:`sim` names it ``sim.runner``).
"""

from .devices import DEVICES, Device, get_device
from .tools import ToolNotFound, find_tool, setup_environment, tool_env, tool_versions
from .errors import DoesNotFit, FlowError, TimingError, ToolMismatch, ToolTimeout
from .dsp import dsp_budget, dsp_budget_script, rtlil_multipliers
from .report import SynthResult, format_table
from .synth import (SynthJob, SynthRun, cached_result, default_build_root, lookup,
                    plan_synthesis, run_synthesis, store_result, store_run, synthesize,
                    synthesize_verilog)

__all__ = [
    "DEVICES", "Device", "get_device",
    "ToolNotFound", "find_tool", "setup_environment", "tool_env", "tool_versions",
    "DoesNotFit", "FlowError", "TimingError", "ToolMismatch", "ToolTimeout",
    "SynthResult", "default_build_root", "format_table",
    "lookup", "synthesize", "synthesize_verilog", "dsp_budget", "dsp_budget_script",
    "rtlil_multipliers",
    "SynthJob", "SynthRun", "plan_synthesis", "run_synthesis", "cached_result", "store_result",
    "store_run",
]
