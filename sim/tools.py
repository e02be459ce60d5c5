"""Find the simulators and put them where cocotb looks (no PATH editing by the user): the
library's name for the checks of :mod:`hwgen.flow.simulate`."""

from hwgen.flow.simulate import SIMULATORS, setup_simulator, simulator_available
from hwgen.flow.verilator import setup_verilator

__all__ = ["SIMULATORS", "setup_verilator", "setup_simulator", "simulator_available"]
