"""cocotb testbench of :class:`hwgen.units.requant.Requantize` against
:func:`hwgen.golden.requant.requantize`, bit for bit.

The scoreboard does not assume when configuration changes take effect: an input monitor
samples, in every clock where ``i`` transfers, the payload *and* the configuration the DUT
sees in that clock (its ``multiplier``/``shift``/``zero_point``/``act_min``/``act_max`` ports,
or a mirror of the per-channel register file updated from the ``wr`` port *after* the
sample). Configuration therefore changes at random clocks while items are in flight, and the
expected results follow the unit's documented rule ("sampled when the item is transferred").
Every result is counted exactly once: the number of outputs must equal the number of
transfers, and no output may appear after the last one.
"""

import random
import time

import cocotb
import numpy as np
from cocotb.triggers import ReadOnly, RisingEdge

from hwgen.golden.requant import (INT32_MAX, INT32_MIN, activation_range, quantize_multiplier,
                                  requantize)
from sim.params import get_params, write_report
from sim.streams import StreamDriver, StreamMonitor, pack_struct, reset, start_clock, to_signed

P = get_params()
CLI = P.get("mode") == "cli"
ACC_BITS = P.get("acc_bits", 32)
OUT_BITS = P.get("out_bits", 8)
SIGNED_OUT = P.get("signed_out", True)
PER_CHANNEL = P.get("per_channel")
IDLE = P.get("idle", 0.3)
BACKPRESSURE = P.get("backpressure", 0.3)
SEED = P.get("seed") or 1
LATENCY = P.get("latency", 4)

ACC_MIN, ACC_MAX = -(1 << (ACC_BITS - 1)), (1 << (ACC_BITS - 1)) - 1
QMIN, QMAX = ((-(1 << (OUT_BITS - 1)), (1 << (OUT_BITS - 1)) - 1) if SIGNED_OUT
              else (0, (1 << OUT_BITS) - 1))
ZP_MIN, ZP_MAX = -(1 << OUT_BITS), (1 << OUT_BITS) - 1
CH_BITS = 0 if PER_CHANNEL is None else max(1, (PER_CHANNEL - 1).bit_length())
LAYOUT = [("acc", ACC_BITS, True), ("bias", ACC_BITS, True)] + (
    [("ch", CH_BITS)] if PER_CHANNEL is not None else [])

_totals = {"vectors": 0, "mismatches": 0, "first_mismatches": [], "seconds": 0.0}


def _report(vectors, mismatches, lines, seconds):
    _totals["vectors"] += vectors
    _totals["mismatches"] += mismatches
    _totals["first_mismatches"] = (_totals["first_mismatches"] + lines)[:20]
    _totals["seconds"] += seconds
    write_report(dict(_totals))


# -- random values ---------------------------------------------------------------------------

M0_SPECIALS = [0, 1, -1, INT32_MIN, INT32_MAX, 1 << 30, -(1 << 30), (1 << 30) + 1,
               INT32_MAX - 1, INT32_MIN + 1]


def rand_acc(rng):
    r = rng.random()
    if r < 0.15:
        return rng.choice([ACC_MIN, ACC_MAX, 0, -1, 1, ACC_MIN + 1, ACC_MAX - 1])
    if r < 0.3:
        return rng.randint(ACC_MIN, ACC_MAX)
    k = rng.randint(0, ACC_BITS - 1)  # log-uniform magnitude: some land in the output range
    return max(ACC_MIN, min(ACC_MAX, rng.choice([-1, 1]) * rng.randrange(1 << k)))


def rand_bias(rng):
    return 0 if rng.random() < 0.3 else rand_acc(rng)


def rand_scale_pair(rng):
    """(M0, shift): mostly from a real scale via QuantizeMultiplier, sometimes any int32."""
    r = rng.random()
    if r < 0.2:
        return rng.choice(M0_SPECIALS), rng.randint(-32, 31)
    if r < 0.35:
        return rng.randint(INT32_MIN, INT32_MAX), rng.randint(-32, 31)
    while True:
        scale = rng.choice([-1, 1, 1, 1]) * 2.0 ** rng.uniform(-30, 3)
        m0, sh = quantize_multiplier(scale)
        if -32 <= sh <= 31:
            return m0, sh


