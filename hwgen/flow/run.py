"""Running the YoWASP tools and reading what they say.

One runner for every tool run of the flow (out-of-context synthesis runs yosys and nextpnr one
at a time; a board build runs amaranth's shell script, which runs yosys, nextpnr and the
packer): a progress line on stderr, an optional timeout, the output kept in a log file, the
tool's process group killed when the run is interrupted. And one reading of what the tools
say: the line naming what went wrong (an ``ERROR`` line, else the reason a YoWASP tool
crashed), nextpnr's errors for a design larger than the device, and nextpnr's utilization and
Fmax.
"""

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .devices import get_device

__all__ = ["ROUTERS", "check_router", "Progress", "ToolRun", "run_tool", "first_error",
           "NO_FIT_RE", "is_no_fit", "PLACED_CELLS", "utilization", "overused",
           "parse_nextpnr_report", "critical_path"]

#: nextpnr's routers (``--router``); the first is its default.
ROUTERS = ("router1", "router2")


def check_router(router):
    """``router`` itself if it is ``None`` (nextpnr's default) or one of :data:`ROUTERS`,
    else ``ValueError``."""
    if router is not None and router not in ROUTERS:
        raise ValueError(f"Router must be one of {', '.join(ROUTERS)}, not {router!r}")
    return router


# -- progress -------------------------------------------------------------------------------------

class Progress:
    """Reports on stderr which tool runs and, every ``every`` seconds, the elapsed time.

    Parameters
    ----------
    prefix : str
        Start of each line (``"hwgen synth"``).
    stages : str or list of (str, str)
        One label, or ``[(label, product), ...]`` for a script running several tools one after
        the other: a stage is taken to have started when the previous stage's product (a file
        name in ``directory``) exists.
    directory : path or None
        Where the products appear.
    enabled : bool
        Print; when False the stage times are still measured.

    Attributes
    ----------
    times : dict
        Seconds of each stage by label, and ``"total"``; filled on exit.
    seconds : float
        Total seconds; set on exit.
    """

    def __init__(self, prefix, stages, *, directory=None, enabled=True, every=15.0):
        self.prefix, self.enabled, self.every = prefix, enabled, every
        self.stages = [(stages, None)] if isinstance(stages, str) else list(stages)
        self.dir = Path(directory) if directory is not None else None
        self.times = {}
        self.seconds = 0.0
        self._stop = threading.Event()
        self._thread = None

    @property
    def _several(self):
        return len(self.stages) > 1

    def _stage(self):
        # Each stage starts when the previous one's product exists.
        current = self.stages[0][0]
        for (name, _), (_, product) in zip(self.stages[1:], self.stages[:-1]):
            if (self.dir / product).is_file():
                current = name
        return current

    def _say(self, text):
        if self.enabled:
            print(f"{self.prefix}: {text}", file=sys.stderr, flush=True)

    def __enter__(self):
        self.t0 = self.t_stage = time.monotonic()
        self.current = self.stages[0][0]
        self._say(f"{self.current} ...")
        if self.enabled or self._several:   # stage times are measured even when quiet
            self._thread = threading.Thread(target=self._watch, daemon=True)
            self._thread.start()
        return self

    def _advance(self, now):
        if not self._several:
            return
        stage = self._stage()
        if stage != self.current:
            self.times[self.current] = round(now - self.t_stage, 2)
            self._say(f"{self.current} done in {now - self.t_stage:.1f} s; {stage} ...")
            self.current, self.t_stage = stage, now

    def _watch(self):
        last = time.monotonic()
        while not self._stop.wait(min(0.5, self.every)):
            now = time.monotonic()
            self._advance(now)
            if now - last >= self.every:
                last = now
                self._say(f"  {self.current}: {now - self.t_stage:.0f} s"
                          + (f" ({now - self.t0:.0f} s in all)" if self._several else ""))

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        now = time.monotonic()
        self._advance(now)
        self.seconds = now - self.t0
        self.times[self.current] = round(now - self.t_stage, 2)
        self.times["total"] = round(self.seconds, 2)
        status = "done" if exc[0] is None else "failed"
        if self._several:
            self._say(f"{self.current} {status}; {self.times['total']:.1f} s in all")
        else:
            self._say(f"{self.current} {status} in {self.seconds:.1f} s")
        return False


# -- running --------------------------------------------------------------------------------------

@dataclass
class ToolRun:
    """What one tool run gave.

    Attributes
    ----------
    command : list of str
    returncode : int
        Negative: killed by that signal (POSIX).
    output : str
        stdout and stderr, interleaved.
    seconds : float
        Wall time.
    timed_out : bool
        Stopped after the run's ``timeout``.
    times : dict
        Seconds of each stage (see :class:`Progress`) and ``"total"``.
    """
    command: list
    returncode: int
    output: str
    seconds: float
    timed_out: bool = False
    times: dict = field(default_factory=dict)

    @property
    def ok(self):
        return self.returncode == 0 and not self.timed_out

    def failure(self, log=""):
        """One line saying why the run failed: :func:`first_error` of the tool's ``log`` text
        and its output, or that it timed out."""
        if self.timed_out:
            return f"timed out after {self.seconds:.0f} s"
        return first_error(log, self.output, returncode=self.returncode)


def _kill_group(proc):
    # The tool runs in its own process group (a YoWASP tool is a Python process, a board
    # build a shell with one per tool): stop all of them, not only the first.
    with contextlib.suppress(OSError):
        if hasattr(os, "killpg"):
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()


