"""End to end through the board link: numpy → :class:`hwgen.host.Accelerator` → UART model →
simulated :class:`hwgen.host_link.HostLinkCore` (UART, protocol engine, buffers, array) →
UART model → numpy, bit for bit against :func:`hwgen.golden.matmul.matmul`: the testbench
(:class:`TB`), the GEMM test ``hwgen demo`` runs (:func:`gemm_end_to_end`) and the link
throughput ``bench/boards.py`` measures (:func:`link_throughput`). ``rtl_tests/test_board.py``
adds malformed frames, run-time precision and the RUN watchdog on the same :class:`TB`.

The host driver is the real, blocking one: it runs in a ``cocotb.bridge`` thread and talks
through :class:`sim.uart.BridgedTransport`. Small buffers and payload limit make a modest GEMM
need several WRITE frames, several RUNs (weight-stationary K-chunks continuing through
``RUN_ACCUMULATE``) and several M-chunks. A high simulated baud (``divisor`` 4) keeps it fast.

Parameters: ``rows``, ``cols``, ``pe``, ``dataflow``, ``divisor``, ``depths``,
``max_payload``, ``watchdog``, ``gemms``, ``seed``, ``throughput``, ``mul_latency`` and
``add_latency`` (the array's PE pipeline, weight-stationary float PEs: the results must not
change, and IDENTIFY carries it). Build the core with :func:`make_core` and the Verilator
configuration :data:`FORCEABLE_VLT`, so that every test module of the board shares one build.
"""


import cocotb
import numpy as np
from cocotb.simtime import get_sim_time
from cocotb.task import bridge
from cocotb.triggers import ClockCycles

from hwgen.elaboratables import not_built
from hwgen.golden.matmul import matmul, random_operands
from hwgen.host import Accelerator
from hwgen.host_link import HostLinkCore

from .params import get_params
from .scoreboard import Scoreboard
from .streams import reset, start_clock
from .uart import BridgedTransport, UartSink, UartSource

__all__ = ["TB", "make_core", "gemms", "random_operands", "compare", "scoreboard",
           "gemm_end_to_end", "link_throughput", "FORCEABLE_VLT", "STALLED", "CLK_HZ",
           "REPORT_KEYS"]

CLK_HZ = 100_000_000          # the 10 ns clock of sim.streams.start_clock

#: Report keys beyond the scoreboard's own, with their start values.
REPORT_KEYS = dict(bytes_to_board=0, bytes_from_board=0, cycles=0, errors_checked=0)

# Fault injection for ``run_watchdog`` (rtl_tests/test_board.py): the array's two input
# streams, as the engine drives them in the board's top module. Verilator forces a signal
# through VPI only when it is marked forceable, which a configuration file does at build time
# (the Verilog is unchanged). Every run of the board uses it, so that one build serves all.
STALLED = ("weights__valid", "acts__valid")
FORCEABLE_VLT = "".join(f'forceable -module "hostlink_*" -var "{v}"\n' for v in STALLED)


def make_core(p=None):
    """The simulated board of the parameters ``p`` (a dict; defaults: a 2x2 int8
    weight-stationary array behind small buffers)."""
    p = p or {}
    return HostLinkCore(p.get("rows", 2), p.get("cols", 2), p.get("pe", "int8"),
                        p.get("dataflow", "ws"), divisor=p.get("divisor", 4), clk_hz=CLK_HZ,
                        depths=p.get("depths", dict(weights=8, acts=16, results=8)),
                        max_payload=p.get("max_payload", 64),
                        watchdog_cycles=p.get("watchdog", 4096),
                        mul_latency=p.get("mul_latency", 0),
                        add_latency=p.get("add_latency", 0))


def gemms(p):
    """The ``[M, K, N]`` of the GEMMs to run (parameter ``gemms``, else a few that need
    several frames, RUNs and M-chunks)."""
    return p.get("gemms") or ([[5, 7, 3], [3, 11, 3], [9, 4, 5], [1, 1, 1]]
                              if p.get("dataflow", "ws") == "ws"
                              else [[5, 7, 3], [3, 2, 5], [1, 1, 1]])


def scoreboard():
    """A :class:`~sim.scoreboard.Scoreboard` with this testbench's report keys."""
    return Scoreboard(**REPORT_KEYS)