def rand_clamp(rng, zp):
    r = rng.random()
    if r < 0.4:
        return QMIN, QMAX
    if r < 0.7:
        act = rng.choice(["relu", "relu6", "relu_n1_to_1"])
        lo, hi = activation_range(act, OUT_BITS, SIGNED_OUT, min(max(zp, QMIN), QMAX),
                                  2.0 ** rng.uniform(-8, 2))
        return int(lo), int(hi)
    return rng.randint(QMIN, QMAX), rng.randint(QMIN, QMAX)  # may be crossed: max, then min


def rand_zp(rng):
    r = rng.random()
    if r < 0.3:
        return 0
    if r < 0.45:
        return rng.choice([ZP_MIN, ZP_MAX, QMIN, QMAX])
    return rng.randint(ZP_MIN, ZP_MAX)


# -- testbench -------------------------------------------------------------------------------

class TB:
    def __init__(self, dut, *, idle=IDLE, backpressure=BACKPRESSURE, seed=SEED):
        self.dut = dut
        self.rng = random.Random(seed)
        start_clock(dut)
        self.src = StreamDriver(dut, "i", idle_prob=idle, seed=seed + 1)
        self.snk = StreamMonitor(dut, "o", backpressure=backpressure, seed=seed + 2)
        self.records = []       # (acc, bias, m0, shift, zp, lo, hi) per input transfer
        self.regs = [(0, 0)] * (PER_CHANNEL or 0)
        self.random_config = False
        self.writes = []
        self.writing = False
        self.appended = 0
        self.cycles = 0
        dut.zero_point.value = 0
        dut.act_min.value = QMIN & ((1 << OUT_BITS) - 1)
        dut.act_max.value = QMAX & ((1 << OUT_BITS) - 1)
        if PER_CHANNEL is None:
            dut.multiplier.value = 0
            dut.shift.value = 0
        else:
            dut.wr__en.value = 0
            dut.wr__addr.value = 0
            dut.wr__multiplier.value = 0
            dut.wr__shift.value = 0

    async def start(self):
        cocotb.start_soon(self._sample_inputs())  # before the first item can be transferred
        await reset(self.dut)
        cocotb.start_soon(self._drive_config())

    # What the DUT sees in the clock of each input transfer.
    async def _sample_inputs(self):
        d = self.dut
        while True:
            await RisingEdge(d.clk)
            await ReadOnly()
            self.cycles += 1
            if int(d.i__valid.value) and int(d.i__ready.value):
                word = int(d.i__payload.value)
                acc = to_signed(word, ACC_BITS)
                bias = to_signed(word >> ACC_BITS, ACC_BITS)
                if PER_CHANNEL is None:
                    m0, sh = d.multiplier.value.to_signed(), d.shift.value.to_signed()
                else:
                    ch = word >> (2 * ACC_BITS)
                    m0, sh = self.regs[ch] if ch < PER_CHANNEL else (0, 0)
                zp = d.zero_point.value.to_signed()
                lo = d.act_min.value.to_signed() if SIGNED_OUT else int(d.act_min.value)
                hi = d.act_max.value.to_signed() if SIGNED_OUT else int(d.act_max.value)
                self.records.append((acc, bias, m0, sh, zp, lo, hi))
            if PER_CHANNEL is not None and int(d.wr__en.value):
                addr = int(d.wr__addr.value)
                if addr < PER_CHANNEL:  # the write lands at the coming edge, after the sample
                    self.regs[addr] = (d.wr__multiplier.value.to_signed(),
                                       d.wr__shift.value.to_signed())

    def set_tensor_config(self, m0=None, sh=None, zp=None, lo=None, hi=None):
        d = self.dut
        if m0 is not None:
            d.multiplier.value = m0 & 0xFFFFFFFF
        if sh is not None:
            d.shift.value = sh & 0x3F
        if zp is not None:
            d.zero_point.value = zp & ((1 << (OUT_BITS + 1)) - 1)
        if lo is not None:
            d.act_min.value = lo & ((1 << OUT_BITS) - 1)
        if hi is not None:
            d.act_max.value = hi & ((1 << OUT_BITS) - 1)

    def write_reg(self, addr, m0, sh):
        """Queue a register-file write (driven on ``wr`` for one clock, in order)."""
        self.writes.append((addr, m0, sh))

    async def writes_done(self):
        while self.writes or self.writing:
            await RisingEdge(self.dut.clk)

    async def _drive_config(self):
        """The one writer of the ``wr`` port: queued writes first; while ``random_config`` is
        set, also random configuration changes at random clocks."""
        d = self.dut
        while True:
            await RisingEdge(d.clk)
            rng = self.rng
            if PER_CHANNEL is not None:
                write = None
                if self.writes:
                    write = self.writes.pop(0)
                elif self.random_config and rng.random() < 0.1:
                    # Out-of-range addresses too: they must be ignored.
                    write = (rng.randrange(1 << CH_BITS),) + rand_scale_pair(rng)
                self.writing = write is not None
                if write is not None:
                    addr, m0, sh = write
                    d.wr__en.value = 1
                    d.wr__addr.value = addr
                    d.wr__multiplier.value = m0 & 0xFFFFFFFF
                    d.wr__shift.value = sh & 0x3F
                else:
                    d.wr__en.value = 0
            if not self.random_config:
                continue
            if rng.random() < 0.05:
                zp = rand_zp(rng)
                lo, hi = rand_clamp(rng, zp)
                self.set_tensor_config(zp=zp, lo=lo, hi=hi)
            if PER_CHANNEL is None and rng.random() < 0.1:
                m0, sh = rand_scale_pair(rng)
                self.set_tensor_config(m0=m0, sh=sh)

    def send(self, items):
        self.appended += len(items)
        for acc, bias, ch in items:
            self.src.append(pack_struct({"acc": acc, "bias": bias, "ch": ch}
                                        if PER_CHANNEL is not None else
                                        {"acc": acc, "bias": bias}, LAYOUT))

    async def drain(self, timeout=20_000):
        # The driver's queue drains at one item per clock plus idle and stall clocks; a
        # generous bound turns a hung handshake into a reported failure, not a hang.
        for _ in range(50 * (self.appended - self.src.sent) + 20_000):
            if self.src.idle():
                break
            await RisingEdge(self.dut.clk)
        try:
            await self.snk.wait_for(len(self.records), timeout_cycles=timeout)
        except TimeoutError:
            pass  # missing results are counted as mismatches by check()
        for _ in range(LATENCY + 4):  # nothing more may come out
            await RisingEdge(self.dut.clk)

    def check(self, t0):
        """Compare every output with the golden model; return (vectors, mismatches)."""
        got = [to_signed(x, OUT_BITS) if SIGNED_OUT else x for x in self.snk.items]
        rec = np.array(self.records, dtype=np.int64).reshape(-1, 7)
        exp = requantize(rec[:, 0], rec[:, 1], rec[:, 2], rec[:, 3], rec[:, 4], OUT_BITS,
                         SIGNED_OUT, act_min=rec[:, 5], act_max=rec[:, 6])
        exp = np.atleast_1d(exp)
        lines = []
        bad = 0
        for k in range(min(len(got), len(exp))):
            if got[k] != exp[k]:
                bad += 1
                if len(lines) < 10:
                    acc, bias, m0, sh, zp, lo, hi = (int(v) for v in rec[k])
                    lines.append(f"#{k}: acc={acc} bias={bias} M0={m0} shift={sh} zp={zp} "
                                 f"clamp=[{lo},{hi}]: got {got[k]}, expected {int(exp[k])}")
        if len(got) != len(exp):
            bad += abs(len(got) - len(exp))
            lines.append(f"{len(got)} results for {len(exp)} inputs")
        if self.appended != len(exp):
            bad += abs(self.appended - len(exp))
            lines.append(f"{len(exp)} of {self.appended} items were taken")
        _report(len(exp), bad, lines, time.monotonic() - t0)
        return len(exp), bad


