"""cocotb test of :class:`hwgen.units.fmac.FloatMac` against the golden model
(:func:`hwgen.golden.fmac.mac_stream`), bit for bit (``hwgen sim fmac`` and
``rtl_tests/test_fmac.py``).

Random dot products of length 1..1000 with random idle cycles on the input and random
back-pressure on the output; every result is counted exactly once.

Parameters: :func:`unit_params` of the unit, plus ``pairs`` (operand pairs), ``scale``,
``idle``, ``backpressure``, ``seed``, ``directed`` (``"ones"``: ``pairs`` products of 1 * 1 in
one dot product) and, from ``hwgen sim``, ``mode``/``vectors``.
"""

import time

import cocotb
from cocotb.triggers import RisingEdge
import numpy as np

from hwgen import golden
from hwgen.formats import FRM, parse_format
from hwgen.golden.fmac import mac_stream

from .params import get_params, write_report
from .streams import StreamDriver, StreamMonitor, reset, start_clock

__all__ = ["fmac_random_streams", "unit_params", "make_stream", "expected"]


def unit_params(unit):
    """The parameters of :class:`hwgen.units.fmac.FloatMac` ``unit`` the cocotb test needs."""
    return {"mul_fmt": unit.mul_fmt.name, "b_fmt": unit.b_fmt.name,
            "acc_fmt": unit.acc_fmt.name, "out_fmt": unit.out_fmt.name,
            "accumulate": unit.accumulate, "rounding": unit.rounding,
            "max_terms": unit.max_terms}


def make_stream(p, rng, n_pairs=None):
    """Random pairs with random dot-product lengths (1 and 1000 always among them)."""
    fa, fb = parse_format(p["mul_fmt"]), parse_format(p["b_fmt"])
    lengths = [1, 1000, 2, 17] if n_pairs is None else []
    total = n_pairs or p.get("pairs", 3000)
    while sum(lengths) < total:
        lengths.append(int(rng.integers(1, 1001)))
    if n_pairs is not None:
        lengths[-1] -= sum(lengths) - total
    lengths = [n for n in lengths if n > 0]
    a, b, last = [], [], []
    for i, n in enumerate(lengths):
        # Mostly well-scaled values (so long sums stay finite and rounding matters); every
        # fourth dot product uses raw random encodings (NaN, Inf, subnormals, extremes).
        if i % 4 == 3:
            a.append(rng.integers(0, 1 << fa.width, n, dtype=np.uint64))
            b.append(rng.integers(0, 1 << fb.width, n, dtype=np.uint64))
        else:
            scale = float(p.get("scale", 1.0))
            a.append(golden.encode(fa, rng.standard_normal(n) * scale))
            b.append(golden.encode(fb, rng.standard_normal(n)))
        last.append(np.arange(n) == n - 1)
    return np.concatenate(a), np.concatenate(b), np.concatenate(last)


def expected(p, a, b, last, rm):
    kw = dict(mul_fmt=p["mul_fmt"], b_fmt=p["b_fmt"], acc_fmt=p["acc_fmt"],
              accumulate=p["accumulate"], rounding=rm)
    if p["accumulate"] == "exact":
        kw.update(out_fmt=p["out_fmt"], max_terms=p["max_terms"])
    return mac_stream(a, b, last, **kw)


@cocotb.test()
async def fmac_random_streams(dut):
    p = get_params()
    seed = int(p.get("seed", 1))
    rng = np.random.default_rng(seed)
    fa, fb, fo = (parse_format(p[k]) for k in ("mul_fmt", "b_fmt", "out_fmt"))
    if p.get("directed") == "ones":
        n = int(p["pairs"])
        one_a = int(golden.encode(fa, np.array([1.0]))[0])
        one_b = int(golden.encode(fb, np.array([1.0]))[0])
        a = np.full(n, one_a, np.uint64)
        b = np.full(n, one_b, np.uint64)
        last = np.arange(n) == n - 1
    else:
        a, b, last = make_stream(p, rng, p.get("vectors") if p.get("mode") == "cli" else None)
    dynamic = p["rounding"] == "dynamic"
    modes = list(FRM) if dynamic else [p["rounding"]]
    start_clock(dut)
    t0 = time.monotonic()
    checked = mismatches = 0
    first = []
    src = StreamDriver(dut, "i", idle_prob=p.get("idle", 0.3), seed=seed)
    snk = StreamMonitor(dut, "o", backpressure=p.get("backpressure", 0.3), seed=seed + 1)
    await reset(dut)
    wa, wb = fa.width, fb.width
    n_res = int(last.sum())
    ends = np.flatnonzero(last)
    done = 0
    for mode in modes:
        # The previous mode's results are all out, so the pipeline is empty: switch rm.
        if dynamic:
            await RisingEdge(dut.clk)  # leave the read-only phase wait_for returned in
            dut.rm.value = FRM[mode]
        for x, y, l in zip(a, b, last):
            src.append(int(x) | (int(y) << wa) | (int(l) << (wa + wb)))
        got = (await snk.wait_for(done + n_res, timeout_cycles=20 * len(a) + 1000))[done:]
        done += n_res
        want_y, want_f = expected(p, a, b, last, mode)
        for k, word in enumerate(got):
            y, f = word & ((1 << fo.width) - 1), word >> fo.width
            checked += 1
            if y != int(want_y[k]) or f != int(want_f[k]):
                mismatches += 1
                if len(first) < 10:
                    first.append(f"{mode} result {k} (pairs ending at {ends[k]}): rtl "
                                 f"{golden.decode(fo, np.array([y]))[0]!r} flags {f:04b}, "
                                 f"golden {golden.decode(fo, want_y[k:k + 1])[0]!r} "
                                 f"flags {int(want_f[k]):04b}")
    await src.wait_idle()
    # Nothing more may come out: every result exactly once.
    for _ in range(20):
        await RisingEdge(dut.clk)
    assert len(snk.items) == done, f"{len(snk.items)} results for {done} dot products"
    secs = time.monotonic() - t0
    write_report({"vectors": int(len(a) * len(modes)), "results": checked,
                  "mismatches": mismatches, "first_mismatches": first, "seconds": secs})
    assert mismatches == 0, first

