"""Where hwgen writes: one rule for every build folder and cache.

Everything hwgen writes on its own goes under one folder, ``$HWGEN_BUILD_DIR`` when that is
set, else ``build/`` in the current working directory (never into the installed package):

``synth/``
    out-of-context synthesis runs and their content-addressed result cache (``hwgen synth``,
    the explorer's cost model, ``bench/``)
``sim/``
    simulator builds and runs (``hwgen sim``, the cocotb tests, ``--verify-rtl``); Verilator's
    compiled run-time library in ``sim/verilated-runtime/``, or in ``$HWGEN_VERILATOR_CACHE``
    when that is set (one folder several projects share)
``explore/``, ``models/``
    the explorer's caches (cost tables, calibration, trained built-in models)
``demo/``
    what ``hwgen demo`` writes
``<top module>/``
    a board build of ``hwgen build`` without ``-o``
"""

import os
from pathlib import Path

__all__ = ["BUILD_DIR_ENV", "build_dir"]

#: The environment variable that moves every build folder and cache.
BUILD_DIR_ENV = "HWGEN_BUILD_DIR"


def build_dir(*parts: str) -> Path:
    """``$HWGEN_BUILD_DIR/<parts>`` (default ``./build/<parts>``); not created here."""
    return Path(os.environ.get(BUILD_DIR_ENV) or "build").joinpath(*parts)