def _items(rng, n):
    return [(rand_acc(rng), rand_bias(rng), rng.randrange(1 << CH_BITS) if CH_BITS else 0)
            for _ in range(n)]


@cocotb.test()
async def random_stream(dut):
    """Random items, configuration changing at random clocks, random stalls on both sides."""
    t0 = time.monotonic()
    tb = TB(dut)
    await tb.start()
    n = P.get("vectors") or (3000 if not CLI else 20000)
    for k in range(PER_CHANNEL or 0):
        tb.write_reg(k, *rand_scale_pair(tb.rng))
    await tb.writes_done()
    tb.random_config = True
    tb.send(_items(tb.rng, n))
    await tb.drain()
    tb.random_config = False
    vectors, bad = tb.check(t0)
    assert vectors == n == tb.src.sent
    assert bad == 0, _totals["first_mismatches"]


async def _batches(tb, batches):
    """Each batch: a held configuration ``(m0, sh, zp, lo, hi)`` and its items."""
    for (m0, sh, zp, lo, hi), items in batches:
        await RisingEdge(tb.dut.clk)
        if PER_CHANNEL is None:
            tb.set_tensor_config(m0=m0, sh=sh)
        else:
            tb.write_reg(0, m0, sh)
            await tb.writes_done()
        tb.set_tensor_config(zp=zp, lo=lo, hi=hi)
        await RisingEdge(tb.dut.clk)
        tb.send([(a, b, 0) for a, b in items])
        await tb.drain()


