"""Simulation layer: builds generated Verilog with cocotb_tools.runner and runs cocotb tests."""
