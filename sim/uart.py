"""cocotb UART model (8N1, LSB first) and a transport that runs the synchronous host driver
(:class:`hwgen.host.Accelerator`) against a simulated board.

The bit time is ``divisor`` cycles of the DUT clock, as in :mod:`hwgen.host_link.uart`.

::

    src = UartSource(dut.rx, dut.clk, divisor)     # host → board
    snk = UartSink(dut.tx, dut.clk, divisor)       # board → host
    acc = Accelerator(BridgedTransport(src, snk), timeout=1e-3)

    @cocotb.task.bridge
    def host():                                    # ordinary blocking code, in a thread
        return acc.matmul(A, B)

    C = await host()

:class:`BridgedTransport` turns the driver's blocking ``write``/``read`` into cocotb waits
(``cocotb.task.resume``), so only one of the driver and the simulator runs at a time; its read
timeouts are in *simulated* seconds.
"""

from collections import deque

import cocotb
from cocotb.task import resume
from cocotb.triggers import ClockCycles, Event, FallingEdge, First, Timer
from cocotb.simtime import get_sim_time

__all__ = ["UartSource", "UartSink", "BridgedTransport"]


class UartSource:
    """Drives a serial line with queued bytes (idle high)."""

    def __init__(self, line, clk, divisor):
        self.line, self.clk, self.divisor = line, clk, divisor
        self.queue = deque()
        self._wake = Event()
        self._idle = Event()
        self._idle.set()
        self.sent = 0
        self.line.value = 1
        self._task = cocotb.start_soon(self._run())

    def write(self, data):
        self.queue.extend(bytes(data))
        self._idle.clear()
        self._wake.set()

    async def wait_idle(self):
        await self._idle.wait()

    async def _run(self):
        while True:
            if not self.queue:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            byte = self.queue.popleft()
            for bit in [0] + [(byte >> i) & 1 for i in range(8)] + [1]:
                self.line.value = bit
                await ClockCycles(self.clk, self.divisor)
            self.sent += 1


class UartSink:
    """Receives bytes from a serial line, sampling each bit in its middle.

    ``framing_errors`` counts bytes whose stop bit was low (they are dropped).
    """

    def __init__(self, line, clk, divisor):
        self.line, self.clk, self.divisor = line, clk, divisor
        self.data = deque()
        self.framing_errors = 0
        self.received = 0
        self._got = Event()
        self._task = cocotb.start_soon(self._run())

    async def _run(self):
        div = self.divisor
        while True:
            await FallingEdge(self.line)
            await ClockCycles(self.clk, div // 2)
            if int(self.line.value) != 0:
                continue                     # a glitch
            byte = 0
            for i in range(8):
                await ClockCycles(self.clk, div)
                byte |= int(self.line.value) << i
            await ClockCycles(self.clk, div)
            if int(self.line.value) != 1:
                self.framing_errors += 1
                continue
            self.data.append(byte)
            self.received += 1
            self._got.set()

    async def read(self, n, timeout_s):
        """Up to ``n`` bytes; fewer if ``timeout_s`` simulated seconds pass first."""
        deadline = get_sim_time("ns") + timeout_s * 1e9
        while len(self.data) < n:
            remaining = deadline - get_sim_time("ns")
            if remaining <= 0:
                break
            self._got.clear()
            await First(self._got.wait(), Timer(max(1, int(remaining)), unit="ns"))
        k = min(n, len(self.data))
        return bytes(self.data.popleft() for _ in range(k))

    def clear(self):
        self.data.clear()


@resume
async def _bridged_write(source, data):
    source.write(data)


@resume
async def _bridged_read(sink, n, timeout):
    return await sink.read(n, timeout)


@resume
async def _bridged_wait(clk, cycles):
    await ClockCycles(clk, cycles)


class BridgedTransport:
    """The host driver's transport over a :class:`UartSource`/:class:`UartSink` pair; call it
    only from a ``cocotb.bridge`` thread."""

    def __init__(self, source, sink):
        self.source, self.sink = source, sink

    def write(self, data):
        _bridged_write(self.source, bytes(data))

    def read(self, n, timeout):
        return _bridged_read(self.sink, n, timeout)

    def discard_input(self):
        self.sink.clear()

    def close(self):
        pass
