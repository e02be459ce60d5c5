"""The verification library's runner: build a component's Verilog and run a cocotb module
against it. The engine is :mod:`hwgen.flow.simulate` (product code runs simulations too:
``hwgen sim``, ``hwgen explore --verify-rtl``); this module is its name in the library."""

from hwgen.flow.simulate import VERILATOR_ARGS, SimResult, build_root, module_root, run

__all__ = ["run", "SimResult", "build_root", "module_root", "VERILATOR_ARGS"]
