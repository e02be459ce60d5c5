# amaranth: UnusedElaboratable=no
"""Testbench of :class:`hwgen.units.MxDot` against :func:`hwgen.golden.mx_dot`, bit for bit
(``hwgen sim mxdot``, ``rtl_tests/test_mxdot.py``, and the Amaranth-simulator test
``tests/test_mxdot_amaranth.py``, which shares the stimulus below; the volume, every element
pair and 100,000 random blocks per format, goes through a plain Verilog testbench:
:func:`pair_dots`, :func:`window_dots`, :func:`plain_words`,
``rtl_tests/test_mxdot_plain.py``).

Random dot products of 1 to 3 blocks: random scales (including 0, 254 and NaN), E4M3/E5M2
NaN/Inf elements in some blocks, exact cancellations between blocks, deep underflow; for a
dynamic-rounding unit a random mode per dot product. The scales, ``last`` and ``rm`` are
garbage on the beats where the unit must ignore them. The source idles and the sink stalls
at random; every result must arrive exactly once and in order.
"""

import time

import cocotb
import numpy as np

from hwgen.golden import mx_dot, mx_element_decode
from hwgen.golden.mx import mx_element_encode

from .params import get_params, write_report
from .streams import compare_results, exchange

__all__ = ["run_random", "build_unit", "unit_params", "random_elements", "random_dots",
           "special_dots", "pair_dots", "window_dots", "expected", "beats", "beat_words",
           "plain_words", "full_rate", "WIDTH"]

WIDTH = {"e4m3": 8, "e5m2": 8, "e3m2": 6, "e2m3": 6, "e2m1": 4, "int8": 8}
_KEYS = ("elem", "b_elem", "lanes", "rounding")


def unit_params(unit):
    """The parameters of the :class:`~hwgen.units.MxDot` ``unit`` (they rebuild it; a
    pipeline other than the default as its cut points)."""
    p = {k: getattr(unit, k) for k in _KEYS}
    if unit.module_name != unit._base_name():
        p.update(sum_cuts=list(unit.sum_cuts), acc_cuts=list(unit.acc_cuts))
    return p


def build_unit(p):
    """The :class:`~hwgen.units.MxDot` of the parameters ``p`` (``sum_cuts``/``acc_cuts`` or
    ``sum_latency``/``acc_latency`` when given)."""
    from hwgen.units import MxDot
    pipe = {k: p[k] for k in ("sum_cuts", "acc_cuts", "sum_latency", "acc_latency")
            if p.get(k) is not None}
    return MxDot(p["elem"], b_elem=p.get("b_elem"), lanes=p.get("lanes", 8),
                 rounding=p.get("rounding", "rne"), **pipe)


def random_elements(elem, shape, rng, p_special=0.15):
    """Finite codes uniformly; for E4M3/E5M2 a special code in ``p_special`` of the blocks."""
    if elem not in ("e4m3", "e5m2"):
        return rng.integers(0, 1 << WIDTH[elem], shape)
    vals = mx_element_decode(elem, np.arange(256))
    finite = np.flatnonzero(np.isfinite(vals))
    special = np.flatnonzero(~np.isfinite(vals))
    c = finite[rng.integers(0, len(finite), shape)]
    hit = np.nonzero(rng.random(shape[:-1]) < p_special)
    c[hit + (rng.integers(0, shape[-1], len(hit[0])),)] = special[
        rng.integers(0, len(special), len(hit[0]))]
    return c


def random_dots(ea, eb, n, rng):
    """``n`` dot products: ``(a_scales, a_codes (nb, 32), b_scales, b_codes)`` each, of 1 to 3
    blocks; every fifth dot of two or more blocks cancels its block 0 exactly by block 1."""
    nbs = rng.integers(1, 4, n)
    total = int(nbs.sum())
    kind = rng.integers(0, 10, (2, total))
    scales = np.select([kind < 5, kind < 7, kind < 9],
                       [rng.integers(117, 138, (2, total)), rng.integers(0, 12, (2, total)),
                        rng.integers(243, 255, (2, total))], 255)
    ca = random_elements(ea, (total, 32), rng)
    cb = random_elements(eb, (total, 32), rng)
    starts = np.concatenate([[0], np.cumsum(nbs)[:-1]])
    first = starts[(np.arange(n) % 5 == 0) & (nbs > 1)]
    scales[:, first + 1] = scales[:, first]
    cb[first + 1] = cb[first]
    if ea == "int8":
        ca[first + 1] = (-ca[first].astype(np.int8)).astype(np.uint8)
    else:
        ca[first + 1] = ca[first] ^ (1 << (WIDTH[ea] - 1))
    return [(scales[0, s:s + k], ca[s:s + k], scales[1, s:s + k], cb[s:s + k])
            for s, k in zip(starts.tolist(), nbs.tolist())]


