"""The testbench skeleton shared by the compressed-weight units (:mod:`sim.hdec`,
:mod:`sim.shamdec`, :mod:`sim.spmv`, :mod:`sim.wload`), and the random sparse matrices they
encode.

Each of these units takes a code table and a few word streams and emits one output stream;
each testbench runs a list of cases (blocks, matrices, products, GEMMs) under several stall
settings and compares the whole output sequence of every case with the golden model's, so a
dropped or repeated output is a mismatch. :class:`CompressedTB` holds what is common: one
:class:`~sim.streams.StreamDriver` per input stream, a :class:`~sim.streams.StreamMonitor` on
the output, the stall settings, bounded waits that turn a hung unit into a reported timeout,
and :meth:`CompressedTB.sweep`, the loop over the cases that counts every mismatch in a
:class:`~sim.scoreboard.Scoreboard` and stops at the first timeout.
"""

from dataclasses import dataclass
from collections.abc import Callable

import numpy as np

from hwgen.golden.compress import kmeans_share

from .streams import StreamDriver, StreamMonitor, pack_struct, settle

__all__ = ["CompressedTB", "Outcome", "mismatch_indices", "random_matrix", "quantized_matrix",
           "int_values"]


# -- host-side data ---------------------------------------------------------------------------

def random_matrix(rng, rows, cols, density):
    """A Gaussian matrix with exactly round(density * size) non-zeros at random places."""
    w = rng.normal(0, 0.1, size=(rows, cols)).astype(np.float32)
    keep = int(round(density * w.size))
    mask = np.zeros(w.size, dtype=bool)
    mask[rng.choice(w.size, size=keep, replace=False)] = True
    w[~mask.reshape(w.shape)] = 0.0
    return w


def quantized_matrix(rng, rows, cols, density, k):
    """:func:`random_matrix` with its non-zeros shared among ``k`` k-means values."""
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


# -- checking ---------------------------------------------------------------------------------

def mismatch_indices(expected, got):
    """Positions where ``got`` differs from ``expected``, plus every position only one of them
    has (a lost or surplus output)."""
    bad = [i for i, (e, g) in enumerate(zip(expected, got)) if e != g]
    return bad + list(range(min(len(expected), len(got)), max(len(expected), len(got))))


@dataclass
class Outcome:
    """What one case produced: its ``name``, the ``expected`` and ``got`` output sequences,
    the vectors it counts for (default ``len(expected)``), and how to name output ``i`` in a
    mismatch line."""
    name: str
    expected: list
    got: list
    vectors: int | None = None
    item: Callable[[int], str] | None = None


# -- testbench --------------------------------------------------------------------------------

class CompressedTB:
    """Drivers on ``inputs``, a monitor on ``output``, stall settings and bounded waits.

    Parameters
    ----------
    dut : cocotb handle
    inputs : sequence of str
        The unit's input streams; driver ``k`` gets seed ``seed + k``.
    output : str
        The output stream; its monitor gets seed ``out_seed`` (default ``seed + 9``).
    seed : int

    Members
    -------
    drivers : dict of str to StreamDriver
    out : StreamMonitor
    timed_out : bool
        The last wait ran out of cycles (the unit hung or lost outputs).
    """

    def __init__(self, dut, inputs, output, seed, *, out_seed=None):
        self.dut = dut
        self.drivers = {n: StreamDriver(dut, n, seed=seed + i) for i, n in enumerate(inputs)}
        self.out = StreamMonitor(dut, output, seed=seed + 9 if out_seed is None else out_seed)
        self.timed_out = False

    def stalls(self, idle, backpressure):
        """Random idle cycles on every input, random back-pressure on the output."""
        for d in self.drivers.values():
            d.idle_prob = idle
        self.out.backpressure = backpressure

    async def settle(self, budget=20_000):
        """Wait until every driver has sent everything and the DUT is idle (at most ``budget``
        cycles, else mark the run timed out)."""
        if not await settle(self.dut, list(self.drivers.values()), budget):
            self.timed_out = True

    async def load(self, writes, layout, stream="cfg"):
        """Send the table writes ``writes`` (dicts of ``layout``) on ``stream`` and wait until
        they were all taken."""
        d = self.drivers[stream]
        for w in writes:
            d.append(pack_struct(w, layout))
        await d.wait_idle()

    def send(self, stream, words):
        """Queue the integers ``words`` on ``stream``."""
        d = self.drivers[stream]
        for w in words:
            d.append(int(w))

    def mark(self):
        """The number of outputs so far (pass it to :meth:`collect`)."""
        return len(self.out.items)

    async def collect(self, before, n, timeout):
        """Wait for ``n`` outputs after the first ``before`` (at most ``timeout`` cycles, else
        mark the run timed out), then for the unit to settle; return the outputs after
        ``before`` and the cycles of their transfers."""
        self.timed_out = False
        try:
            await self.out.wait_for(before + n, timeout_cycles=timeout)
        except TimeoutError:   # report what came out; the sweep stops
            self.timed_out = True
        if not self.timed_out:
            await self.settle()
        return (list(self.out.items[before:]),
                [c for c, _ in self.out.transfers[before:]])

    async def sweep(self, sb, runs, run_case, *, what):
        """Run ``run_case(case, idle, backpressure)`` (a coroutine returning an
        :class:`Outcome`) for every ``(case, idle, backpressure)`` of ``runs``, with those
        stalls, and count every mismatch in the scoreboard ``sb``; stop at the first timeout
        (later ``what`` are not run). Returns the mismatches."""
        for case, idle, bp in runs:
            self.stalls(idle, bp)
            r = await run_case(case, idle, bp)
            label = f"{r.name} (idle {idle}, back-pressure {bp})"
            exp, got = r.expected, r.got
            item = r.item or (lambda i: f"output {i}")
            bad = mismatch_indices(exp, got)
            sb.add(vectors=len(exp) if r.vectors is None else r.vectors, mismatches=len(bad),
                   first_mismatches=[
                       f"{label} {item(i)}: expected {exp[i] if i < len(exp) else None}, "
                       f"got {got[i] if i < len(got) else None}" for i in bad[:3]])
            if self.timed_out:
                sb.add(mismatches=0 if bad else 1,          # stuck after its last output
                       first_mismatches=[f"{label}: timed out after {len(got)} of {len(exp)} "
                                         f"outputs; later {what} not run"])
                break
        return sb.mismatches