def run_tool(command, cwd, *, label=None, prefix="hwgen synth", stages=None, progress=True,
             log_name=None, timeout=None, env=None):
    """Run ``command`` in ``cwd`` and wait for it.

    Parameters
    ----------
    command : list of str
        The tool and its arguments (YoWASP tools see paths relative to ``cwd`` only).
    label, prefix, stages, progress :
        The progress report (:class:`Progress`): ``stages`` for a script of several tools,
        else one ``label`` (default: the command's name).
    log_name : str or None
        File in ``cwd`` that receives the output.
    timeout : float or None
        Seconds after which the tool is killed (the result says ``timed_out``).
    env : dict or None
        The environment (default: this process's).

    Returns
    -------
    ToolRun
        Also when the tool failed: the caller reads its logs to say why.
    """
    stages = stages if stages is not None else (label or Path(command[0]).name)
    proc = None
    timed_out = False
    with Progress(prefix, stages, directory=cwd, enabled=progress) as prog:
        # Its own session, so that a timeout or an interrupt can stop the tool and every
        # process it started (a terminal's Ctrl-C no longer reaches them: done below).
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
        try:
            output, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            output, _ = proc.communicate()
            timed_out = True
        except BaseException:
            _kill_group(proc)
            proc.wait()
            raise
    if log_name is not None:
        (Path(cwd) / log_name).write_text(output)
    return ToolRun(command=list(command), returncode=proc.returncode, output=output,
                   seconds=prog.seconds, timed_out=timed_out, times=dict(prog.times))


# -- what the tools say ---------------------------------------------------------------------------

def first_error(log, output="", *, returncode=None):
    """The line that says what went wrong.

    In this order: the first ``ERROR`` line of the ``log`` (then of the ``output``); the
    reason a tool crashed (a YoWASP tool that traps, e.g. when its WebAssembly stack runs out
    on a very deep logic chain, leaves no ERROR line, only a ``Caused by:`` section in its
    output; a tool killed by a signal), with the step its log had reached; the first line
    saying ``error:``; the last line of the log, else of the output.
    """
    for line in (log + "\n" + output).splitlines():
        if line.startswith("ERROR:") or line.startswith("ERROR "):
            return line.strip()
    out_lines = [l.strip() for l in output.splitlines() if l.strip()]
    log_lines = [l.strip() for l in log.splitlines() if l.strip()]
    step = f" (during {log_lines[-1]})" if log_lines else ""
    if "Caused by:" in out_lines:
        reason = " ".join(out_lines[out_lines.index("Caused by:") + 1:]) or "crashed"
        return f"{reason}{step}"
    if returncode is not None and returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"killed by {name}{step}"
    for line in log_lines + out_lines:
        if "error:" in line.lower():
            return line
    lines = log_lines or out_lines
    return lines[-1] if lines else "no output"


#: nextpnr's errors for a design with more cells of a kind than the device has BELs
#: (``ERROR: Unable to place cell 'x', no BELs remaining to implement cell type 'DP16KD'``;
#: the last: its analytic placer, when a kind's cells exceed every region it can grow). Only
#: these: "Too many open files" or "Quota exceeded" are tool failures, not verdicts.
NO_FIT_RE = re.compile(r"no BELs remaining|Unable to place cell|Failed to expand region",
                       re.IGNORECASE)


def is_no_fit(error):
    """True when nextpnr's ``error`` line says the design is larger than the device."""
    return NO_FIT_RE.search(error) is not None


#: nextpnr utilization cell names → resource kinds, per family.
PLACED_CELLS = {
    "ice40": dict(lut="ICESTORM_LC", dsp="ICESTORM_DSP", bram="ICESTORM_RAM",
                  spram="ICESTORM_SPRAM", io="SB_IO"),
    "ecp5": dict(lut="TRELLIS_COMB", ff="TRELLIS_FF", dsp="MULT18X18D", bram="DP16KD",
                 io="TRELLIS_IO"),
}

#: nextpnr's utilisation lines: ``Info:     ICESTORM_LC:  5749/  5280   108%``.
_UTIL_RE = re.compile(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)", re.MULTILINE)


def utilization(nextpnr_log):
    """``[(cell type, used, available), ...]``: the utilisation lines of a nextpnr log."""
    return [(t, int(u), int(a)) for t, u, a in _UTIL_RE.findall(nextpnr_log)]


def overused(nextpnr_log):
    """``[(cell type, used, available), ...]`` over capacity in a nextpnr log."""
    return [(t, u, a) for t, u, a in utilization(nextpnr_log) if u > a]


def parse_nextpnr_report(report, family, *, ff_used=None, device=None):
    """``(resources, fmax_mhz)`` from nextpnr's ``--report`` JSON (a dict).

    ``resources`` maps kind → ``{"used", "available"}``; ``ff_used`` (from yosys) fills in
    flip-flops where nextpnr does not count them (iCE40). ``fmax_mhz`` is the lowest achieved
    Fmax over clock domains (0.0 when nextpnr reported none).
    """
    util = report.get("utilization", {})
    res = {}
    for kind, cell in PLACED_CELLS[family].items():
        if cell in util:
            res[kind] = dict(used=int(util[cell]["used"]),
                             available=int(util[cell]["available"]))
    if "ff" not in res and ff_used is not None:
        avail = get_device(device).resources["ff"] if device else None
        res["ff"] = dict(used=int(ff_used), available=avail)
    fmax = [c["achieved"] for c in report.get("fmax", {}).values() if "achieved" in c]
    return res, (round(min(fmax), 2) if fmax else 0.0)


def critical_path(report):
    """``[start cell, end cell]`` of the first critical path of nextpnr's report, or ``[]``."""
    for path in report.get("critical_paths", [])[:1]:
        steps = path.get("path", [])
        if steps:
            return [steps[0].get("from", {}).get("cell", ""),
                    steps[-1].get("to", {}).get("cell", "")]
    return []