def special_dots():
    """E5M2 x E5M2 IEEE cases random blocks rarely hit: +Inf and -Inf products in one block,
    Inf * 0, signaling and quiet NaNs, +Inf then -Inf in two blocks, Inf then a NaN scale,
    overflow to Inf."""
    one, inf, ninf, snan, qnan, big = 0x3C, 0x7C, 0xFC, 0x7D, 0x7E, 0x7B
    cases = [  # per dot: per block: [(lane, a code, b code), ...], (a scale, b scale)
        [([(0, inf, one), (1, ninf, one)], (127, 127))],
        [([(0, inf, 0)], (127, 127))],
        [([(3, snan, one)], (127, 127))],
        [([(5, one, qnan)], (127, 127))],
        [([(0, inf, one)], (127, 127)), ([(0, one, ninf)], (127, 127))],
        [([(0, inf, one)], (127, 127)), ([(0, one, one)], (255, 127))],
        [([(2, ninf, one)], (127, 127)), ([(0, one, one)], (130, 127))],
        [([(k, big, big) for k in range(32)], (254, 254))],
    ]
    dots = []
    for blocks in cases:
        nb = len(blocks)
        ca, cb = np.zeros((nb, 32), np.int64), np.zeros((nb, 32), np.int64)
        sa, sb = np.zeros(nb, np.int64), np.zeros(nb, np.int64)
        for j, (lanes, (x, y)) in enumerate(blocks):
            sa[j], sb[j] = x, y
            for k, a, b in lanes:
                ca[j, k], cb[j, k] = a, b
        dots.append((sa, ca, sb, cb))
    return dots


def pair_dots(elem, rng):
    """Every pair of ``elem`` codes (a x b), each product seen in a result: the pairs of
    finite codes sorted by the product's magnitude and cut into blocks of 32 (so a block's
    exact sum spans few binades and FP32 holds it exactly), a pair with a NaN or infinite
    code alone in a block of zeros; one block per dot product, scales at random around 127
    (``(a_scales, a_codes (1, 32), b_scales, b_codes)`` each)."""
    codes = np.arange(1 << WIDTH[elem])
    ca, cb = (x.ravel() for x in np.meshgrid(codes, codes, indexing="ij"))
    vals = mx_element_decode(elem, codes)
    va, vb = vals[ca], vals[cb]
    finite = np.isfinite(va) & np.isfinite(vb)
    with np.errstate(invalid="ignore", over="ignore"):
        order = np.argsort(np.abs(va[finite] * vb[finite]), kind="stable")
    fa, fb = ca[finite][order], cb[finite][order]
    pad = -len(fa) % 32
    blocks_a = [np.concatenate([fa, np.zeros(pad, np.int64)]).reshape(-1, 32)]
    blocks_b = [np.concatenate([fb, np.zeros(pad, np.int64)]).reshape(-1, 32)]
    n_special = int((~finite).sum())
    if n_special:
        lane = rng.integers(0, 32, n_special)
        sa, sb = np.zeros((n_special, 32), np.int64), np.zeros((n_special, 32), np.int64)
        sa[np.arange(n_special), lane] = ca[~finite]
        sb[np.arange(n_special), lane] = cb[~finite]
        blocks_a.append(sa)
        blocks_b.append(sb)
    a_blocks, b_blocks = np.concatenate(blocks_a), np.concatenate(blocks_b)
    scales = rng.integers(117, 138, (len(a_blocks), 2))
    return [(scales[k, :1], a_blocks[k:k + 1], scales[k, 1:], b_blocks[k:k + 1])
            for k in range(len(a_blocks))]


