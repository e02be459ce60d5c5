"""HuffmanDecoder against the numpy canonical decoder (hwgen.golden.compress), bit for bit.

Blocks cover: a Fibonacci-skewed alphabet whose codes take every length 1..max_len, a
geometric alphabet where the length bound binds (package-merge), a uniform full table, one and
two symbols, an empty block, and HAM streams of random k-means-quantized matrices of density
0 %, 1 %, 50 % and 100 %. Each block uses every symbol of its alphabet at least once. Every
block runs once with no stalls (to measure values per clock) and once with random idle cycles
on every input stream and random back-pressure on the output; the scoreboard compares the
whole output sequence, so a dropped or repeated value is a mismatch.
"""

import time

import cocotb
import numpy as np
import pytest

from hwgen.golden.compress import (CanonicalCode, huffman_lengths, ham_encode, kmeans_share,
                                   pack_bits, unpack_bits)
from hwgen.units.hdec import HuffmanDecoder
from sim.params import get_params, write_report
from sim.runner import run
from sim.streams import StreamDriver, StreamMonitor, pack_struct, reset, settle, start_clock

UNIT_KEYS = ("word_width", "max_len", "rank_bits", "value_width", "count_width")


def unit_params(comp):
    return {k: getattr(comp, k) for k in UNIT_KEYS}


# -- blocks (host side) -----------------------------------------------------------------------

def _block(name, lengths, ranks, values, max_len):
    code = CanonicalCode.from_lengths(lengths, max_len)
    return {"name": name, "code": code, "ranks": np.asarray(ranks, dtype=np.int64),
            "values": [int(v) for v in values]}


def _stream_with_every_symbol(rng, n_sym, n, probs=None):
    extra = rng.choice(n_sym, size=max(0, n - n_sym), p=probs)
    s = np.concatenate([np.arange(n_sym), extra])
    rng.shuffle(s)
    return s


def random_matrix(rng, rows, cols, density):
    """A Gaussian matrix with exactly round(density * size) non-zeros at random places."""
    w = rng.normal(0, 0.1, size=(rows, cols)).astype(np.float32)
    keep = int(round(density * w.size))
    mask = np.zeros(w.size, dtype=bool)
    mask[rng.choice(w.size, size=keep, replace=False)] = True
    w[~mask.reshape(w.shape)] = 0.0
    return w


def quantized_matrix(rng, rows, cols, density, k):
    w, _ = kmeans_share(random_matrix(rng, rows, cols, density), k)
    return w


def int_values(values, value_width):
    """An integer to emit for each float value: its rank among the sorted distinct values,
    minus the rank of zero (so 0.0 -> 0), wrapped to ``value_width`` bits."""
    order = np.argsort(values, kind="stable")
    pos = np.empty(len(values), dtype=np.int64)
    pos[order] = np.arange(len(values))
    zero = int(np.sum(np.asarray(values) < 0))
    return [(int(p) - zero) % (1 << value_width) for p in pos]


