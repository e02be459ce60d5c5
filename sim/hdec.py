# amaranth: UnusedElaboratable=no
"""cocotb testbench of :class:`hwgen.units.hdec.HuffmanDecoder` against the numpy canonical
decoder (:mod:`hwgen.golden.compress`), bit for bit (``hwgen sim hdec`` and
``rtl_tests/test_hdec.py``).

Blocks cover: a Fibonacci-skewed alphabet whose codes take every length 1..max_len, a
geometric alphabet where the length bound binds (package-merge), a uniform full table, one and
two symbols, an empty block, and HAM streams of random k-means-quantized matrices of density
0 %, 1 %, 50 % and 100 %. Each block uses every symbol of its alphabet at least once. Every
block runs once with no stalls (to measure values per clock) and once with random idle cycles
on every input stream and random back-pressure on the output; the scoreboard compares the
whole output sequence, so a dropped or repeated value is a mismatch.

Parameters: :func:`unit_params` of the unit, ``seed``, ``symbols_per_block`` (``hwgen sim``:
``vectors``).
"""

import cocotb
import numpy as np

from hwgen.golden.compress import (CanonicalCode, huffman_lengths, ham_encode, pack_bits,
                                   unpack_bits)

from .compressed import CompressedTB, Outcome, int_values, quantized_matrix
from .params import get_params
from .scoreboard import Scoreboard
from .streams import pack_struct, reset, start_clock

__all__ = ["TB", "decode_blocks", "unit_params", "build_unit", "make_blocks", "UNIT_KEYS"]

UNIT_KEYS = ("word_width", "max_len", "rank_bits", "value_width", "count_width")


def unit_params(comp):
    """The parameters of :class:`~hwgen.units.hdec.HuffmanDecoder` ``comp`` (they rebuild
    it)."""
    return {k: getattr(comp, k) for k in UNIT_KEYS}


def build_unit(p):
    """The :class:`~hwgen.units.hdec.HuffmanDecoder` of the parameters ``p``."""
    from hwgen.units.hdec import HuffmanDecoder
    return HuffmanDecoder(**{k: p[k] for k in UNIT_KEYS})


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


def make_blocks(unit, rng, n_per_block):
    """The test blocks (see the module docstring) for the decoder parameters ``unit``."""
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

class TB(CompressedTB):
    """The skeleton on the decoder's ``cfg``, ``start`` and ``words`` streams and its
    ``symbols`` output."""

    def __init__(self, dut, unit, seed):
        super().__init__(dut, ("cfg", "start", "words"), "symbols", seed, out_seed=seed + 3)
        self.unit = unit
        self.comp = build_unit(unit)

    async def run_block(self, code, values, ranks, timeout):
        """Send one block; return (expected, got, cycles of the outputs)."""
        W = self.unit["word_width"]
        words = pack_bits(code.encode(ranks), W)
        golden = code.decode(unpack_bits(words, W), len(ranks))  # the numpy decoder
        vmask = (1 << self.unit["value_width"]) - 1
        expected = [values[r] & vmask for r in golden]
        await self.load(self.comp.table_writes(code, values), self.comp.cfg_layout)
        before = self.mark()
        self.drivers["start"].append(pack_struct({"symbols": len(ranks), "words": len(words)},
                                                 self.comp.start_layout))
        self.send("words", words.tolist())
        got, cycles = await self.collect(before, len(expected), timeout)
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
    sb = Scoreboard()
    rates = {}

    async def run_case(b, idle, bp):
        timeout = 200 + 60 * (len(b["ranks"]) + 10) * (1 + int(idle > 0))
        exp, got, cycles = await tb.run_block(b["code"], b["values"], b["ranks"], timeout)
        if idle == 0 and bp == 0 and len(cycles) > 100:
            rates[b["name"]] = (len(cycles) - 1) / (cycles[-1] - cycles[0])
        return Outcome(b["name"], exp, got, item=lambda i: f"symbol {i}")

    runs = [(b, idle, bp) for idle, bp in ((0.0, 0.0), (0.3, 0.3), (0.6, 0.2)) for b in blocks]
    await tb.sweep(sb, runs, run_case, what="blocks")
    lengths_used = sorted({int(x) for b in blocks for x in np.unique(b["code"].lengths)})
    sb.set(symbols_per_cycle=rates, code_lengths=lengths_used)
    sb.finish()
    assert sb.mismatches == 0, sb.lines