class TB:
    """Clock, reset, the UART model on both lines, and the host driver on top of it.

    Members
    -------
    core : HostLinkCore
        The board's parameters (built from the run's, not elaborated here).
    acc : hwgen.host.Accelerator
        The driver, over :class:`~sim.uart.BridgedTransport`; call it in a ``bridge`` thread.
    """

    def __init__(self, dut, p):
        self.dut = dut
        self.p = p
        self.core = make_core(p)
        not_built(self.core, self.core.array)                 # its facts only
        self.array = self.core.array
        self.pe = self.array.pe
        start_clock(dut)
        self.src = UartSource(dut.rx, dut.clk, self.core.divisor)
        self.snk = UartSink(dut.tx, dut.clk, self.core.divisor)
        # Simulated seconds: 1 ms is 100,000 cycles, far above any response time here.
        self.acc = Accelerator(BridgedTransport(self.src, self.snk), timeout=1e-3)

    async def start(self):
        await reset(self.dut)
        await ClockCycles(self.dut.clk, 4)

    def matmul(self, A, B, **prec):
        """The golden ``matmul`` of the board's array (``prec``: ``bits``/``low``)."""
        a = self.array
        return matmul(A, B, self.pe, a.dataflow, a.rows, a.cols, **prec)


def compare(sb, tb, A, B, got, label):
    """Compare ``got`` with the golden GEMM, count it in ``sb``; return the mismatches."""
    exp = tb.matmul(A, B)
    got = np.asarray(got)
    bad = np.argwhere(got.astype(exp.dtype) != exp)
    sb.add(vectors=exp.size, mismatches=len(bad),
           first_mismatches=[f"{label}: C[{m},{n}] got {int(got[m, n])}, expected "
                             f"{int(exp[m, n])}" for m, n in bad[:5]])
    return len(bad)


@cocotb.test()
async def gemm_end_to_end(dut):
    """IDENTIFY matches the gateware's parameters; random GEMMs come back bit-exact."""
    p = get_params()
    sb = scoreboard()
    tb = TB(dut, p)
    await tb.start()
    acc = tb.acc
    rng = np.random.default_rng(p.get("seed", 1))
    cases = [(g, random_operands(rng, tb.pe, *g)) for g in gemms(p)]
    expected_info = tb.core.info

    @bridge
    def host():
        info = acc.info()
        assert info == expected_info, f"IDENTIFY gave {info!r}, expected {expected_info!r}"
        return [acc.matmul(A, B) for _, (A, B) in cases]

    c0 = get_sim_time("ns")
    results = await host()
    sb.add(cycles=int((get_sim_time("ns") - c0) / 10), bytes_to_board=tb.src.sent,
           bytes_from_board=tb.snk.received)
    bad = sum(compare(sb, tb, A, B, got, f"{M}x{K}x{N}")
              for ((M, K, N), (A, B)), got in zip(cases, results))
    st = await bridge(acc.status)()
    sb.finish()
    assert tb.snk.framing_errors == 0
    assert st["errors"] == 0, st
    assert bad == 0, sb.lines


@cocotb.test(skip=not get_params().get("throughput"))
async def link_throughput(dut):
    """Host-link throughput (for ``bench/boards.py``): clock cycles to WRITE and READ back
    ``throughput`` activation words through the real driver (maximum-size frames)."""
    p = get_params()
    sb = scoreboard()
    tb = TB(dut, p)
    await tb.start()
    acc = tb.acc
    info = await bridge(acc.info)()
    n = min(p["throughput"], info.depths["acts"])
    wb = info.word_bytes["acts"]
    words = [(i * 2654435761) & ((1 << (8 * wb)) - 1) for i in range(n)]
    c0 = get_sim_time("ns")
    await bridge(acc.write_buffer)("acts", 0, words)
    c1 = get_sim_time("ns")
    back = await bridge(acc.read_buffer)("acts", 0, n)
    c2 = get_sim_time("ns")
    sb.set(throughput=dict(words=n, word_bytes=wb, divisor=tb.core.divisor,
                           write_cycles=int((c1 - c0) / 10), read_cycles=int((c2 - c1) / 10),
                           bytes_to_board=tb.src.sent, bytes_from_board=tb.snk.received))
    sb.finish()
    assert back == words
