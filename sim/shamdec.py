# amaranth: UnusedElaboratable=no
"""cocotb testbench of :class:`hwgen.units.shamdec.ShamDecoder` against the numpy sHAM decoder
(:func:`hwgen.golden.compress.sham_decode`), bit for bit (``hwgen sim shamdec`` and
``rtl_tests/test_shamdec.py``).

Random sparse matrices of density 0 %, 1 %, 50 % and 100 % (k-means and probabilistic
quantization, several shapes, empty columns included) and one matrix whose non-zero values
follow Fibonacci frequencies so that every code length 1..max_len occurs. Each is sHAM-encoded
by the golden model; the hardware gets the code table and the three word sections (Huffman,
row indices, column counts) exactly as the container stores them, and must emit every non-zero
exactly once, in CSC order, as the golden decoder's dense matrix has it. Every matrix runs with
no stalls and with random idle cycles on every input and random back-pressure on the output.

Parameters: :func:`unit_params` of the unit, ``seed``, ``scale`` (``hwgen sim``: ``vectors``
scales the matrices).
"""

import cocotb
import numpy as np

from hwgen.golden.compress import pq_quantize, sham_decode, sham_encode

from .compressed import CompressedTB, Outcome, int_values, quantized_matrix, random_matrix
from .params import get_params
from .scoreboard import Scoreboard
from .streams import pack_struct, reset, start_clock, unpack_struct

__all__ = ["TB", "decode_matrices", "unit_params", "build_unit", "make_matrices",
           "fibonacci_matrix", "UNIT_KEYS"]

UNIT_KEYS = ("row_bits", "col_bits", "word_width", "max_len", "rank_bits", "value_width",
             "count_width")


def unit_params(comp):
    """The parameters of :class:`~hwgen.units.shamdec.ShamDecoder` ``comp`` (they rebuild
    it)."""
    return {k: getattr(comp, k) for k in UNIT_KEYS}


def build_unit(p):
    """The :class:`~hwgen.units.shamdec.ShamDecoder` of the parameters ``p``."""
    from hwgen.units.shamdec import ShamDecoder
    return ShamDecoder(**{k: p[k] for k in UNIT_KEYS})


def _fib(n):
    f = [1, 1]
    while len(f) < n:
        f.append(f[-1] + f[-2])
    return f[:n]


def fibonacci_matrix(rng, rows, cols, n_values):
    """A matrix whose distinct non-zero values 1..n have Fibonacci counts (so Huffman codes
    of every length up to n - 1 appear), at random places."""
    vals = np.repeat(np.arange(1, n_values + 1, dtype=np.float32) / 8, _fib(n_values))
    if vals.size > rows * cols:
        raise ValueError("matrix too small for the Fibonacci counts")
    w = np.zeros(rows * cols, dtype=np.float32)
    w[rng.choice(rows * cols, size=vals.size, replace=False)] = rng.permutation(vals)
    return w.reshape(rows, cols)


def make_matrices(unit, rng, scale=1.0):
    """The test matrices ``(name, w)`` (see the module docstring) for the decoder parameters
    ``unit``."""
    R, C = 1 << unit["row_bits"], 1 << unit["col_bits"]
    k = min((1 << unit["rank_bits"]), 16)
    shapes = [(min(R, max(1, int(48 * scale))), min(C, 24)), (min(R, 5), min(C, 40)),
              (min(R, 1), min(C, 3))]
    mats = []
    for density in (0.0, 0.01, 0.5, 1.0):
        for i, (r, c) in enumerate(shapes):
            w = random_matrix(rng, r, c, density)
            if i == 1:
                wq, _ = pq_quantize(w, max(1, min(3, unit["rank_bits"])), seed=i)
            else:
                wq = quantized_matrix(rng, r, c, density, k)
            mats.append((f"{r}x{c} density {density:.0%}", wq))
    n_fib = min(unit["max_len"] + 1, 1 << unit["rank_bits"])
    # rows x cols large enough for the Fibonacci counts, within the index widths
    need = sum(_fib(n_fib))
    rows = min(R, 128)
    cols = min(C, -(-2 * need // rows))
    if rows * cols >= need:
        mats.append((f"every length ({rows}x{cols})", fibonacci_matrix(rng, rows, cols, n_fib)))
    return mats


class TB(CompressedTB):
    """The skeleton on the decoder's ``cfg``, ``start``, ``words``, ``row_words`` and
    ``count_words`` streams and its ``out`` stream."""

    def __init__(self, dut, unit, seed):
        super().__init__(dut, ("cfg", "start", "words", "row_words", "count_words"), "out",
                         seed)
        self.unit = unit
        self.comp = build_unit(unit)

    async def run_matrix(self, w, timeout):
        """Encode and send one matrix; return (expected, got, cycles of the outputs)."""
        c = sham_encode(w, word_width=self.unit["word_width"], max_len=self.unit["max_len"])
        ints = int_values(c.values, self.unit["value_width"])
        # expected: the golden decoder's dense matrix, its non-zeros in CSC order
        dense = sham_decode(c)
        int_of = {int(p): v for p, v in zip(c.values.view(np.uint32), ints)}
        expected = []
        for col in range(dense.shape[1]):
            for row in np.flatnonzero(dense[:, col]):
                expected.append((int(row), col,
                                 int_of[int(np.float32(dense[row, col]).view(np.uint32))]))
        if c.code.n_symbols:
            await self.load(self.comp.decoder.table_writes(c.code, ints), self.comp.cfg_layout)
        before = self.mark()
        # the three word sections and the header fields, as the container holds them
        self.drivers["start"].append(pack_struct({
            "nnz": c.n_coded, "words": len(c.words), "row_words": len(c.row_words),
            "count_words": len(c.count_words), "cols": dense.shape[1],
            "row_field": c.row_bits, "count_field": c.count_bits}, self.comp.start_layout))
        for name, words in (("words", c.words), ("row_words", c.row_words),
                            ("count_words", c.count_words)):
            self.send(name, words.tolist())
        got, cycles = await self.collect(before, len(expected), timeout)
        got = [unpack_struct(x, self.comp.out_layout) for x in got]
        return expected, [(g["row"], g["col"], g["value"]) for g in got], cycles


@cocotb.test()
async def decode_matrices(dut):
    p = get_params()
    unit = {k: p[k] for k in UNIT_KEYS}
    seed = int(p.get("seed", 1))
    scale = float(p.get("scale", 1.0))
    if p.get("vectors"):
        scale = max(0.1, int(p["vectors"]) / 2000)
    rng = np.random.default_rng(seed)
    mats = make_matrices(unit, rng, scale)
    start_clock(dut)
    tb = TB(dut, unit, seed)
    await reset(dut)
    sb = Scoreboard()
    rates = {}

    async def run_case(case, idle, bp):
        name, w = case
        nnz = int(np.count_nonzero(w))
        timeout = 500 + 40 * (nnz + w.shape[1]) * (1 + int(idle > 0))
        exp, got, cycles = await tb.run_matrix(w, timeout)
        if idle == 0 and bp == 0 and len(cycles) > 100:
            rates[name] = (len(cycles) - 1) / (cycles[-1] - cycles[0])
        return Outcome(name, exp, got, vectors=max(len(exp), 1),
                       item=lambda i: f"non-zero {i} (row, col, value)")

    runs = [(m, idle, bp) for idle, bp in ((0.0, 0.0), (0.3, 0.3)) for m in mats]
    await tb.sweep(sb, runs, run_case, what="matrices")
    sb.set(nonzeros_per_cycle=rates)
    sb.finish()
    assert sb.mismatches == 0, sb.lines
