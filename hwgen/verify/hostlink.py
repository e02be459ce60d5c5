"""The host link's buffer-address property: whatever bytes arrive, the protocol engine never
writes a buffer outside its depth.

:class:`HostLinkMiter` is a :class:`~hwgen.host_link.HostLinkCore` whose serial ends are free
byte streams (the UARTs replaced: a byte may arrive on any cycle, any value; every byte sent
is taken at once), with an assertion on every buffer write: the staging buffer (the
receiver), the weight and activation buffers (WRITE) and the result buffer (RUN), each at
its *full-width* address (the components compute addresses wider than their memories'
ports, so a port-level check would miss a wrap-around): ``en → addr < depth``. Bounded model
checking to a depth past one maximal frame (header, ``max_payload`` bytes, CRC) and the
copy into its buffer covers every request the solver can build, valid CRC included.

``assert_depths`` states the depths the assertions hold the engine to; a value below the real
depth is the deliberate mistake that shows the check can fail (the engine legitimately writes
the last word, which the narrowed bound calls out of range).
"""

from amaranth.hdl import Assert, Elaboratable, Module, Signal
from amaranth.lib import stream

__all__ = ["HostLinkMiter"]


class HostLinkMiter(Elaboratable):
    """The host-link core on free byte streams, asserting that every buffer write is in
    range.

    Parameters
    ----------
    rows, cols, pe :
        The array behind the link (a small one: the proof grows with it).
    depths : dict
        Words of the ``weights``, ``acts`` and ``results`` buffers (non-powers of two show
        a wrap-around that a power of two would hide).
    max_payload : int
        Largest request payload (the staging buffer).
    assert_depths : dict or None
        The depths the assertions use (default ``depths``; smaller is a mistake).
    """

    def __init__(self, rows=1, cols=1, pe="int4", *, depths=None, max_payload=16,
                 assert_depths=None):
        from ..host_link import HostLinkCore
        self.depths = dict(depths or dict(weights=3, acts=5, results=3))
        self.max_payload = max_payload
        self.assert_depths = dict(self.depths, **(assert_depths or {}))
        # the source of the receiver's bytes (free inputs) and the sink of the sent ones
        self.rx = stream.Signature(8, always_ready=True).create(path=("rx",))
        self.tx = stream.Signature(8).flip().create(path=("tx",))
        miter = self

        class _OnBytes(HostLinkCore):
            def _byte_ends(self, m):
                return miter.rx, miter.tx

            def elaborate(self, platform):
                m = super().elaborate(platform)
                miter._check_writes(m)
                return m

        self.core = _OnBytes(rows, cols, pe, divisor=4, clk_hz=1_000_000,
                             depths=self.depths, max_payload=max_payload,
                             timeout_cycles=80, watchdog_cycles=64)

    def ports(self):
        return [self.rx.valid, self.rx.payload]

    def _check_writes(self, m):
        """Hand the writing components of the core's module ``m`` their probes (before they
        elaborate in turn) and assert on each buffer write."""
        limits = dict(self.assert_depths, stage=self.max_payload)
        for name, bufs in (("receiver", ["stage"]), ("access", ["weights", "acts"]),
                           ("sequencer", ["results"])):
            probe = {b: (Signal(32, name=f"{b}_waddr"), Signal(name=f"{b}_wen")) for b in bufs}
            getattr(m.submodules, name).write_probe = probe
            for b, (addr, en) in probe.items():
                m.d.comb += Assert(~en | (addr < limits[b]), f"{b} write in range")

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = self.core
        m.d.comb += self.tx.ready.eq(1)
        return m
