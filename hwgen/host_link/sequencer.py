"""The RUN sequencer: streams the buffers through the array and captures its results.

:class:`RunSequencer` carries out a RUN (``tiles`` T, ``tile_len`` L, ``flags``; see
``docs/protocol.md``): it first checks the shape against the buffers (T·R and T·L by repeated
addition, stopping at the first overflow: no multiplier), then resets the array, feeds it
weight and activation rows from the buffers (with weight-stationary K-tile partial sums read
back from the result buffer) and writes its result rows to the result buffer, until every
result row is in, or until :attr:`~RunSequencer.abort` (the link's watchdog) stops it, which
resets the array again.

Weight-stationary: T weight tiles (T·R rows from address 0) and T·L activation rows (from
address 0; rows t·L..t·L+L-1 go with tile t, the last one flagged ``last``). The partial sums
of tile 0 are zero (or, with ``RUN_ACCUMULATE``, result-buffer row r: continuing an earlier
run); those of tile t > 0 row r are result-buffer row r, written by tile t-1 — an activation
row waits until the result it adds to is in. Result row j goes to result-buffer row
``j mod L``. Needs T·R ≤ weight depth, T·L ≤ activation depth (and L ≤ result depth,
checked by :class:`~.decoder.RequestDecoder`).

Output-stationary: T output tiles; T·L rows of each of the weight and activation buffers
stream together (L = K per tile, ``last`` on each tile's final row); the T·R result rows go to
result-buffer rows 0..T·R-1. Needs T·L ≤ both input depths and T·R ≤ result depth.
"""

from amaranth.hdl import Cat, Module, Mux, Signal, Value
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import ReadPort, WritePort
from amaranth.lib.wiring import In, Out

from ..arrays.systolic import act_layout, result_layout, weight_layout
from . import protocol as P
from .layouts import RunArgs

__all__ = ["RunSequencer"]



