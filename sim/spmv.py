# amaranth: UnusedElaboratable=no
"""cocotb testbench of :class:`hwgen.units.spmv.SparseMatVec` against the golden zero-skipping
product (:func:`hwgen.golden.compress.spmv_csc`), bit for bit (``hwgen sim spmv`` and
``rtl_tests/test_spmv.py``).

Random integer matrices of density 0 %, 1 %, 50 % and 100 % (several shapes, extreme values
included) and random vectors: the non-zeros go in CSC order, every column's result must come
out exactly once and in order. Every product runs with no stalls -- where the cycle count is
checked to be about ``nnz + cols``, not ``rows * cols`` -- and with random idle cycles on every
input and random back-pressure on the output.

Parameters: :func:`unit_params` of the unit, ``seed``, ``scale`` (``hwgen sim``: ``vectors``
scales the matrices).
"""

import cocotb
import numpy as np

from hwgen.golden.compress import csc, spmv_csc

from .compressed import CompressedTB, Outcome
from .params import get_params
from .scoreboard import Scoreboard
from .streams import pack_struct, reset, start_clock, to_signed

__all__ = ["TB", "products", "unit_params", "build_unit", "make_cases", "UNIT_KEYS",
           "OVERHEAD"]

UNIT_KEYS = ("row_bits", "col_bits", "x_width", "value_width", "count_width", "acc_width")
#: Cycles beyond nnz + cols that one product may take (pipeline fill, start, done).
OVERHEAD = 4


def unit_params(comp):
    """The parameters of :class:`~hwgen.units.spmv.SparseMatVec` ``comp`` (they rebuild
    it)."""
    return {k: getattr(comp, k) for k in UNIT_KEYS}


def build_unit(p):
    """The :class:`~hwgen.units.spmv.SparseMatVec` of the parameters ``p``."""
    from hwgen.units.spmv import SparseMatVec
    return SparseMatVec(**{k: p[k] for k in UNIT_KEYS})


def _ints(rng, width, size):
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    n = int(np.prod(size))
    v = rng.integers(lo, hi + 1, size=n)
    # the extremes, where sign handling and overflow bite
    v[:n // 8] = rng.choice([lo, hi], size=n // 8)
    return rng.permutation(v).reshape(size)


def make_cases(unit, rng, scale=1.0):
    """The test products ``(name, x, w)`` for the unit parameters ``unit``."""
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


class TB(CompressedTB):
    """The skeleton on the unit's ``x``, ``start`` and ``nz`` streams and its ``y`` output."""

    def __init__(self, dut, unit, seed):
        super().__init__(dut, ("x", "start", "nz"), "y", seed)
        self.unit = unit
        self.comp = build_unit(unit)

    async def run_case(self, x, w, timeout):
        """Load ``x``, stream the non-zeros of ``w``; return (expected, got, cycles from the
        start to the last result, non-zeros)."""
        rows, counts, values = csc(w)
        expected = spmv_csc(x, rows, counts, values, self.unit["acc_width"])
        await self.load([{"addr": i, "data": v} for i, v in enumerate(x.tolist())],
                        self.comp.x_layout, stream="x")
        before = self.mark()
        t_start = self.out.cycle
        self.drivers["start"].append(pack_struct({"nnz": len(values), "cols": w.shape[1]},
                                                 self.comp.start_layout))
        for r, c, v in zip(rows.tolist(), np.repeat(np.arange(w.shape[1]), counts).tolist(),
                           values.tolist()):
            self.drivers["nz"].append(pack_struct({"row": r, "col": c, "value": v},
                                                  self.comp.nz_layout))
        got, cycles = await self.collect(before, len(expected), timeout)
        got = [to_signed(v, self.unit["acc_width"]) for v in got]
        return expected, got, (cycles[-1] - t_start if got else 0), len(values)


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
    sb = Scoreboard()
    slow = []

    async def run_case(case, idle, bp):
        name, x, w = case
        timeout = 500 + 40 * (np.count_nonzero(w) + w.shape[1])
        exp, got, cycles, nnz = await tb.run_case(x, w, timeout)
        if idle == 0 and bp == 0 and cycles > nnz + w.shape[1] + OVERHEAD:
            slow.append(f"{name}: {cycles} cycles for {nnz} non-zeros and "
                        f"{w.shape[1]} columns")
        return Outcome(name, [int(v) for v in exp], got, item=lambda i: f"y[{i}]")

    runs = [(c, idle, bp) for idle, bp in ((0.0, 0.0), (0.3, 0.3), (0.5, 0.5)) for c in cases]
    await tb.sweep(sb, runs, run_case, what="products")
    sb.set(slow=slow)
    sb.finish()
    assert sb.mismatches == 0, sb.lines
    assert not slow, slow
