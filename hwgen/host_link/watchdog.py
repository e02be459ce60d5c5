"""The RUN watchdog: a run that makes no progress is stopped.

:class:`Watchdog` counts the cycles since the last sign of progress while it is enabled; at
``cycles`` it expires. The link enables it while a RUN streams and counts any transfer on one
of the array's three streams as progress, so a run whose feeders or array stall is aborted
(``ST_RUN_TIMEOUT``) instead of hanging the link.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from . import protocol as P

__all__ = ["Watchdog"]


class Watchdog(wiring.Component):
    """Expires after ``cycles`` enabled cycles without progress.

    Parameters
    ----------
    cycles : int
        Cycles without progress, at least 1.

    Members
    -------
    enable : In(1)
        Count (low: the count restarts).
    progress : In(1)
        Progress this cycle: the count restarts.
    expired : Out(1)
        ``cycles`` enabled cycles have passed since the last progress (or since ``enable``
        rose); stays high until ``enable`` falls or progress is made.
    """

    enable: In(1)
    progress: In(1)
    expired: Out(1)

    def __init__(self, cycles):
        self._cycles = P.check_int("Watchdog", cycles, 1, (1 << 32) - 1)
        super().__init__()

    cycles = property(lambda self: self._cycles)

    def elaborate(self, platform):
        m = Module()
        count = Signal(range(self._cycles + 1))
        with m.If(~self.enable | self.progress):
            m.d.sync += count.eq(0)
        with m.Elif(count != self._cycles):
            m.d.sync += count.eq(count + 1)
        m.d.comb += self.expired.eq(self.enable & (count == self._cycles))
        return m