def window_dots(ea, eb):
    """Dot products at the edge of the accumulation's window (:func:`hwgen.units.mxdot.
    mx_acc_geometry`: the FP32 accumulator placed at most ``K`` bits above the block sum's
    LSB, the sum a sticky bit below that): block 0 sets the accumulator to ±1 or ±1.5, block
    1 adds 1, 8, 31 or 32 lanes of the largest product, of either sign, scaled 2**d below,
    ``d`` from -90 to 0, so the sum's LSB crosses every place of the window. A window one
    bit too narrow (``K = Pp``) gets results of these wrong that random blocks never reach.
    ``(a_scales, a_codes (2, 32), b_scales, b_codes)`` each."""
    def enc(elem, v):
        return int(mx_element_encode(elem, np.array([v], float))[0])
    one_b = enc(eb, 1.0)
    big_a, big_b, nbig_b = enc(ea, -1e9), enc(eb, 1e9), enc(eb, -1e9)
    dots = []
    for acc in (enc(ea, v) for v in (1.0, 1.5, -1.0, -1.5)):
        for n in (1, 8, 31, 32):
            for b in (nbig_b, big_b):
                for d in range(-90, 1):
                    ca, cb = np.zeros((2, 32), np.int64), np.zeros((2, 32), np.int64)
                    ca[0, 0], cb[0, 0] = acc, one_b
                    ca[1, :n], cb[1, :n] = big_a, b
                    dots.append((np.array([127, 127 + d]), ca, np.array([127, 127]), cb))
    return dots


def plain_words(unit, dots, modes, rng):
    """The beat words and expected result words of ``dots`` for ``rtl_tests/plain/
    stream_tb.v``: a beat is ``i__payload`` with ``rm`` above it (dynamic rounding), a result
    ``y | flags << 32`` (``o__payload``)."""
    width = len(unit.i.payload.as_value())
    words = [w | (rm << width if unit.rounding == "dynamic" else 0)
             for w, rm in beat_words(unit.elem, unit.b_elem, unit.lanes, dots, modes, rng)]
    return words, [y | (f << 32) for y, f in expected(dots, unit.elem, unit.b_elem, modes)]


def expected(dots, ea, eb, modes):
    """Golden ``(y, flags)`` of each dot product in its rounding mode (one vectorized
    :func:`mx_dot` call per block count and mode)."""
    want = [None] * len(dots)
    groups = {}
    for k, ((sa, _, _, _), mode) in enumerate(zip(dots, modes)):
        groups.setdefault((len(sa), mode if isinstance(mode, str) else "dyn"), []).append(k)
    for (_nb, kind), idx in groups.items():
        sa = np.stack([dots[k][0] for k in idx])
        ca = np.stack([dots[k][1].ravel() for k in idx])
        sb = np.stack([dots[k][2] for k in idx])
        cb = np.stack([dots[k][3].ravel() for k in idx])
        rounding = kind if kind != "dyn" else np.array([int(modes[k]) for k in idx])
        y, f = mx_dot((sa, ca), (sb, cb), ea, eb, rounding=rounding)
        for k, yy, ff in zip(idx, y, f):
            want[k] = (int(yy), int(ff))
    return want


def _beat_fields(lanes, dots, modes, rng):
    """Every beat of every dot product as ``(fields, rm)``: ``fields`` the payload's fields
    (``a``, ``b`` as lists of lane codes), with garbage in the scales, ``last`` and ``rm`` of
    the beats that are not a block's last (``modes``: a frm code per dot product, or a static
    mode name, whose rm is 0)."""
    n_beats = 32 // lanes
    for (sa, ca, sb, cb), mode in zip(dots, modes):
        nb = len(sa)
        for j in range(nb):
            for k in range(n_beats):
                final = k == n_beats - 1
                junk = rng.integers(0, 256, 3)
                yield {
                    "a": [int(x) for x in ca[j, k * lanes:(k + 1) * lanes]],
                    "b": [int(x) for x in cb[j, k * lanes:(k + 1) * lanes]],
                    "a_scale": int(sa[j]) if final else int(junk[0]),
                    "b_scale": int(sb[j]) if final else int(junk[1]),
                    "last": int(j == nb - 1) if final else int(junk[2] & 1),
                }, ((int(mode) if not isinstance(mode, str) else 0) if final
                    else int(junk[2] % 8))


def beats(layout, lanes, dots, modes, rng):
    """``[(payload as a layout constant, rm), ...]`` of :func:`_beat_fields`."""
    return [(layout.const(f), rm) for f, rm in _beat_fields(lanes, dots, modes, rng)]


