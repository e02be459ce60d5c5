"""cocotb testbench of :class:`hwgen.units.requant.Requantize` against
:func:`hwgen.golden.requant.requantize`, bit for bit (``hwgen sim requant``;
``rtl_tests/test_requant.py`` adds edge cases, full throughput and register-file tests on the
same :class:`TB`).

The scoreboard does not assume when configuration changes take effect: an input monitor
samples, in every clock where ``i`` transfers, the payload *and* the configuration the DUT
sees in that clock (its ``multiplier``/``shift``/``zero_point``/``act_min``/``act_max`` ports,
or a mirror of the per-channel register file updated from the ``wr`` port *after* the
sample). Configuration therefore changes at random clocks while items are in flight, and the
expected results follow the unit's documented rule ("sampled when the item is transferred").
Every result is counted exactly once: the number of outputs must equal the number of
transfers, and no output may appear after the last one.

Parameters: :func:`unit_params` of the unit, plus ``idle``, ``backpressure``, ``seed`` and,
from ``hwgen sim``, ``mode``/``vectors``.
"""

import random

import cocotb
import numpy as np
from cocotb.triggers import ReadOnly, RisingEdge

from hwgen.golden.requant import (INT32_MAX, INT32_MIN, activation_range, quantize_multiplier,
                                  requantize)

from .params import get_params
from .scoreboard import Scoreboard
from .streams import StreamDriver, StreamMonitor, pack_struct, reset, start_clock, to_signed

__all__ = ["Config", "TB", "random_stream", "unit_params", "rand_acc", "rand_bias",
           "rand_scale_pair", "rand_clamp", "rand_zp", "random_items", "M0_SPECIALS"]


def unit_params(unit):
    """The parameters of :class:`hwgen.units.requant.Requantize` ``unit`` the testbench
    needs."""
    return dict(acc_bits=unit.acc_bits, out_bits=unit.out_bits, signed_out=unit.signed_out,
                per_channel=unit.per_channel, latency=unit.latency)


class Config:
    """The unit's widths and the value ranges derived from them (from the parameters)."""

    def __init__(self, p):
        self.acc_bits = p.get("acc_bits", 32)
        self.out_bits = p.get("out_bits", 8)
        self.signed_out = p.get("signed_out", True)
        self.per_channel = p.get("per_channel")
        self.latency = p.get("latency", 4)
        self.acc_min, self.acc_max = -(1 << (self.acc_bits - 1)), (1 << (self.acc_bits - 1)) - 1
        ob = self.out_bits
        self.qmin, self.qmax = ((-(1 << (ob - 1)), (1 << (ob - 1)) - 1) if self.signed_out
                                else (0, (1 << ob) - 1))
        self.zp_min, self.zp_max = -(1 << ob), (1 << ob) - 1
        self.ch_bits = (0 if self.per_channel is None
                        else max(1, (self.per_channel - 1).bit_length()))
        self.layout = [("acc", self.acc_bits, True), ("bias", self.acc_bits, True)] + (
            [("ch", self.ch_bits)] if self.per_channel is not None else [])

    def fit(self, v):
        """``v`` clamped to the accumulator's range."""
        return max(self.acc_min, min(self.acc_max, v))


# -- random values ---------------------------------------------------------------------------

M0_SPECIALS = [0, 1, -1, INT32_MIN, INT32_MAX, 1 << 30, -(1 << 30), (1 << 30) + 1,
               INT32_MAX - 1, INT32_MIN + 1]


def rand_acc(rng, c):
    r = rng.random()
    if r < 0.15:
        return rng.choice([c.acc_min, c.acc_max, 0, -1, 1, c.acc_min + 1, c.acc_max - 1])
    if r < 0.3:
        return rng.randint(c.acc_min, c.acc_max)
    k = rng.randint(0, c.acc_bits - 1)  # log-uniform magnitude: some land in the output range
    return c.fit(rng.choice([-1, 1]) * rng.randrange(1 << k))