def make_blocks(unit, rng, n_per_block):
    L, depth, vw = unit["max_len"], 1 << unit["rank_bits"], unit["value_width"]
    vmask = (1 << vw) - 1
    rand_vals = lambda n: [int(v) for v in rng.integers(0, vmask + 1, size=n)]  # noqa: E731
    blocks = []
    # every code length 1..L: Fibonacci frequencies (lengths 1, 2, ..., L, L), as long as
    # the value table has room for L + 1 symbols
    n_fib = min(L + 1, depth)
    fib = [1, 1]
    while len(fib) < n_fib:
        fib.append(fib[-1] + fib[-2])
    lengths = huffman_lengths(np.array(fib[:n_fib][::-1], dtype=np.int64), L)
    blocks.append(_block("every length", lengths,
                         _stream_with_every_symbol(rng, n_fib, n_per_block), rand_vals(n_fib),
                         L))
    # the bound binds: geometric frequencies over the whole table
    n_geo = depth
    geo = np.maximum(1, (2.0 ** (40 - 0.5 * np.arange(n_geo))).astype(np.int64) // 2 ** 20)
    lengths = huffman_lengths(geo, L)
    probs = geo / geo.sum()
    blocks.append(_block("bounded geometric", lengths,
                         _stream_with_every_symbol(rng, n_geo, n_per_block, probs),
                         rand_vals(n_geo), L))
    # uniform over the whole table (all codes of length rank_bits when that is <= L)
    if unit["rank_bits"] <= L:
        lengths = huffman_lengths(np.ones(depth, dtype=np.int64), L)
        blocks.append(_block("uniform", lengths,
                             _stream_with_every_symbol(rng, depth, n_per_block),
                             rand_vals(depth), L))
    blocks.append(_block("one symbol", [1], np.zeros(37, dtype=np.int64), rand_vals(1), L))
    blocks.append(_block("two symbols", [1, 1], rng.integers(0, 2, size=101), rand_vals(2), L))
    blocks.append(_block("empty block", [1], np.zeros(0, dtype=np.int64), rand_vals(1), L))
    # HAM streams of quantized random sparse matrices
    k = min(depth - 1, 15)
    for density in (0.0, 0.01, 0.5, 1.0):
        w = quantized_matrix(rng, 24, 16, density, k)
        c = ham_encode(w, word_width=64, max_len=L)
        blocks.append({"name": f"HAM density {density:.0%}", "code": c.code, "ranks": c.ranks,
                       "values": int_values(c.values, vw)})
    return blocks


# -- cocotb -----------------------------------------------------------------------------------

class TB:
    def __init__(self, dut, unit, seed):
        self.dut = dut
        self.unit = unit
        self.timed_out = False
        self.comp = HuffmanDecoder(**unit)
        self.cfg = StreamDriver(dut, "cfg", seed=seed)
        self.start = StreamDriver(dut, "start", seed=seed + 1)
        self.words = StreamDriver(dut, "words", seed=seed + 2)
        self.out = StreamMonitor(dut, "symbols", seed=seed + 3)

    def stalls(self, idle, backpressure):
        for d in (self.cfg, self.start, self.words):
            d.idle_prob = idle
        self.out.backpressure = backpressure

    async def settle(self, drivers, budget=20_000):
        """Wait until ``drivers`` have sent everything and the DUT is idle (at most ``budget``
        cycles, else mark the run timed out)."""
        if not await settle(self.dut, drivers, budget):
            self.timed_out = True

    async def load(self, code, values):
        for w in self.comp.table_writes(code, values):
            self.cfg.append(pack_struct(w, self.comp.cfg_layout))
        await self.cfg.wait_idle()

    async def run_block(self, code, values, ranks, timeout):
        """Send one block; return (expected, got, first cycle, last cycle)."""
        W = self.unit["word_width"]
        words = pack_bits(code.encode(ranks), W)
        golden = code.decode(unpack_bits(words, W), len(ranks))  # the numpy decoder
        vmask = (1 << self.unit["value_width"]) - 1
        expected = [values[r] & vmask for r in golden]
        await self.load(code, values)
        before = len(self.out.items)
        self.start.append(pack_struct({"symbols": len(ranks), "words": len(words)},
                                      self.comp.start_layout))
        for w in words.tolist():
            self.words.append(int(w))
        self.timed_out = False
        try:
            await self.out.wait_for(before + len(expected), timeout_cycles=timeout)
        except TimeoutError:  # report what came out; the caller stops
            self.timed_out = True
        if not self.timed_out:
            await self.settle([self.words, self.start])
        got = self.out.items[before:]
        cycles = [c for c, _ in self.out.transfers[before:]]
        return expected, got, cycles


@cocotb.test()
async def decode_blocks(dut):
    p = get_params()
    unit = {k: p[k] for k in UNIT_KEYS}
    seed = int(p.get("seed", 1))
    n_per_block = int(p.get("vectors") or p.get("symbols_per_block", 600))
    rng = np.random.default_rng(seed)
    blocks = make_blocks(unit, rng, n_per_block)
    start_clock(dut)
    tb = TB(dut, unit, seed)
    await reset(dut)
    t0 = time.monotonic()
    vectors = mismatches = 0
    first = []
    rates = {}
    for idle, bp in ((0.0, 0.0), (0.3, 0.3), (0.6, 0.2)):
        if tb.timed_out:
            break
        tb.stalls(idle, bp)
        for b in blocks:
            timeout = 200 + 60 * (len(b["ranks"]) + 10) * (1 + int(idle > 0))
            exp, got, cycles = await tb.run_block(b["code"], b["values"], b["ranks"],
                                                  timeout)
            vectors += len(exp)
            bad = [i for i, (e, g) in enumerate(zip(exp, got)) if e != g]
            bad += list(range(min(len(exp), len(got)), max(len(exp), len(got))))
            mismatches += len(bad)
            for i in bad[:3]:
                if len(first) < 10:
                    first.append(f"{b['name']} (idle {idle}, back-pressure {bp}) symbol {i}: "
                                 f"expected {exp[i] if i < len(exp) else None}, "
                                 f"got {got[i] if i < len(got) else None}")
            if idle == 0 and bp == 0 and len(cycles) > 100:
                rates[b["name"]] = (len(cycles) - 1) / (cycles[-1] - cycles[0])
            if tb.timed_out:
                mismatches += 0 if bad else 1  # stuck after its last output
                first.insert(0, f"{b['name']} (idle {idle}, back-pressure {bp}): timed out after "
                                f"{len(got)} of {len(exp)} outputs; later blocks not run")
                break
    lengths_used = sorted({int(x) for b in blocks for x in np.unique(b["code"].lengths)})
    write_report({"vectors": vectors, "mismatches": mismatches, "first_mismatches": first,
                  "seconds": time.monotonic() - t0, "symbols_per_cycle": rates,
                  "code_lengths": lengths_used})
    assert mismatches == 0, first


# -- pytest -----------------------------------------------------------------------------------

@pytest.mark.parametrize("unit", [
    dict(word_width=32, max_len=16, rank_bits=8, value_width=8, count_width=24),
    dict(word_width=12, max_len=10, rank_bits=4, value_width=5, count_width=12),
], ids=["default", "narrow"])
def test_hdec(unit):
    comp = HuffmanDecoder(**unit)
    r = run(comp, test_module="rtl_tests.test_hdec",
            params={**unit_params(comp), "seed": 3, "symbols_per_block": 500})
    assert r.passed, r.report.get("first_mismatches")
    assert r.report["mismatches"] == 0 and r.report["vectors"] > 0
    # every code length up to the bound was exercised
    assert r.report["code_lengths"] == list(range(1, comp.max_len + 1))
    # one value per clock at steady state, whatever the code lengths
    for name, rate in r.report["symbols_per_cycle"].items():
        assert rate >= 0.99 * comp.symbols_per_cycle, (name, rate)