class RunSequencer(wiring.Component):
    """RUN: buffers → array → result buffer.

    Parameters
    ----------
    spec : ArraySpec
        The array (:class:`~hwgen.arrayspec.ArraySpec`).
    depths : dict
        Words in the ``weights``, ``acts`` and ``results`` buffers.

    Members
    -------
    cmd : In(stream.Signature(RunArgs))
        The RUN (:class:`~.layouts.RunArgs`, already checked by
        :class:`~.decoder.RequestDecoder`). It is taken (``ready``) when the run is over,
        with :attr:`status` telling how.
    status : Out(8)
        While ``cmd.ready``: :data:`~.protocol.ST_OK`, :data:`~.protocol.ST_OUT_OF_RANGE`
        (shape over the limits: nothing ran) or :data:`~.protocol.ST_RUN_TIMEOUT`
        (aborted).
    cycles : Out(32)
        Clock cycles the last run streamed (kept until the next run starts).
    busy : Out(1)
        High while a run streams.
    abort : In(1)
        Stop the run (the watchdog).
    array_reset : Out(1)
        Reset the array: before a run, and after an aborted one.
    w_feed : Out(stream.Signature(weight_layout(spec)))
        To the array's ``weights``.
    a_feed : Out(stream.Signature(act_layout(spec)))
        To the array's ``acts``.
    r_capture : In(stream.Signature(result_layout(spec)))
        From the array's ``results`` (always ready).
    weights_rd, acts_rd, results_rd : In(ReadPort.Signature(...))
        Read ports of the buffers (used while :attr:`busy`).
    results_wr : In(WritePort.Signature(...))
        Write port of the result buffer.
    w_base, a_base, r_base : In(16)
        With ``bases``: the first weight, activation and result-buffer rows of the run (read
        with :attr:`cmd`; the shape is checked from them). A network's layers
        (:class:`~.network.NetSequencer`) run from their own rows; RUN passes zeros.
    """

    def __init__(self, spec, *, depths, bases=False):
        self._spec = spec
        self._depths = {k: P.check_int(f"Depth of the {k} buffer", depths[k], 1, 0xFFFF)
                        for k in ("weights", "acts", "results")}
        bits = P.buffer_word_bits(spec)
        ports = {
            "cmd": In(stream.Signature(RunArgs)),
            "status": Out(8),
            "cycles": Out(32),
            "busy": Out(1),
            "abort": In(1),
            "array_reset": Out(1),
            "w_feed": Out(stream.Signature(weight_layout(spec))),
            "a_feed": Out(stream.Signature(act_layout(spec))),
            "r_capture": In(stream.Signature(result_layout(spec))),
        }
        for k in ("weights", "acts", "results"):
            ports[f"{k}_rd"] = In(ReadPort.Signature(
                addr_width=P.addr_width(self._depths[k]), shape=bits[k]))
        ports["results_wr"] = In(WritePort.Signature(
            addr_width=P.addr_width(self._depths["results"]), shape=bits["results"]))
        self._bases = bool(bases)
        if self._bases:
            ports.update(w_base=In(16), a_base=In(16), r_base=In(16))
        super().__init__(ports)

    spec = property(lambda self: self._spec)
    depths = property(lambda self: dict(self._depths))

    #: For formal checks (:mod:`hwgen.verify.hostlink`): ``{buffer: (addr, en)}`` of
    #: Signals set before elaboration, which the component then drives with each buffer
    #: write's full-width address and enable. ``None`` (the default): nothing is added.
    write_probe = None

    #: For formal checks (:mod:`hwgen.verify.hostlink`): a Signal set before elaboration, which the
    #: component then drives high while it is idle (no RUN under way). ``None`` (the default):
    #: nothing is added.
    idle_probe = None

    def elaborate(self, platform):
        m = Module()
        spec, D = self._spec, self._depths
        R, C = spec.rows, spec.cols
        ws = spec.dataflow == "ws"
        run = self.cmd.payload
        tiles, tlen = run.tiles, run.tile_len
        w_rd, a_rd, r_rd, r_wr = self.weights_rd, self.acts_rd, self.results_rd, self.results_wr
        w_feed, a_feed, r_capture = self.w_feed, self.a_feed, self.r_capture

        running = self.busy
        maxd = max(D.values())
        sum_l = Signal(range(maxd + 0x10000))      # ≤ depth + one 16-bit step
        sum_r = Signal(range(maxd + 0x10000))
        kcnt = Signal(16)
        acc_flag = Signal()
        total_w = sum_r if ws else sum_l
        total_a = sum_l
        total_res = sum_l if ws else sum_r
        idx_w = Signal(range(maxd + 1))
        idx_a = Signal(range(maxd + 1))
        r_a = Signal(range(maxd))
        first = Signal()
        nres = Signal(range(maxd + 1))
        r_res = Signal(range(maxd))

        # weights feeder
        wv = Signal()
        w_adv = ~wv | w_feed.ready
        w_can = idx_w < total_w
        m.d.comb += [w_feed.valid.eq(wv & running), w_feed.payload.eq(w_rd.data)]
        # activations feeder (with the partial sums read from the result buffer)
        av = Signal()
        last_q = Signal()
        pz_q = Signal()
        a_adv = ~av | a_feed.ready
        fb_ok = (first | (nres + tlen > idx_a)) if ws else 1
        a_can = (idx_a < total_a) & fb_ok
        m.d.comb += [a_feed.valid.eq(av & running), a_feed.payload.a.eq(a_rd.data),
                     a_feed.payload.last.eq(last_q)]
        # run-time precision, from the RUN flags: bit-serial planes (0 = all), low mode
        run_bits = Signal(4)
        run_low = Signal()
        if spec.serial:
            m.d.comb += a_feed.payload.bits.eq(Mux(run_bits == 0, spec.weight_bits, run_bits))
        if spec.pe.kind == "dualprec":
            m.d.comb += a_feed.payload.low.eq(run_low)
        if ws:
            rview = data.View(result_layout(spec), r_rd.data)
            if spec.exact_results:
                psums = [Value.cast(rview[j].acc) for j in range(C)]
            else:
                psums = [Value.cast(rview[j]) for j in range(C)]
            m.d.comb += a_feed.payload.psum.eq(Mux(pz_q, 0, Cat(*psums)))
        # results capture
        m.d.comb += r_capture.ready.eq(1)
        res_fire = r_capture.valid & running

        # the run's first rows (bases): none without them
        if self._bases:
            wb, ab, rb = Signal(16), Signal(16), Signal(16)
            with m.If(self.cmd.valid & ~self.busy):
                m.d.sync += [wb.eq(self.w_base), ab.eq(self.a_base), rb.eq(self.r_base)]

            def based(v, base):
                return v + base
        else:
            wb = ab = rb = None

            def based(v, base):
                return v
        r_at = based(r_res if ws else nres, rb)
        m.d.comb += [
            w_rd.addr.eq(based(idx_w, wb)), w_rd.en.eq(w_adv),
            a_rd.addr.eq(based(idx_a, ab)), a_rd.en.eq(a_adv),
            r_rd.addr.eq(based(r_a if ws else 0, rb)), r_rd.en.eq(a_adv),
            r_wr.addr.eq(r_at), r_wr.data.eq(r_capture.payload),
            r_wr.en.eq(res_fire),
        ]
        if self.write_probe is not None:
            p_addr, p_en = self.write_probe["results"]
            m.d.comb += [p_addr.eq(r_at), p_en.eq(res_fire)]

        def finish(status):
            m.d.comb += [self.cmd.ready.eq(1), self.status.eq(status)]
            m.next = "IDLE"

        with m.FSM(name="run") as fsm:
            with m.State("IDLE"):
                with m.If(self.cmd.valid):
                    m.d.sync += [sum_l.eq(0), sum_r.eq(0), kcnt.eq(0),
                                 acc_flag.eq(run.flags.accumulate if ws else 0),
                                 run_bits.eq(run.flags.bits), run_low.eq(run.flags.low)]
                    m.next = "CHECK"
            # T·L and T·R by repeated addition, stopping at the first overflow.
            with m.State("CHECK"):
                nl = sum_l + tlen
                nr = sum_r + R
                if ws and self._bases:
                    bad = (nr + wb > D["weights"]) | (nl + ab > D["acts"]) | \
                        (tlen + rb > D["results"])
                elif ws:
                    bad = (nr > D["weights"]) | (nl > D["acts"])
                else:
                    bad = (nl > min(D["weights"], D["acts"])) | (nr > D["results"])
                with m.If(bad):
                    finish(P.ST_OUT_OF_RANGE)
                with m.Else():
                    m.d.sync += [sum_l.eq(nl), sum_r.eq(nr), kcnt.eq(kcnt + 1)]
                    with m.If(kcnt + 1 == tiles):
                        m.next = "START"
            with m.State("START"):
                m.d.comb += self.array_reset.eq(1)
                m.d.sync += [idx_w.eq(0), idx_a.eq(0), r_a.eq(0), first.eq(1), nres.eq(0),
                             r_res.eq(0), self.cycles.eq(0), wv.eq(0), av.eq(0)]
                m.next = "RUNNING"
            with m.State("RUNNING"):
                m.d.comb += running.eq(1)
                with m.If(w_adv):
                    m.d.sync += wv.eq(w_can)
                    with m.If(w_can):
                        m.d.sync += idx_w.eq(idx_w + 1)
                with m.If(a_adv):
                    m.d.sync += av.eq(a_can)
                    with m.If(a_can):
                        m.d.sync += [idx_a.eq(idx_a + 1), last_q.eq(r_a + 1 == tlen),
                                     pz_q.eq(first & ~acc_flag)]
                        with m.If(r_a + 1 == tlen):
                            m.d.sync += [r_a.eq(0), first.eq(0)]
                        with m.Else():
                            m.d.sync += r_a.eq(r_a + 1)
                with m.If(res_fire):
                    m.d.sync += nres.eq(nres + 1)
                    with m.If(r_res + 1 == tlen):
                        m.d.sync += r_res.eq(0)
                    with m.Else():
                        m.d.sync += r_res.eq(r_res + 1)
                with m.If(nres == total_res):
                    finish(P.ST_OK)
                with m.Elif(self.abort):
                    m.next = "ABORT"
                with m.Else():
                    m.d.sync += self.cycles.eq(self.cycles + 1)
            with m.State("ABORT"):
                m.d.comb += self.array_reset.eq(1)
                finish(P.ST_RUN_TIMEOUT)
        if self.idle_probe is not None:
            m.d.comb += self.idle_probe.eq(fsm.ongoing("IDLE"))
        return m
