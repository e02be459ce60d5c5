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
    assertion ``quiet = Q → idle``. With ``invariants`` (the default) the miter also asserts
    helper invariants on the parts' internal state (found by name in the elaborated core:
    no probe needed) that make the whole k-inductive: **proven for every input history** by
    k-induction (``smtbmc yices``, depth 24; :data:`IDLE_DEPTH`).

``assert_depths`` states the depths the write assertions hold the engine to; a value below the
real depth is the deliberate mistake that shows the check can fail (the engine legitimately
writes the last word, which the narrowed bound calls out of range). ``sink_stalls`` (a byte
sink that never takes a byte: a transmitter that never finishes) and a ``quiet_bound`` one
short of Q are the mistakes that show the idle check can fail.

The helper invariants are written for the miter's default array (a weight-stationary one,
with one-byte weight and activation words); other arrays raise ``ValueError`` unless
``invariants=False`` (the ``idle`` assertion alone: bounded model checking only). Their
constants (the cycles each phase takes, :attr:`HostLinkMiter.RUN_CYCLES`) are those of the
default sizes; being assertions themselves, a wrong one makes the proof fail, never pass.
"""

from amaranth.hdl import Assert, Cat, Elaboratable, Fragment, Module, Mux, Signal
from amaranth.hdl._ast import Switch
from amaranth.lib import data, stream

from ..host_link import protocol as P
from ..host_link.layouts import BufferCommand, Request

__all__ = ["HostLinkMiter", "PROPERTIES", "IDLE_PARTS", "IDLE_DEPTH"]

#: The properties :class:`HostLinkMiter` can assert.
PROPERTIES = ("writes", "idle")
#: The core's parts (its submodules) whose state machines make up "idle".
IDLE_PARTS = ("receiver", "controller", "access", "sequencer", "transmitter")
#: The k-induction depth that proves ``idle`` with the helper invariants (the longest
#: stretch without a bound on ``quiet``: a RUN, from the end of its shape check through
#: :attr:`HostLinkMiter.RUN_CYCLES` cycles of streaming).
IDLE_DEPTH = 24


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
    invariants : bool
        With ``idle``: assert the helper invariants that make it k-inductive (default).
    """

    def __init__(self, rows=1, cols=1, pe="int4", *, depths=None, max_payload=16,
                 divisor=P.MIN_DIVISOR, timeout_cycles=None, watchdog_cycles=64,
                 properties=("writes",), assert_depths=None, quiet_bound=None,
                 sink_stalls=False, invariants=True):
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
        self.invariants = bool(invariants)
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
        wbytes = self.core.word_bytes
        if ("idle" in self.properties and self.invariants and
                (self.core.spec.dataflow != "ws" or wbytes["weights"] != 1 or
                 wbytes["acts"] != 1)):
            self._MustUse__silence = self.core._MustUse__silence = True
            raise ValueError("The idle invariants are written for a weight-stationary array "
                             "with one-byte weight and activation words: give "
                             "invariants=False")

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
        self._quiet = quiet

    def _assert_invariants(self, m, core):
        """Assert, in the miter's module ``m``, the helper invariants that make ``idle``
        k-inductive, on the state of the elaborated core (the Fragment ``core``): every
        part's state machine in a valid state and in step with the others, every counter in
        its range, and ``quiet`` bounded in each phase of a request's handling (the ``on
        time`` ones, from the cycles each phase takes here; the timer's equality inside a
        frame is exact). A phase without a bound (the few cycles between two that have one,
        the 11 cycles after a timeout) is covered by the induction's depth."""
        c = self.core
        T, q, R = c.timeout_cycles, self._quiet, c.spec.rows
        st = {part: _fsm(core, part) for part in IDLE_PARTS}

        def at(part, *states):
            sig, enc = st[part]
            return Cat(*(sig == enc[s] for s in states)).any()

        def sig(part, name):
            return _signal(core.find_subfragment(part), name)

        timer = sig("receiver", "timer")
        req = data.View(Request, sig("receiver", "req"))
        src, rsp_len = sig("controller", "src"), sig("controller", "rsp_len")
        primed, mem_pending = sig("controller", "primed"), sig("controller", "mem_pending")
        pos, sent = sig("transmitter", "pos"), sig("transmitter", "sent")
        cmd = data.View(BufferCommand, sig("access", "cmd__payload"))
        wcnt, bi = sig("access", "wcnt"), sig("access", "bi")
        kcnt, sum_r = sig("sequencer", "kcnt"), sig("sequencer", "sum_r")
        sum_l, tlen = sig("sequencer", "sum_l"), req.args.run.tile_len
        cycles = sig("sequencer", "cycles")
        SRC_NONE, SRC_ROM, SRC_SMALL, SRC_MEM = range(4)        # the controller's sources
        in_frame = at("receiver", "CMD", "LEN0", "LEN1", "PAYLOAD", "CRC0", "CRC1", "DISCARD")
        ctl_idle = at("controller", "IDLE")
        acc_idle, seq_idle = at("access", "IDLE"), at("sequencer", "IDLE")
        xmt_idle = at("transmitter", "IDLE")
        copying = at("access", "COPY_A", "COPY_B", "COPY_W")
        reading = at("access", "FETCH", "LOAD", "PICK", "SEND")
        responding = at("controller", "RESPOND")
        wb_res = c.word_bytes["results"]
        wb = Mux(cmd.buf == P.BUF_RESULTS, wb_res, 1)
        words = max(self.depths.values())
        tiles = self.depths["weights"] // R             # the most tiles a RUN can have
        checks = {f"{part} state valid": s < len(enc) for part, (s, enc) in st.items()}
        checks |= {
            "quiet in range": q <= self.quiet_bound,
            # the receiver: inside a frame its inter-byte timer counts the quiet cycles
            "frame timer is quiet": ~in_frame | ((timer == q) & (timer <= T)),
            "timer rests between frames": ~at("receiver", "HUNT", "CHECK") | (timer == 0),
            "discarding a frame too long": ~at("receiver", "DISCARD") |
                                           (req.status == P.ST_BAD_LENGTH),
            "CHECK right after the last byte": ~at("receiver", "CHECK") | (q == 0),
            # who works when
            "no request: controller idle": ~(in_frame | at("receiver", "HUNT", "CHECK")) |
                                           ctl_idle,
            "controller idle: all idle": ~ctl_idle | (acc_idle & seq_idle & xmt_idle),
            "error: nothing else works": ~at("controller", "ERROR") |
                                         (acc_idle & seq_idle & xmt_idle),
            "WRITE copies": ~at("controller", "WRITE") | (seq_idle & xmt_idle & ~reading),
            "RUN runs": ~at("controller", "RUN") | (acc_idle & xmt_idle),
            "sequencer busy only in RUN": seq_idle | at("controller", "RUN"),
            "respond: no run": ~responding | seq_idle,
            # WRITE: whole one-byte words, fewer than the buffer holds
            "copy in range": ~copying | (at("controller", "WRITE") & (wcnt < cmd.count) &
                                         (cmd.count <= words) & (bi == 0) & cmd.write &
                                         (cmd.buf <= P.BUF_ACTS)),
            # RUN: T·R and T·L by repeated addition, at most `tiles` steps; a bounded run
            "shape check ends": ~at("sequencer", "CHECK") | (
                (kcnt <= tiles) & (sum_r == kcnt * R) &
                Cat(*((kcnt == k) & (sum_l == k * tlen) for k in range(tiles + 1))).any()),
            "run ends": ~at("sequencer", "RUNNING") | (cycles <= self.RUN_CYCLES),
            # the reply: its length for each source, the bytes sent, READ's words streaming
            "reply length": ~responding | Mux(
                src == SRC_NONE, rsp_len == 0,
                Mux(src == SRC_ROM, rsp_len == len(P.identify_payload(c.info)),
                    Mux(src == SRC_SMALL, (rsp_len == P.STATUS_PAYLOAD_BYTES) |
                        (rsp_len == P.RUN_PAYLOAD_BYTES),
                        (rsp_len == cmd.count * wb) & (cmd.buf <= P.BUF_RESULTS) &
                        (rsp_len != 0) & ~cmd.write & (cmd.count <= words)))),
            "header bytes": ~at("transmitter", "HEAD") | (pos <= 4),
            "payload counted": ~at("transmitter", "PAYLOAD") | (sent < rsp_len),
            "reading only in a READ reply": ~reading | (responding & (src == SRC_MEM) &
                                                      mem_pending),
            "READ reply streams": ~(responding & (src == SRC_MEM) &
                                    at("transmitter", "HEAD", "PAYLOAD")) |
                                  (reading & (bi < wb) &
                                   (sent == Mux(cmd.buf == P.BUF_RESULTS, wcnt * wb_res, wcnt)
                                    + bi)),
            "READ reply: words all sent": ~(responding & (src == SRC_MEM) & ~mem_pending) |
                                          (acc_idle & (sent == rsp_len) & ~xmt_idle),
            # quiet bounded by each phase's progress (a word copied every 3 cycles, a shape
            # step a cycle, a payload byte every 2 (ROM, counters) or 4 (READ) cycles)
            "WRITE on time": ~copying | (q <= 6 + 3 * wcnt),
            "shape check on time": ~at("sequencer", "CHECK") | (q <= 4 + kcnt),
            "run on time": ~at("sequencer", "RUNNING") | (q <= 9 + cycles),
            "payload on time": ~at("transmitter", "PAYLOAD") | Mux(
                src == SRC_MEM, q <= 10 + 4 * sent,
                Mux(src == SRC_ROM, q <= 9 + 2 * sent + primed, q <= 41 + 2 * sent + primed)),
        }
        for name, ok in checks.items():
            # a named signal per invariant: a counterexample trace shows which one fails
            holds = Signal(name="inv_" + "_".join(name.replace(":", "").split()))
            m.d.comb += [holds.eq(ok), Assert(holds, name)]

    #: A helper invariant: a RUN streams (its sequencer's ``RUNNING`` state) at most this
    #: many cycles in the miter's configuration (19 for its longest, 3 tiles of 1 row).
    RUN_CYCLES = 20

    def elaborate(self, platform):
        m = Module()
        if "idle" in self.properties and self.invariants:
            core = Fragment.get(self.core, platform)
            m.submodules.core = core
            self._assert_invariants(m, core)
        else:
            m.submodules.core = self.core
        m.d.comb += self.tx.ready.eq(0 if self.sink_stalls else 1)
        return m


def _fsm(frag, part):
    """The state Signal of the one FSM of subfragment ``part`` and its encoding (Amaranth
    0.5's FSM internals)."""
    fsm, = frag.find_subfragment(part).generated.values()
    return fsm._data["signal"], fsm.encoding


def _signal(frag, name):
    """The Signal named ``name`` in the statements of Fragment ``frag`` (exactly one; a
    renamed or removed signal raises ``LookupError``, so the proof cannot silently lose an
    invariant)."""
    found = {}

    def walk(stmts):
        for s in stmts:
            if isinstance(s, Switch):
                found.update((id(v), v) for v in s.test._rhs_signals() if v.name == name)
                for _, sub, _ in s.cases:
                    walk(sub)
            else:
                found.update((id(v), v) for v in (*s._lhs_signals(), *s._rhs_signals())
                             if v.name == name)
    for stmts in frag.statements.values():
        walk(stmts)
    if len(found) != 1:
        raise LookupError(f"{len(found)} signals named {name!r}, not one")
    return found.popitem()[1]
