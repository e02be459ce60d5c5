"""SparseMatVec against the golden zero-skipping product (hwgen.golden.compress.spmv_csc).

Random integer matrices of density 0 %, 1 %, 50 % and 100 % (several shapes, extreme values
included) and random vectors: the non-zeros go in CSC order, every column's result must come
out exactly once and in order. Every product runs with no stalls -- where the cycle count is
checked to be about ``nnz + cols``, not ``rows * cols`` -- and with random idle cycles on every
input and random back-pressure on the output.
"""

import time

import cocotb
import numpy as np
import pytest

from hwgen.golden.compress import csc, spmv_csc
from hwgen.units.spmv import SparseMatVec
from sim.params import get_params, write_report
from sim.runner import run
from sim.streams import StreamDriver, StreamMonitor, pack_struct, reset, settle, start_clock, \
    to_signed

UNIT_KEYS = ("row_bits", "col_bits", "x_width", "value_width", "count_width", "acc_width")
# cycles beyond nnz + cols that one product may take (pipeline fill, start, done)
OVERHEAD = 4


def unit_params(comp):
    return {k: getattr(comp, k) for k in UNIT_KEYS}


def _ints(rng, width, size):
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    n = int(np.prod(size))
    v = rng.integers(lo, hi + 1, size=n)
    # the extremes, where sign handling and overflow bite
    v[:n // 8] = rng.choice([lo, hi], size=n // 8)
    return rng.permutation(v).reshape(size)


def make_cases(unit, rng, scale=1.0):
    R, C = 1 << unit["row_bits"], 1 << unit["col_bits"]
    shapes = [(min(R, max(1, int(64 * scale))), min(C, max(1, int(32 * scale)))),
              (min(R, 3), min(C, 50)), (R, min(C, 4)), (1, 1)]
    cases = []
    for density in (0.0, 0.01, 0.5, 1.0):
        for r, c in shapes:
            w = _ints(rng, unit["value_width"], (r, c))
            w[w == 0] = 1
            mask = np.zeros(w.size, dtype=bool)
            mask[rng.choice(w.size, size=int(round(density * w.size)), replace=False)] = True
            w[~mask.reshape(w.shape)] = 0
            x = _ints(rng, unit["x_width"], r)
            cases.append((f"{r}x{c} density {density:.0%}", x, w))
    return cases


class TB:
    def __init__(self, dut, unit, seed):
        self.dut = dut
        self.unit = unit
        self.timed_out = False
        self.comp = SparseMatVec(**unit)
        self.drivers = {n: StreamDriver(dut, n, seed=seed + i)
                        for i, n in enumerate(("x", "start", "nz"))}
        self.out = StreamMonitor(dut, "y", seed=seed + 9)

    def stalls(self, idle, backpressure):
        for d in self.drivers.values():
            d.idle_prob = idle
        self.out.backpressure = backpressure

    async def settle(self, drivers, budget=20_000):
        """Wait until ``drivers`` have sent everything and the DUT is idle (at most ``budget``
        cycles, else mark the run timed out)."""
        if not await settle(self.dut, drivers, budget):
            self.timed_out = True

    async def run_case(self, x, w, timeout):
        rows, counts, values = csc(w)
        expected = spmv_csc(x, rows, counts, values, self.unit["acc_width"])
        d = self.drivers
        for i, v in enumerate(x.tolist()):
            d["x"].append(pack_struct({"addr": i, "data": v}, self.comp.x_layout))
        await d["x"].wait_idle()
        before = len(self.out.items)
        t_start = self.out.cycle
        d["start"].append(pack_struct({"nnz": len(values), "cols": w.shape[1]},
                                      self.comp.start_layout))
        for r, c, v in zip(rows.tolist(), np.repeat(np.arange(w.shape[1]), counts).tolist(),
                           values.tolist()):
            d["nz"].append(pack_struct({"row": r, "col": c, "value": v}, self.comp.nz_layout))
        self.timed_out = False
        try:
            await self.out.wait_for(before + len(expected), timeout_cycles=timeout)
        except TimeoutError:  # report what came out; the caller stops
            self.timed_out = True
        if not self.timed_out:
            await self.settle(list(d.values()))
        got = [to_signed(v, self.unit["acc_width"]) for v in self.out.items[before:]]
        cycles = self.out.transfers[-1][0] - t_start if got else 0
        return expected, got, cycles, len(values)


@cocotb.test()
async def products(dut):
    p = get_params()
    unit = {k: p[k] for k in UNIT_KEYS}
    seed = int(p.get("seed", 1))
    scale = float(p.get("scale", 1.0))
    if p.get("vectors"):
        scale = max(0.1, int(p["vectors"]) / 2000)
    rng = np.random.default_rng(seed)
    cases = make_cases(unit, rng, scale)
    start_clock(dut)
    tb = TB(dut, unit, seed)
    await reset(dut)
    t0 = time.monotonic()
    vectors = mismatches = 0
    first, slow = [], []
    for idle, bp in ((0.0, 0.0), (0.3, 0.3), (0.5, 0.5)):
        if tb.timed_out:
            break
        tb.stalls(idle, bp)
        for name, x, w in cases:
            timeout = 500 + 40 * (np.count_nonzero(w) + w.shape[1])
            exp, got, cycles, nnz = await tb.run_case(x, w, timeout)
            vectors += len(exp)
            bad = [i for i, (e, g) in enumerate(zip(exp, got)) if e != g]
            bad += list(range(min(len(exp), len(got)), max(len(exp), len(got))))
            mismatches += len(bad)
            for i in bad[:3]:
                if len(first) < 10:
                    first.append(f"{name} (idle {idle}, back-pressure {bp}) y[{i}]: "
                                 f"expected {exp[i] if i < len(exp) else None}, "
                                 f"got {got[i] if i < len(got) else None}")
            if idle == 0 and bp == 0 and cycles > nnz + w.shape[1] + OVERHEAD:
                slow.append(f"{name}: {cycles} cycles for {nnz} non-zeros and "
                            f"{w.shape[1]} columns")
            if tb.timed_out:
                mismatches += 0 if bad else 1  # stuck after its last output
                first.insert(0, f"{name} (idle {idle}, back-pressure {bp}): timed out after "
                                f"{len(got)} of {len(exp)} outputs; later products not run")
                break
    write_report({"vectors": vectors, "mismatches": mismatches, "first_mismatches": first,
                  "seconds": time.monotonic() - t0, "slow": slow})
    assert mismatches == 0, first
    assert not slow, slow


@pytest.mark.parametrize("unit", [
    dict(row_bits=7, col_bits=6, x_width=8, value_width=8),
    dict(row_bits=3, col_bits=6, x_width=5, value_width=3, acc_width=6),
], ids=["int8", "narrow-wrapping"])
def test_spmv(unit):
    comp = SparseMatVec(**unit)
    r = run(comp, test_module="rtl_tests.test_spmv", params={**unit_params(comp), "seed": 7})
    assert r.passed, (r.report.get("first_mismatches"), r.report.get("slow"))
    assert r.report["mismatches"] == 0 and r.report["vectors"] > 0
    assert r.report["slow"] == []
