"""Find the simulators and put them where cocotb looks (no PATH editing by the user)."""

import shutil

from hwgen.flow.verilator import setup_verilator

__all__ = ["SIMULATORS", "setup_verilator", "setup_simulator", "simulator_available"]

SIMULATORS = ("verilator", "icarus")


def simulator_available(sim):
    if sim == "verilator":
        try:
            setup_verilator()
            return True
        except RuntimeError:
            return False
    if sim == "icarus":
        return shutil.which("iverilog") is not None
    return False


def setup_simulator(sim):
    """Prepare ``sim`` (``verilator`` or ``icarus``) or raise a clear error."""
    if sim not in SIMULATORS:
        raise ValueError(f"Simulator must be one of {', '.join(SIMULATORS)}, not {sim!r}")
    if sim == "verilator":
        setup_verilator()
    elif shutil.which("iverilog") is None:
        raise RuntimeError("Icarus Verilog not found: install it (Debian: apt-get install "
                           "iverilog) or use the default simulator, verilator")
