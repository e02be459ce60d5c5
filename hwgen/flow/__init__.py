"""The FPGA flow: devices, the YoWASP tools, out-of-context synthesis.

``hwgen synth`` and ``bench/`` use :func:`synthesize`; board builds use :func:`setup_environment`
so amaranth's platform build finds the YoWASP tools.
"""

from .devices import DEVICES, Device, get_device
from .tools import ToolNotFound, find_tool, setup_environment, tool_env, tool_versions
from .synth import (DoesNotFit, FlowError, SynthResult, default_build_root, dsp_budget,
                    dsp_budget_script, format_table, lookup, rtlil_multipliers, synthesize,
                    synthesize_verilog)

__all__ = [
    "DEVICES", "Device", "get_device",
    "ToolNotFound", "find_tool", "setup_environment", "tool_env", "tool_versions",
    "DoesNotFit", "FlowError", "SynthResult", "default_build_root", "format_table",
    "lookup", "synthesize", "synthesize_verilog", "dsp_budget", "dsp_budget_script",
    "rtlil_multipliers",
]