def full_rate(unit, payloads, n_results):
    """``payloads`` into ``unit`` (an :class:`~hwgen.units.mxdot.MxDot`) back to back under
    the Amaranth simulator, the source never idle and the sink always ready, until
    ``n_results`` results are out: ``(edges, ys)``, the clock edges that took every payload
    in and the results' ``y`` in order."""
    from amaranth.sim import Simulator
    edges, ys = [0], []

    async def source(ctx):
        ctx.set(unit.i.valid, 1)
        for payload in payloads:
            ctx.set(unit.i.payload, payload)
            while True:                       # one clock edge per loop: count them all
                _, _, ready = await ctx.tick().sample(unit.i.ready)
                edges[0] += 1
                if ready:
                    break
        ctx.set(unit.i.valid, 0)

    async def sink(ctx):
        ctx.set(unit.o.ready, 1)
        while len(ys) < n_results:
            _, _, valid, y = await ctx.tick().sample(unit.o.valid, unit.o.payload.y)
            if valid:
                ys.append(y)

    sim = Simulator(unit)
    sim.add_clock(1e-8)
    sim.add_testbench(source)
    sim.add_testbench(sink)
    sim.run()
    return edges[0], ys


def beat_words(ea, eb, lanes, dots, modes, rng):
    """The beats of :func:`_beat_fields` as ``(int, rm)`` pairs, packed at once with numpy
    (``i__payload`` is ``{last, b_scale, a_scale, b, a}``, lane 0 lowest; the scales,
    ``last`` and ``rm`` of the beats that are not a block's last are garbage)."""
    wa, wb = WIDTH[ea], WIDTH[eb]
    per = 32 // lanes
    nbs = np.array([len(d[0]) for d in dots])
    a = np.concatenate([d[1] for d in dots]).reshape(-1, lanes)
    b = np.concatenate([d[3] for d in dots]).reshape(-1, lanes)
    n = len(a)
    final = np.arange(n) % per == per - 1
    junk = rng.integers(0, 256, (n, 3))
    sa = np.where(final, np.repeat(np.concatenate([d[0] for d in dots]), per), junk[:, 0])
    sb = np.where(final, np.repeat(np.concatenate([d[2] for d in dots]), per), junk[:, 1])
    last_block = np.concatenate([np.arange(k) == k - 1 for k in nbs])
    last = np.where(final, np.repeat(last_block, per), junk[:, 2] & 1)
    mode = np.array([int(m) if not isinstance(m, str) else 0 for m in modes])
    rm = np.where(final, np.repeat(np.repeat(mode, nbs), per), junk[:, 2] % 8)
    fields = [(a[:, i], wa) for i in range(lanes)] + [(b[:, i], wb) for i in range(lanes)]
    fields += [(sa, 8), (sb, 8), (last, 1)]
    width = sum(w for _, w in fields)
    bits = np.zeros((n, -(-width // 8) * 8), np.uint8)
    pos = 0
    for values, w in fields:
        for j in range(w):
            bits[:, pos + j] = (values >> j) & 1
        pos += w
    rows = np.packbits(bits[:, ::-1], axis=1)          # most significant byte first
    return [(int.from_bytes(row.tobytes(), "big"), int(r)) for row, r in zip(rows, rm)]


@cocotb.test()
async def run_random(dut):
    """Random dot products (and, for E5M2 x E5M2, the IEEE special cases) through the
    generated Verilog with random idles and back-pressure, against the golden model."""
    p = get_params()
    seed = int(p.get("seed") or 1)
    n = int(p.get("vectors") or p.get("n") or 2000)      # blocks
    u = build_unit(p)
    rng = np.random.default_rng(seed)
    t0 = time.monotonic()
    dots = random_dots(u.elem, u.b_elem, max(1, n // 2), rng)   # 2 blocks per dot on average
    if u.elem == u.b_elem == "e5m2":
        dots += special_dots()
    dyn = u.rounding == "dynamic"
    modes = rng.integers(0, 8, len(dots)) if dyn else [u.rounding] * len(dots)
    want = expected(dots, u.elem, u.b_elem, modes)
    items = [(w, {"rm": rm}) if dyn else w
             for w, rm in beat_words(u.elem, u.b_elem, u.lanes, dots, modes, rng)]
    got_raw = await exchange(dut, items, len(want), seed=seed, idle=p.get("idle", 0.3),
                             backpressure=p.get("backpressure", 0.3))
    got = [(int(x) & 0xFFFFFFFF, int(x) >> 32) for x in got_raw]
    bad = compare_results(got, want, lambda g, e: f"got y={g[0]:08x} flags={g[1]:04b}, "
                                                  f"expected y={e[0]:08x} flags={e[1]:04b}")
    n_blocks = sum(len(d[0]) for d in dots)
    write_report({"vectors": n_blocks, "mismatches": len(bad), "first_mismatches": bad[:10],
                  "seconds": time.monotonic() - t0, "results": len(want)})
    assert not bad, bad[:5]