def rand_bias(rng, c):
    return 0 if rng.random() < 0.3 else rand_acc(rng, c)


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


def rand_clamp(rng, c, zp):
    r = rng.random()
    if r < 0.4:
        return c.qmin, c.qmax
    if r < 0.7:
        act = rng.choice(["relu", "relu6", "relu_n1_to_1"])
        lo, hi = activation_range(act, c.out_bits, c.signed_out,
                                  min(max(zp, c.qmin), c.qmax), 2.0 ** rng.uniform(-8, 2))
        return int(lo), int(hi)
    return rng.randint(c.qmin, c.qmax), rng.randint(c.qmin, c.qmax)  # may be crossed


def rand_zp(rng, c):
    r = rng.random()
    if r < 0.3:
        return 0
    if r < 0.45:
        return rng.choice([c.zp_min, c.zp_max, c.qmin, c.qmax])
    return rng.randint(c.zp_min, c.zp_max)


def random_items(rng, c, n):
    """``n`` random ``(acc, bias, ch)`` items."""
    return [(rand_acc(rng, c), rand_bias(rng, c),
             rng.randrange(1 << c.ch_bits) if c.ch_bits else 0) for _ in range(n)]


# -- testbench -------------------------------------------------------------------------------

class TB:
    """Clock, source on ``i``, sink on ``o``, the configuration ports, and an input monitor
    that records what the DUT sees with every item it takes.

    Parameters
    ----------
    dut : cocotb handle
    p : dict
        The run's parameters (:func:`unit_params` plus ``idle``, ``backpressure``, ``seed``).
    idle, backpressure, seed : optional
        Override the parameters' values for this test.
    """

    def __init__(self, dut, p, *, idle=None, backpressure=None, seed=None):
        self.dut = dut
        self.c = c = Config(p)
        idle = p.get("idle", 0.3) if idle is None else idle
        backpressure = p.get("backpressure", 0.3) if backpressure is None else backpressure
        seed = (p.get("seed") or 1) if seed is None else seed
        self.rng = random.Random(seed)
        start_clock(dut)
        self.src = StreamDriver(dut, "i", idle_prob=idle, seed=seed + 1)
        self.snk = StreamMonitor(dut, "o", backpressure=backpressure, seed=seed + 2)
        self.records = []       # (acc, bias, m0, shift, zp, lo, hi) per input transfer
        self.regs = [(0, 0)] * (c.per_channel or 0)
        self.random_config = False
        self.writes = []
        self.writing = False
        self.appended = 0
        self.cycles = 0
        dut.zero_point.value = 0
        dut.act_min.value = c.qmin & ((1 << c.out_bits) - 1)
        dut.act_max.value = c.qmax & ((1 << c.out_bits) - 1)
        if c.per_channel is None:
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
        d, c = self.dut, self.c
        while True:
            await RisingEdge(d.clk)
            await ReadOnly()
            self.cycles += 1
            if int(d.i__valid.value) and int(d.i__ready.value):
                word = int(d.i__payload.value)
                acc = to_signed(word, c.acc_bits)
                bias = to_signed(word >> c.acc_bits, c.acc_bits)
                if c.per_channel is None:
                    m0, sh = d.multiplier.value.to_signed(), d.shift.value.to_signed()
                else:
                    ch = word >> (2 * c.acc_bits)
                    m0, sh = self.regs[ch] if ch < c.per_channel else (0, 0)
                zp = d.zero_point.value.to_signed()
                lo = d.act_min.value.to_signed() if c.signed_out else int(d.act_min.value)
                hi = d.act_max.value.to_signed() if c.signed_out else int(d.act_max.value)
                self.records.append((acc, bias, m0, sh, zp, lo, hi))
            if c.per_channel is not None and int(d.wr__en.value):
                addr = int(d.wr__addr.value)
                if addr < c.per_channel:  # the write lands at the coming edge, after the sample
                    self.regs[addr] = (d.wr__multiplier.value.to_signed(),
                                       d.wr__shift.value.to_signed())

    def set_tensor_config(self, m0=None, sh=None, zp=None, lo=None, hi=None):
        d, ob = self.dut, self.c.out_bits
        if m0 is not None:
            d.multiplier.value = m0 & 0xFFFFFFFF
        if sh is not None:
            d.shift.value = sh & 0x3F
        if zp is not None:
            d.zero_point.value = zp & ((1 << (ob + 1)) - 1)
        if lo is not None:
            d.act_min.value = lo & ((1 << ob) - 1)
        if hi is not None:
            d.act_max.value = hi & ((1 << ob) - 1)

    def write_reg(self, addr, m0, sh):
        """Queue a register-file write (driven on ``wr`` for one clock, in order)."""
        self.writes.append((addr, m0, sh))

    async def writes_done(self):
        while self.writes or self.writing:
            await RisingEdge(self.dut.clk)

    async def _drive_config(self):
        """The one writer of the ``wr`` port: queued writes first; while ``random_config`` is
        set, also random configuration changes at random clocks."""
        d, c = self.dut, self.c
        while True:
            await RisingEdge(d.clk)
            rng = self.rng
            if c.per_channel is not None:
                write = None
                if self.writes:
                    write = self.writes.pop(0)
                elif self.random_config and rng.random() < 0.1:
                    # Out-of-range addresses too: they must be ignored.
                    write = (rng.randrange(1 << c.ch_bits),) + rand_scale_pair(rng)
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
                zp = rand_zp(rng, c)
                lo, hi = rand_clamp(rng, c, zp)
                self.set_tensor_config(zp=zp, lo=lo, hi=hi)
            if c.per_channel is None and rng.random() < 0.1:
                m0, sh = rand_scale_pair(rng)
                self.set_tensor_config(m0=m0, sh=sh)

    def send(self, items):
        self.appended += len(items)
        for acc, bias, ch in items:
            self.src.append(pack_struct({"acc": acc, "bias": bias, "ch": ch}
                                        if self.c.per_channel is not None else
                                        {"acc": acc, "bias": bias}, self.c.layout))

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
        for _ in range(self.c.latency + 4):  # nothing more may come out
            await RisingEdge(self.dut.clk)

    def check(self, sb):
        """Compare every output with the golden model, add the counts to the
        :class:`~sim.scoreboard.Scoreboard` ``sb`` and write the report; return
        ``(vectors, mismatches)``."""
        c = self.c
        got = [to_signed(x, c.out_bits) if c.signed_out else x for x in self.snk.items]
        rec = np.array(self.records, dtype=np.int64).reshape(-1, 7)
        exp = requantize(rec[:, 0], rec[:, 1], rec[:, 2], rec[:, 3], rec[:, 4], c.out_bits,
                         c.signed_out, act_min=rec[:, 5], act_max=rec[:, 6])
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
        sb.add(vectors=len(exp), mismatches=bad, first_mismatches=lines)
        sb.finish()
        return len(exp), bad


@cocotb.test()
async def random_stream(dut):
    """Random items, configuration changing at random clocks, random stalls on both sides."""
    p = get_params()
    sb = Scoreboard()
    tb = TB(dut, p)
    await tb.start()
    n = p.get("vectors") or (3000 if p.get("mode") != "cli" else 20000)
    for k in range(tb.c.per_channel or 0):
        tb.write_reg(k, *rand_scale_pair(tb.rng))
    await tb.writes_done()
    tb.random_config = True
    tb.send(random_items(tb.rng, tb.c, n))
    await tb.drain()
    tb.random_config = False
    vectors, bad = tb.check(sb)
    assert vectors == n == tb.src.sent
    assert bad == 0, sb.lines
