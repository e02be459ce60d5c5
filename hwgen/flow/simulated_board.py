"""A simulated board for the host driver: the board's :class:`~hwgen.host_link.HostLinkCore`
under Verilator in a subprocess, behind the transport interface of :mod:`hwgen.host`.

::

    from hwgen.host import Accelerator
    with Accelerator.simulate(board="icebreaker", rows=2, cols=2, pe="int8") as acc:
        C = acc.matmul(A, B)              # the gateware's answer, bit for bit
        print(acc.transport.stats())      # clock cycles, bytes each way

The simulator is a small C++ program (``simulated_board.cpp``) linked with the Verilated core:
a UART model on both serial lines (8N1, the core's ``divisor`` clocks per bit) and a request
loop on stdin/stdout. The board's clock runs only while the host waits for an answer, so
timeouts are in *simulated* seconds (clock cycles at the board's clock frequency), as with
:class:`sim.uart.BridgedTransport` under cocotb; a slow host never makes the board time out.

Builds are cached under ``$HWGEN_BUILD_DIR/sim/board/`` by the hash of the Verilog and the
harness, so the second ``simulate`` of the same design starts in well under a second.
"""

import hashlib
import os
import struct
import subprocess
from importlib import resources

from . import verilated_cache
from .cache import locked as _locked
from .verilator import VERILATOR_ARGS, build_root, setup_verilator

__all__ = ["SimulatedBoard", "build_simulator", "HARNESS"]

#: The C++ harness (package data of :mod:`sim`).
HARNESS = "simulated_board.cpp"

# C++ optimisation of the model: the UART keeps the clock count per byte high (divisor
# clocks per bit), and -O1 halves the run time of -O0 for a few seconds more of compile.
_OPT = "-O1"


def _harness_text():
    return resources.files(__package__).joinpath(HARNESS).read_text()


def build_simulator(core, *, progress=None):
    """Verilate ``core`` (a :class:`~hwgen.host_link.HostLinkCore`) with the harness; return
    the executable's path (cached: built once per design).

    Raises
    ------
    RuntimeError
        Verilator or the C++ build failed (the message names the log file).
    """
    from hwgen.export import to_verilog
    name, verilog = to_verilog(core)
    harness = _harness_text()
    digest = hashlib.sha256("\0".join([verilog, harness, _OPT, *VERILATOR_ARGS]).encode()
                            ).hexdigest()
    bdir = build_root() / "board" / f"{name}-{digest[:12]}"
    exe = bdir / "obj" / "Vtop"
    with _locked(build_root() / "board" / f".{bdir.name}.lock"):
        if exe.exists():
            return exe
        if progress:
            progress(f"building the simulated board {name} (Verilator; once per design)")
        bdir.mkdir(parents=True, exist_ok=True)
        (bdir / f"{name}.v").write_text(verilog)
        (bdir / HARNESS).write_text(harness)
        bindir = setup_verilator()
        env = dict(os.environ)
        log = bdir / "build.log"
        with open(log, "w") as out:
            def step(cmd, cwd):
                res = subprocess.run(cmd, cwd=cwd, env=env, stdout=out,
                                     stderr=subprocess.STDOUT)
                if res.returncode != 0:
                    raise RuntimeError(f"Building the simulated board failed ({cmd[0]}); "
                                       f"see {log}")
            step([str(bindir / "verilator"), "--cc", "--exe", "--prefix", "Vtop",
                  "--top-module", name, "-Mdir", "obj", *VERILATOR_ARGS, f"{name}.v", HARNESS],
                 bdir)
            obj = bdir / "obj"
            make_vars = [f"OPT_FAST={_OPT}"]
            with verilated_cache.cached_runtime(obj, make_vars, env=env):
                step(["make", "--no-print-directory", "-s", "-j", str(os.cpu_count() or 1),
                      "-f", "Vtop.mk", *make_vars, "Vtop"], obj)
        return exe


class SimulatedBoard:
    """A running simulated board: the transport of :class:`hwgen.host.Accelerator`.

    Parameters
    ----------
    core : HostLinkCore
        The board's core (its ``divisor`` sets the UART model's bit time, its ``clk_hz``
        turns the driver's timeouts into clock cycles).
    progress : callable or None
        Called with a line before a (first, slow) build.
    """

    def __init__(self, core, *, progress=None):
        self.core = core
        self.clk_hz = core.clk_hz
        exe = build_simulator(core, progress=progress)
        self._proc = subprocess.Popen([str(exe), str(core.divisor)], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE)

    # -- transport ---------------------------------------------------------------------------
    def write(self, data):
        data = bytes(data)
        self._send(b"W" + struct.pack("<I", len(data)) + data)

    def read(self, n, timeout):
        """Up to ``n`` bytes; fewer when ``timeout`` *simulated* seconds pass first."""
        cycles = max(1, int(timeout * self.clk_hz))
        self._send(b"R" + struct.pack("<IQ", n, cycles))
        (k,) = struct.unpack("<I", self._recv(4))
        return self._recv(k)

    def discard_input(self):
        self._send(b"D")

    def close(self):
        if self._proc.poll() is None:
            try:
                self._send(b"Q")
                self._proc.stdin.close()
                self._proc.wait(timeout=10)
            except (OSError, RuntimeError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait()
        for f in (self._proc.stdin, self._proc.stdout):
            if f is not None and not f.closed:
                f.close()

    # -- facts -------------------------------------------------------------------------------
    def stats(self):
        """``dict(cycles=, bytes_to_board=, bytes_from_board=, framing_errors=)`` so far."""
        self._send(b"S")
        cycles, sent, received, framing = struct.unpack("<4Q", self._recv(32))
        return dict(cycles=cycles, bytes_to_board=sent, bytes_from_board=received,
                    framing_errors=framing)

    def _send(self, data):
        try:
            self._proc.stdin.write(data)
            self._proc.stdin.flush()
        except (BrokenPipeError, ValueError) as e:
            raise RuntimeError(f"The simulated board has stopped (exit status "
                               f"{self._proc.poll()})") from e

    def _recv(self, n):
        data = self._proc.stdout.read(n) if n else b""
        if len(data) != n:
            raise RuntimeError(f"The simulated board has stopped (exit status "
                               f"{self._proc.poll()})")
        return data

    def __del__(self):
        proc = getattr(self, "_proc", None)
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()


