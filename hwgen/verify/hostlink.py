"""The host link's formal properties: whatever bytes arrive, the protocol engine never writes a
buffer outside its depth, and once the line is quiet it returns to idle within a bound.

:class:`HostLinkMiter` is a :class:`~hwgen.host_link.HostLinkCore` whose serial ends are free
byte streams (the UARTs replaced: a byte may arrive on any cycle, any value; every byte sent
is taken at once), built as small as the engine allows (the shortest UART divisor and so the
shortest inter-byte timeout, 80 cycles; the smallest staging buffer, 16 bytes; a 1×1 array
with buffers of 3, 5 and 3 words), with one or both of:

``writes``
    An assertion on every buffer write: the staging buffer (the receiver), the weight and
    activation buffers (WRITE) and the result buffer (RUN), each at its *full-width* address
    (the components compute addresses wider than their memories' ports, so a port-level
    check would miss a wrap-around): ``en → addr < depth``. Proven for every depth by
    property-directed reachability (``abc pdr``): every request the solver can build, valid
    CRC included, in any state the engine can reach.
``idle``
    "Idle" is: the receiver hunting for a sync byte (no frame open), the controller, the
    buffer access, the run sequencer and the transmitter in their idle states, no byte being
    sent (each part drives its ``idle_probe``). A counter of the cycles since the last byte
    arrived (``quiet``, saturating at Q = :attr:`HostLinkMiter.quiet_bound`) and the
    assertion ``quiet = Q → idle``. Checked by bounded model checking (``abc bmc3``): every
    input in the first ``depth - Q`` cycles, then a quiet line.

``assert_depths`` states the depths the write assertions hold the engine to; a value below the
real depth is the deliberate mistake that shows the check can fail (the engine legitimately
writes the last word, which the narrowed bound calls out of range). ``sink_stalls`` (a byte
sink that never takes a byte: a transmitter that never finishes) and a ``quiet_bound`` one
short of Q are the mistakes that show the idle check can fail.
"""

from amaranth.hdl import Assert, Cat, Elaboratable, Module, Signal
from amaranth.lib import stream

from ..host_link import protocol as P

__all__ = ["HostLinkMiter", "PROPERTIES", "IDLE_PARTS"]

#: The properties :class:`HostLinkMiter` can assert.
PROPERTIES = ("writes", "idle")
#: The core's parts (its submodules) whose state machines make up "idle".
IDLE_PARTS = ("receiver", "controller", "access", "sequencer", "transmitter")


class HostLinkMiter(Elaboratable):
    """The host-link core on free byte streams, asserting that every buffer write is in
    range and/or that it is idle once the line has been quiet for ``quiet_bound`` cycles.

    Parameters
    ----------
    rows, cols, pe :
        The array behind the link (a small one: the proof grows with it).
    depths : dict
        Words of the ``weights``, ``acts`` and ``results`` buffers (non-powers of two show
        a wrap-around that a power of two would hide).
    max_payload : int
        Largest request payload (the staging buffer).
    divisor, timeout_cycles, watchdog_cycles :
        The core's UART divisor (only its timeout's minimum depends on it here), inter-byte
        timeout (default: the shortest, 20 divisor cycles) and run watchdog.
    properties : tuple
        Which of :data:`PROPERTIES` to assert (default ``("writes",)``).
    assert_depths : dict or None
        The depths the write assertions use (default ``depths``; smaller is a mistake).
    quiet_bound : int or None
        Q of the ``idle`` property (default :meth:`idle_bound`; smaller is a mistake).
    sink_stalls : bool
        The byte sink never takes a byte (a mistake: the transmitter never finishes).
    """

    def __init__(self, rows=1, cols=1, pe="int4", *, depths=None, max_payload=16,
                 divisor=P.MIN_DIVISOR, timeout_cycles=None, watchdog_cycles=64,
                 properties=("writes",), assert_depths=None, quiet_bound=None,
                 sink_stalls=False):
        from ..host_link import HostLinkCore
        unknown = set(properties) - set(PROPERTIES)
        if unknown or not properties:
            self._MustUse__silence = True       # not built: no "unused" warning
            raise ValueError(f"Properties must be some of {', '.join(PROPERTIES)}, not "
                             f"{sorted(properties)!r}")
        self.properties = tuple(properties)
        self.depths = dict(depths or dict(weights=3, acts=5, results=3))
        self.max_payload = max_payload
        self.assert_depths = dict(self.depths, **(assert_depths or {}))
        self.sink_stalls = bool(sink_stalls)
        #: High while the core is idle (with the ``idle`` property): every part's state
        #: machine at rest and no byte being sent.
        self.idle = Signal()
        # the source of the receiver's bytes (free inputs) and the sink of the sent ones
        self.rx = stream.Signature(8, always_ready=True).create(path=("rx",))
        self.tx = stream.Signature(8).flip().create(path=("tx",))
        miter = self

        class _OnBytes(HostLinkCore):
            def _byte_ends(self, m):
                return miter.rx, miter.tx

            def elaborate(self, platform):
                m = super().elaborate(platform)
                if "writes" in miter.properties:
                    miter._check_writes(m)
                if "idle" in miter.properties:
                    miter._check_idle(m)
                return m

        if timeout_cycles is None:
            timeout_cycles = 20 * divisor           # the engine's shortest
        self.core = _OnBytes(rows, cols, pe, divisor=divisor, clk_hz=1_000_000,
                             depths=self.depths, max_payload=max_payload,
                             timeout_cycles=timeout_cycles, watchdog_cycles=watchdog_cycles)
        self.quiet_bound = self.idle_bound() if quiet_bound is None else int(quiet_bound)

    def idle_bound(self):
        """Q: the quiet cycles after which the core is idle, whatever came before.

        The longer of two ways: a frame cut short (a sync byte, then nothing) times out after
        ``timeout_cycles`` and is answered with an error (11 cycles more: the timeout's
        end, the controller's two steps, the transmitter's start, 5 header and 2 CRC bytes);
        the longest ok answer (IDENTIFY: 9 cycles and 2 a payload byte, the ROM's read
        taking one) starts at most 2 cycles after the request's last byte. A RUN of these
        small buffers, a READ or a WRITE ends sooner (the proof checks every one)."""
        c = self.core
        return max(c.timeout_cycles + 11, 2 + 9 + 2 * len(P.identify_payload(c.info)))

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

    def _check_idle(self, m):
        """Hand the core's FSMs (in its module ``m``) their idle probes and assert that the
        core is idle once the line has been quiet for :attr:`quiet_bound` cycles."""
        idle = []
        for name in IDLE_PARTS:
            probe = Signal(name=f"{name}_idle")
            getattr(m.submodules, name).idle_probe = probe
            idle.append(probe)
        Q = self.quiet_bound
        quiet = Signal(range(Q + 1))        # cycles since the last byte arrived, up to Q
        with m.If(self.rx.valid):
            m.d.sync += quiet.eq(0)
        with m.Elif(quiet != Q):
            m.d.sync += quiet.eq(quiet + 1)
        m.d.comb += [self.idle.eq(Cat(*idle).all() & ~self.tx.valid),
                     Assert((quiet != Q) | self.idle, "idle once the line is quiet")]

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = self.core
        m.d.comb += self.tx.ready.eq(0 if self.sink_stalls else 1)
        return m