def _fit(v):
    return max(ACC_MIN, min(ACC_MAX, v))


@cocotb.test(skip=CLI)
async def edge_cases(dut):
    """INT32_MIN x INT32_MIN saturation, ties of both roundings (negative ones included),
    int32 wrap of the bias add and the left shift, every shift, zero points, crossed clamps."""
    t0 = time.monotonic()
    tb = TB(dut, seed=SEED + 10)
    await tb.start()
    rng = tb.rng
    full = (0, QMIN, QMAX)
    batches = []
    # Saturation: x == INT32_MIN reached directly, through the bias add or the left shift.
    sat_items = [(_fit(INT32_MIN), 0), (_fit(INT32_MIN // 2), _fit(INT32_MIN // 2)),
                 (ACC_MIN, 0), (-1, 0)]
    for sh in (0, -1, -7, -31, -32, 31, 32 - ACC_BITS):
        batches.append(((INT32_MIN, sh) + full, sat_items))
    # RoundingDivideByPOT ties: y == x when M0 = INT32_MAX and |x| <= 2**30.
    for rs in range(1, 33):
        items = []
        for k in list(range(-6, 6)) + [rng.randint(-200, 200) for _ in range(8)]:
            x = k * (1 << rs) + (1 << (rs - 1))
            for v in (x, -x):
                if -(1 << 30) < v <= (1 << 30) and ACC_MIN <= v <= ACC_MAX:
                    items.append((v, 0))
        if items:
            batches.append(((INT32_MAX, -rs, rng.randint(-5, 5), QMIN, QMAX), items))
    # SRDHM ties: M0 = 2**30 halves x; odd x are ties (they round up, toward +inf).
    batches.append((((1 << 30), 0) + full,
                    [(v, 0) for v in range(-41, 42, 2)] + [(_fit(-(1 << 29) - 1), 0)]))
    batches.append(((-(1 << 30), 0) + full, [(v, 0) for v in range(-41, 42, 2)]))
    # int32 wrap of acc + bias and of the left shift; every shift with extreme operands.
    ext = [(ACC_MAX, ACC_MAX), (ACC_MIN, ACC_MIN), (ACC_MAX, 1), (ACC_MIN, -1), (0, 0),
           (1, 0), (-1, 0), (ACC_MAX, ACC_MIN)]
    for sh in range(-32, 32):
        for m0 in (INT32_MAX, INT32_MIN, 1 << 30, 1, -1):
            batches.append(((m0, sh) + full, ext))
    # Zero points and clamps, realistic scales.
    for _ in range(40):
        m0, sh = quantize_multiplier(2.0 ** rng.uniform(-16, -4))
        zp = rand_zp(rng)
        lo, hi = rand_clamp(rng, zp)
        items = [(_fit(rng.randint(-(1 << 14), 1 << 14)), _fit(rng.randint(-500, 500)))
                 for _ in range(30)]
        batches.append(((m0, sh, zp, lo, hi), items))
    await _batches(tb, batches)
    vectors, bad = tb.check(t0)
    assert vectors == tb.src.sent
    assert bad == 0, _totals["first_mismatches"]


@cocotb.test(skip=CLI)
async def full_throughput(dut):
    """No idle cycles, no back-pressure: one result per clock after ``latency`` clocks."""
    t0 = time.monotonic()
    tb = TB(dut, idle=0.0, backpressure=0.0, seed=SEED + 20)
    await tb.start()
    n = 500
    m0, sh = quantize_multiplier(0.01)
    if PER_CHANNEL is None:
        tb.set_tensor_config(m0=m0, sh=sh)
    for k in range(PER_CHANNEL or 0):
        tb.write_reg(k, m0, sh + k % 3)
    await tb.writes_done()
    await RisingEdge(dut.clk)
    start = tb.snk.cycle
    tb.send(_items(tb.rng, n))
    await tb.drain()
    cycles = tb.snk.transfers[-1][0] - start
    vectors, bad = tb.check(t0)
    assert bad == 0, _totals["first_mismatches"]
    assert cycles <= n + LATENCY + 3, f"{n} results took {cycles} cycles"


@cocotb.test(skip=CLI or PER_CHANNEL is None)
async def register_file_writes(dut):
    """Per channel: every entry written, items spread over every index (out-of-range ones
    read zeros), the register file rewritten between and during batches."""
    t0 = time.monotonic()
    tb = TB(dut, seed=SEED + 30)
    await tb.start()
    rng = tb.rng
    for rnd in range(4):
        for k in range(1 << CH_BITS):
            tb.write_reg(k, *rand_scale_pair(rng))
        await tb.writes_done()
        tb.random_config = rnd % 2 == 1  # rewrites while items are in flight
        tb.send([(rand_acc(rng), rand_bias(rng), k % (1 << CH_BITS)) for k in range(400)])
        await tb.drain()
        tb.random_config = False
    vectors, bad = tb.check(t0)
    assert bad == 0, _totals["first_mismatches"]


# -- pytest ----------------------------------------------------------------------------------

def _params(unit, **extra):
    return dict(acc_bits=unit.acc_bits, out_bits=unit.out_bits, signed_out=unit.signed_out,
                per_channel=unit.per_channel, latency=unit.latency, **extra)


def _run(unit, **extra):
    from sim.runner import run
    res = run(unit, test_module="rtl_tests.test_requant", params=_params(unit, **extra))
    assert res.passed, (res.failed, res.tests, res.report)
    assert res.report["mismatches"] == 0 and res.report["vectors"] > 0, res.report
    return res


def test_requant_int8_per_tensor():
    from hwgen.units.requant import Requantize
    _run(Requantize(acc_bits=32, out_bits=8, signed_out=True))


def test_requant_uint8_per_channel():
    from hwgen.units.requant import Requantize
    _run(Requantize(acc_bits=32, out_bits=8, signed_out=False, per_channel=6),
         idle=0.5, backpressure=0.5)


def test_requant_narrow_acc_int4():
    from hwgen.units.requant import Requantize
    _run(Requantize(acc_bits=20, out_bits=4, signed_out=True), idle=0.1, backpressure=0.6)
