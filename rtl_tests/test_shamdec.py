"""ShamDecoder against the numpy sHAM decoder (hwgen.golden.compress.sham_decode), bit for bit.

Random sparse matrices of density 0 %, 1 %, 50 % and 100 % (k-means and probabilistic
quantization, several shapes, empty columns included) and one matrix whose non-zero values
follow Fibonacci frequencies so that every code length 1..max_len occurs. Each is sHAM-encoded
by the golden model; the hardware gets the code table and the three word sections (Huffman,
row indices, column counts) exactly as the container stores them, and must emit every non-zero
exactly once, in CSC order, as the golden decoder's dense matrix has it. Every matrix runs with
no stalls and with random idle cycles on every input and random back-pressure on the output.
"""

import time

import cocotb
import numpy as np

from hwgen.golden.compress import pq_quantize, sham_decode, sham_encode
from hwgen.units.shamdec import ShamDecoder
from rtl_tests.test_hdec import int_values, quantized_matrix, random_matrix
from sim.params import get_params, write_report
from sim.runner import run
from sim.streams import StreamDriver, StreamMonitor, pack_struct, reset, settle, start_clock, \
    unpack_struct

UNIT_KEYS = ("row_bits", "col_bits", "word_width", "max_len", "rank_bits", "value_width",
             "count_width")


def unit_params(comp):
    return {k: getattr(comp, k) for k in UNIT_KEYS}


def fibonacci_matrix(rng, rows, cols, n_values):
    """A matrix whose distinct non-zero values 1..n have Fibonacci counts (so Huffman codes
    of every length up to n - 1 appear), at random places."""
    fib = [1, 1]
    while len(fib) < n_values:
        fib.append(fib[-1] + fib[-2])
    vals = np.repeat(np.arange(1, n_values + 1, dtype=np.float32) / 8, fib[:n_values])
    if vals.size > rows * cols:
        raise ValueError("matrix too small for the Fibonacci counts")
    w = np.zeros(rows * cols, dtype=np.float32)
    w[rng.choice(rows * cols, size=vals.size, replace=False)] = rng.permutation(vals)
    return w.reshape(rows, cols)


def make_matrices(unit, rng, scale=1.0):
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


def _fib(n):
    f = [1, 1]
    while len(f) < n:
        f.append(f[-1] + f[-2])
    return f[:n]


class TB:
    def __init__(self, dut, unit, seed):
        self.dut = dut
        self.unit = unit
        self.timed_out = False
        self.comp = ShamDecoder(**unit)
        self.drivers = {n: StreamDriver(dut, n, seed=seed + i)
                        for i, n in enumerate(("cfg", "start", "words", "row_words",
                                                  "count_words"))}
        self.out = StreamMonitor(dut, "out", seed=seed + 9)

    def stalls(self, idle, backpressure):
        for d in self.drivers.values():
            d.idle_prob = idle
        self.out.backpressure = backpressure

    async def settle(self, drivers, budget=20_000):
        """Wait until ``drivers`` have sent everything and the DUT is idle (at most ``budget``
        cycles, else mark the run timed out)."""
        if not await settle(self.dut, drivers, budget):
            self.timed_out = True

    async def run_matrix(self, w, timeout):
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
        d = self.drivers
        if c.code.n_symbols:
            for tw in self.comp.decoder.table_writes(c.code, ints):
                d["cfg"].append(pack_struct(tw, self.comp.cfg_layout))
            await d["cfg"].wait_idle()
        before = len(self.out.items)
        # the three word sections and the header fields, as the container holds them
        d["start"].append(pack_struct({
            "nnz": c.n_coded, "words": len(c.words), "row_words": len(c.row_words),
            "count_words": len(c.count_words), "cols": dense.shape[1],
            "row_field": c.row_bits, "count_field": c.count_bits}, self.comp.start_layout))
        for name, words in (("words", c.words), ("row_words", c.row_words),
                            ("count_words", c.count_words)):
            for x in words.tolist():
                d[name].append(int(x))
        self.timed_out = False
        try:
            await self.out.wait_for(before + len(expected), timeout_cycles=timeout)
        except TimeoutError:  # report what came out; the caller stops
            self.timed_out = True
        if not self.timed_out:
            await self.settle(list(d.values()))
        got = [unpack_struct(x, self.comp.out_layout) for x in self.out.items[before:]]
        got = [(g["row"], g["col"], g["value"]) for g in got]
        cycles = [t for t, _ in self.out.transfers[before:]]
        return expected, got, cycles


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
    t0 = time.monotonic()
    vectors = mismatches = 0
    first, rates = [], {}
    for idle, bp in ((0.0, 0.0), (0.3, 0.3)):
        if tb.timed_out:
            break
        tb.stalls(idle, bp)
        for name, w in mats:
            nnz = int(np.count_nonzero(w))
            timeout = 500 + 40 * (nnz + w.shape[1]) * (1 + int(idle > 0))
            exp, got, cycles = await tb.run_matrix(w, timeout)
            vectors += max(len(exp), 1)
            bad = [i for i, (e, g) in enumerate(zip(exp, got)) if e != g]
            bad += list(range(min(len(exp), len(got)), max(len(exp), len(got))))
            mismatches += len(bad)
            for i in bad[:3]:
                if len(first) < 10:
                    first.append(f"{name} (idle {idle}, back-pressure {bp}) non-zero {i}: "
                                 f"expected (row, col, value) "
                                 f"{exp[i] if i < len(exp) else None}, "
                                 f"got {got[i] if i < len(got) else None}")
            if idle == 0 and bp == 0 and len(cycles) > 100:
                rates[name] = (len(cycles) - 1) / (cycles[-1] - cycles[0])
            if tb.timed_out:
                mismatches += 0 if bad else 1  # stuck after its last output
                first.insert(0, f"{name} (idle {idle}, back-pressure {bp}): timed out after "
                                f"{len(got)} of {len(exp)} outputs; later matrices not run")
                break
    write_report({"vectors": vectors, "mismatches": mismatches, "first_mismatches": first,
                  "seconds": time.monotonic() - t0, "nonzeros_per_cycle": rates})
    assert mismatches == 0, first


def test_shamdec():
    comp = ShamDecoder(row_bits=8, col_bits=8)
    r = run(comp, test_module="rtl_tests.test_shamdec",
            params={**unit_params(comp), "seed": 5})
    assert r.passed, r.report.get("first_mismatches")
    assert r.report["mismatches"] == 0 and r.report["vectors"] > 0
    # one non-zero per clock at steady state (columns cost no extra cycle)
    for name, rate in r.report["nonzeros_per_cycle"].items():
        assert rate >= 0.97 * comp.nonzeros_per_cycle, (name, rate)
