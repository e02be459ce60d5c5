"""The network sequencer: a whole integer network on the array, layer after layer, on chip.

:class:`NetSequencer` is the version-2 extension of the host link (``docs/protocol.md``,
"Version 2"):

LOAD_NET
    checks a layer table in the staging buffer (:func:`~.protocol.check_layer_table` is its
    golden model), record by record — ``w_base + n_tiles·k_tiles·R`` by repeated addition, as
    :class:`~.sequencer.RunSequencer` checks a RUN, so no multiplier — and only when every
    record passes copies it into the table memory (a bad table leaves the old one loaded).
INFER
    (the input already written to the first layer's activation rows by
    :class:`~.access.BufferAccess`) for each layer and each output tile: one
    weight-stationary run of ``k_tiles`` weight tiles with ``tile_len`` 1 through the
    :class:`~.sequencer.RunSequencer` (from the layer's rows: ``w_base`` advancing by
    ``k_tiles·R`` per tile), then the tile's C accumulators and biases through the
    :class:`~.epilogue.Epilogue`, one after the other: codes into the next layer's activation row,
    or, on the last layer, the raw sums into result row ``n`` (the scores).
Gather layers (convolutions; ``docs/protocol.md``, "Gather layers")
    first build their im2col rows on chip: for each of the ``g_tiles·pixels·pool`` rows, one
    bias-buffer row of R gather entries, each naming a row and lane of the layer's input (or
    nothing: a 0), read lane by lane (R + 2 clocks a row) and written after the layer's
    output rows. Each output tile is then one run of ``g_tiles`` weight tiles over
    ``pixels·pool`` result rows: the lane-wise maximum of each ``pool`` consecutive rows'
    accumulators (max pooling, before the epilogue: the epilogue never decreases as an
    accumulator grows, so this equals pooling the codes, at one epilogue pass a window; the
    rows are visited window by window) goes through the epilogue to output row
    ``a_out + p·n_tiles + n``. The products a
    gather layer's checks need (``pixels·pool``, ``g_tiles·pixels·pool``,
    ``n_tiles·pixels``) are sums repeated in one shared adder, as the weight rows are.

The sequencer owns the buffers' ports it uses only while :attr:`busy` and the run sequencer
is not running; :class:`~.engine.HostLinkCore` does the multiplexing.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory, ReadPort, WritePort
from amaranth.lib.wiring import In, Out

from . import protocol as P
from .decoder import _times
from .epilogue import Epilogue, FloatEpilogue
from .layouts import RunArgs

__all__ = ["NetSequencer", "LayerFields", "check_network_array",
           "DEFAULT_MAX_LAYERS", "DEFAULT_BIAS_DEPTH"]

DEFAULT_MAX_LAYERS = 16
DEFAULT_BIAS_DEPTH = 256


class LayerFields(data.Struct):
    """A layer record as it is on the wire (:class:`~.protocol.LayerRecord`)."""
    w_base: 16
    k_tiles: 16
    n_tiles: 16
    a_in: 16
    a_out: 16
    b_base: 16
    shift: signed(8)
    flags: 8
    zero: 16
    g_tiles: 16
    pixels: 16
    pool: 16
    zero2: 16


def check_network_array(spec):
    """Raise ``ValueError`` unless networks chain on the array ``spec``
    (:class:`~hwgen.arrayspec.ArraySpec`): square (an output row is the next layer's input
    row), weight-stationary, signed integers (``intN``) or ``F:F:rounded``/``F:F:fused``
    floats. A PE pipeline is fine: the runs wait for result rows by count."""
    num = (spec.pe.kind == "int" and spec.pe.a_fmt.signed) or P.float_chain_pe(spec.pe)
    if not (num and spec.dataflow == "ws" and spec.rows == spec.cols):
        raise ValueError(f"Networks chain on a square weight-stationary array of intN or "
                         f"F:F:rounded/fused PEs, not {spec.module_name}")



class NetSequencer(wiring.Component):
    """LOAD_NET and INFER.

    Parameters
    ----------
    spec : ArraySpec
        A square, weight-stationary, signed-integer array.
    depths : dict
        Words in the ``weights``, ``acts``, ``results`` and ``bias`` buffers.
    max_payload : int
        Bytes in the staging buffer.
    max_layers : int
        Records the table holds.

    Members
    -------
    load : In(stream.Signature(8))
        LOAD_NET with its layer count (its length already checked); taken when done, with
        :attr:`load_status` (ok, or out of range: nothing changed).
    infer : In(stream.Signature(1))
        INFER (the input already in place); taken when done, with :attr:`status` (ok, or
        the run's ``ST_RUN_TIMEOUT``).
    cycles : Out(32)
        Clock cycles of the last inference.
    busy : Out(1)
        A LOAD_NET or INFER is under way (the sequencer drives the ports below).
    loaded, k0, a_in0, n_last : Out
        A table is loaded; its first layer's input rows and row; its last layer's output
        rows (for the request checks and the response).
    run : Out(stream.Signature(RunArgs))
        One run, to the :class:`~.sequencer.RunSequencer` (taken when over); ``w_base``,
        ``a_base``, ``r_base`` its first rows, ``run_status`` how it ended.
    stage_rd, results_rd, bias_rd : In(ReadPort.Signature(...))
        Reads of the staging, result and bias buffers.
    results_wr, acts_wr : In(WritePort.Signature(...))
        Writes of the scores and of the layers' outputs.
    """

    def __init__(self, spec, *, depths, max_payload, max_layers=DEFAULT_MAX_LAYERS):
        check_network_array(spec)
        self._spec = spec
        self._depths = {k: P.check_int(f"Depth of the {k} buffer", depths[k], 1, 0xFFFF)
                        for k in ("weights", "acts", "results", "bias")}
        self._max_payload = P.check_int("Maximum payload", max_payload, 16, 0xFFFF)
        self._max_layers = P.check_int("Layers", max_layers, 1, 0xFF)
        bits = P.buffer_word_bits(spec)
        D = self._depths

        def mem(kind, k, shape):
            return In(kind.Signature(addr_width=P.addr_width(D[k]), shape=shape))
        super().__init__({
            "load": In(stream.Signature(8)),
            "load_status": Out(8),
            "infer": In(stream.Signature(1)),
            "status": Out(8),
            "cycles": Out(32),
            "busy": Out(1),
            "loaded": Out(1),
            "k0": Out(16),
            "a_in0": Out(16),
            "n_last": Out(16),
            "run": Out(stream.Signature(RunArgs)),
            "run_status": In(8),
            "w_base": Out(16),
            "a_base": Out(16),
            "r_base": Out(16),
            "stage_rd": In(ReadPort.Signature(addr_width=P.addr_width(max_payload), shape=8)),
            "results_rd": mem(ReadPort, "results", bits["results"]),
            "bias_rd": mem(ReadPort, "bias", bits["results"]),
            "results_wr": mem(WritePort, "results", bits["results"]),
            "acts_wr": mem(WritePort, "acts", bits["acts"]),
            "acts_rd": mem(ReadPort, "acts", bits["acts"]),
        })

    spec = property(lambda self: self._spec)
    depths = property(lambda self: dict(self._depths))
    max_layers = property(lambda self: self._max_layers)

    def elaborate(self, platform):
        m = Module()
        spec, D = self._spec, self._depths
        R, C = spec.rows, spec.cols
        flt = P.float_chain_pe(spec.pe)
        A = P.buffer_word_bits(spec)["results"] // C      # a result element's bits
        bits = P.buffer_word_bits(spec)["acts"] // R
        RB = P.word_bytes(P.buffer_word_bits(spec))["results"]
        NREC = P.LAYER_RECORD_BYTES
        LB = P.gather_lane_bits(R)

        m.submodules.table = table = Memory(shape=8, depth=NREC * self._max_layers + 1,
                                                init=[])
        t_rd, t_wr = table.read_port(), table.write_port()
        m.submodules.epilogue = epi = (FloatEpilogue(spec.pe.acc_fmt) if flt else
                                       Epilogue(A, bits))

        rec = Signal(LayerFields)
        n_layers = Signal(range(self._max_layers + 1))
        n_new = Signal(8)                      # LOAD_NET: the count being checked
        layer = Signal(range(self._max_layers + 1))
        bi = Signal(range(NREC))               # byte of the record being fetched
        from_stage = Signal()                  # fetching from the staging buffer (LOAD_NET)
        k0_new, a_in0_new, n_last_new = Signal(16), Signal(16), Signal(16)
        prev_n = Signal(16)
        kR = Signal(16 + R.bit_length())       # T·R: weight rows per output tile
        # WCHECK's sum and count; a gather layer's products (MUL_*) use them too
        wacc = Signal(range(max(D.values()) + 0x10000))
        wcnt = Signal(16)
        rsvd = Signal()                        # a reserved bit of the record is set
        # the byte of the staging buffer or of the table memory at hand: both hold the layer
        # count in byte 0 and record l at 1 + NREC·l (LOAD_NET copies the whole payload)
        ptr = Signal(range(NREC * self._max_layers + 2))
        nt = Signal(16)                        # output tile
        wrow = Signal(range(D["weights"] + 1))
        last = Signal()
        j = Signal(range(C))
        ocnt = Signal(range(C + 1))
        aword = Signal(bits * R)
        # the row's accumulators, a rotating register (its bottom word is the element at
        # hand): a pooling window's lane-wise maximum, fed to the epilogue element by
        # element, each element's output taking its place (so it ends as the output row)
        rword = Signal(A * C)

        # a gather layer's sizes, by repeated addition (no multiplier): L = pixels·pool
        # result rows per output tile, S = g_tiles·L im2col rows, OUT = n_tiles·pixels rows
        L = Signal(range(D["results"] + 1))
        S = Signal(range(D["bias"] + 1))
        OUT = Signal(range(D["acts"] + 1))
        s = Signal(range(D["bias"] + 1))       # gather: im2col row
        sbase = Signal(range(D["acts"]))       # gather: first im2col row (a_out + OUT)
        gword = Signal(bits * R)               # gather: the im2col row being assembled
        pend, p_ok = Signal(), Signal()        # gather: a lane read in flight, and valid
        p_lane = Signal(max(LB, 1))
        p_j = Signal(range(R))
        q = Signal(range(D["results"] + 1))    # epilogue: result row of the tile
        gleft = Signal(range(D["results"] + 1))  # epilogue: rows left in the pooling window
        wfirst = Signal()                      # epilogue: the window's first row
        orow = Signal(range(D["acts"]))        # epilogue: the next output row

        r = rec
        gather = r.flags[1] if not flt else Const(0)
        k0, a_in0, n_last = self.k0, self.a_in0, self.n_last   # the loaded table's
        with m.If(self.busy & ~from_stage):    # an inference (LOAD_NET fetches from stage)
            m.d.sync += self.cycles.eq(self.cycles + 1)

        # record fetch: from the staging buffer (LOAD_NET, after the count byte) or the table
        m.d.comb += [self.stage_rd.addr.eq(ptr), t_rd.addr.eq(ptr), t_wr.addr.eq(ptr),
                     t_wr.data.eq(self.stage_rd.data)]
        fetched = Mux(from_stage, self.stage_rd.data, t_rd.data)

        # the table checks of one record (docs/protocol.md, LOAD_NET); a gather layer's
        # products are checked as they are summed (MUL_*) and in GCHECK
        is_last = layer + 1 == n_new
        overlap = (r.a_out < r.a_in + r.k_tiles) & (r.a_in < r.a_out + r.n_tiles)
        dense_fields = (r.g_tiles != 0) | (r.pixels != 0) | (r.pool != 0)
        bad = ((r.k_tiles == 0) | (r.n_tiles == 0) | (r.w_base > D["weights"]) |
               (r.a_in + r.k_tiles > D["acts"]) | (r.b_base + r.n_tiles > D["bias"]) |
               ((r.shift != 0) if flt else ((r.shift < P.NET_SHIFT_MIN) | (r.shift > A))) |
               rsvd |
               ((layer != 0) & (r.k_tiles != prev_n)) |
               Mux(r.flags[1],
                   Const(int(flt)) | is_last | (r.g_tiles == 0) | (r.pixels == 0) |
                   (r.pool == 0),
                   dense_fields |
                   (~is_last & ((r.a_out + r.n_tiles > D["acts"]) | overlap)) |
                   (is_last & ((r.a_out != 0) | (r.shift != 0) | r.flags[0] |
                               (r.n_tiles > D["results"]) |
                               (r.n_tiles > self._max_payload // RB)))))
        g_end = r.a_out + OUT + S
        g_bad = ((r.b_base + r.n_tiles + S > D["bias"]) | (g_end > D["acts"]) |
                 ((r.a_out < r.a_in + r.k_tiles) & (r.a_in < g_end)))

        # max pooling on the raw accumulators, before the epilogue: the epilogue (bias of
        # the lane's channel, rounding shift, saturation, ReLU) never decreases as the
        # accumulator grows, so the code of the window's largest accumulator is the largest
        # code, and a window costs one epilogue pass instead of `pool`
        rdata, bdata = self.results_rd.data, self.bias_rd.data
        adata = self.acts_rd.data
        head = rword[:A].as_signed()
        r_j = rdata.word_select(j, A).as_signed()
        take = wfirst if flt else wfirst | (r_j > head)
        maxing = Signal()                      # EPI_MAX: the row's element j against head
        top = Signal(A)                        # what enters the register's top word
        m.d.comb += top.eq(Mux(epi.out.valid, epi.out.payload,
                               Mux(maxing & take, r_j, head)))
        # the epilogue: one element at a time (the epilogue takes the next one after its
        # output), its output into the top word as the register rotates
        m.d.comb += [
            epi.inp.payload.acc.eq(head),
            epi.inp.payload.bias.eq(bdata.word_select(j, A)),
            epi.inp.payload.shift.eq(r.shift), epi.inp.payload.relu.eq(r.flags[0]),
            epi.inp.payload.raw.eq(last),
        ]
        # one element in the epilogue at a time (the next one waits for its output)
        inflight = Signal()
        with m.If(epi.out.valid):
            m.d.sync += [aword.eq(Cat(aword[bits:], epi.out.payload[:bits])),
                         rword[A * (C - 1):].eq(top), ocnt.eq(ocnt + 1), inflight.eq(0)]
        with m.If(maxing | (epi.inp.valid & epi.inp.ready)):
            m.d.sync += rword.eq(Cat(rword[A:], top))
        pool_end = gleft == 1
        window = Mux(gather, r.pool, 1)

        # gather: entry j of the bias row at hand names input row a_in + (e >> LB), lane
        # e mod 2**LB; a negative entry, or one outside the input, gives 0
        ent = bdata.word_select(j, A)
        EB = P.gather_entry_bits(A)
        e_row = ent[LB:EB]
        e_lane = ent[:LB] if LB else Const(0, 1)
        e_ok = (ent[EB:] == 0) & (e_row < r.k_tiles) & ((e_lane < R) if (1 << LB) != R else 1)

        landing = Mux(p_ok, adata.word_select(p_lane, bits), 0)  # the lane read last cycle
        act_addr = Signal(range(D["acts"]))
        # reads only where a state asks (a read port's enable is high by default): the
        # gather holds its entries' bias row while it reads the lanes
        m.d.comb += [self.bias_rd.en.eq(0), self.acts_rd.en.eq(0)]
        m.d.comb += [
            self.run.payload.tiles.eq(Mux(gather, r.g_tiles, r.k_tiles)),
            self.run.payload.tile_len.eq(Mux(gather, L, 1)),
            self.w_base.eq(wrow), self.a_base.eq(Mux(gather, sbase, r.a_in)),
            self.r_base.eq(Mux(last, nt, 0)),
            self.results_rd.addr.eq(Mux(last, nt, q)), self.bias_rd.addr.eq(r.b_base + nt),
            self.results_wr.addr.eq(nt), self.results_wr.data.eq(rword),
            act_addr.eq(orow), self.acts_wr.data.eq(aword),
            self.acts_wr.addr.eq(act_addr), self.acts_rd.addr.eq(act_addr),
        ]

        def fetch(stage):
            m.d.sync += [bi.eq(0), from_stage.eq(stage)]
            m.next = "FETCH"

        def finish_infer(status):
            m.d.comb += [self.infer.ready.eq(1), self.status.eq(status)]
            m.next = "IDLE"

        def finish_load(status):
            m.d.comb += [self.load.ready.eq(1), self.load_status.eq(status)]
            m.next = "IDLE"

        def multiply(state, a, b, limit, then, dst=None):
            """State ``state``: ``b`` additions of ``a`` (b ≥ 1) to ``wacc`` (from the value
            the caller set), then ``then()``; a sum over ``limit`` ends LOAD_NET out of range
            (an INFER's table was checked). With ``dst``: the sum goes there and the sum and
            the count restart from 0."""
            with m.State(state):
                m.d.comb += self.busy.eq(1)
                nacc = wacc + a
                with m.If(nacc > limit):
                    finish_load(P.ST_OUT_OF_RANGE)
                with m.Else():
                    m.d.sync += [wacc.eq(nacc), wcnt.eq(wcnt + 1)]
                    with m.If(wcnt + 1 == b):
                        if dst is not None:
                            m.d.sync += [dst.eq(nacc), wacc.eq(0), wcnt.eq(0)]
                        then()

        def start_sizes():
            m.d.sync += [wacc.eq(0), wcnt.eq(0)]
            m.next = "MUL_L"

        def next_layer_check():
            m.d.sync += [kR.eq(_times(Mux(gather, r.g_tiles, r.k_tiles), R)),
                         wacc.eq(r.w_base), wcnt.eq(0),
                         prev_n.eq(Mux(gather, OUT, r.n_tiles))]
            m.next = "WCHECK"

        def start_tile(first_row):          # an output tile: its run, from result row 0
            m.d.sync += [q.eq(0), gleft.eq(window), wfirst.eq(1), orow.eq(first_row)]
            m.next = "TILE"

        with m.FSM(name="net"):
            with m.State("IDLE"):
                m.d.sync += [layer.eq(0), ptr.eq(1)]
                with m.If(self.load.valid):
                    m.d.sync += n_new.eq(self.load.payload)
                    fetch(1)
                with m.Elif(self.infer.valid):
                    m.d.sync += self.cycles.eq(0)
                    fetch(0)
            with m.State("FETCH"):
                m.d.comb += [self.busy.eq(1), self.stage_rd.en.eq(from_stage),
                             t_rd.en.eq(~from_stage)]
                m.next = "FETCH_D"
            with m.State("FETCH_D"):
                m.d.comb += self.busy.eq(1)
                # the record shifts in byte by byte; its reserved bytes and flag bits are only
                # checked to be zero, so they are not kept
                m.d.sync += [rec.as_value().eq(Cat(rec.as_value()[8:], fetched)), bi.eq(bi + 1),
                             ptr.eq(ptr + 1)]
                zero = P.LAYER_RESERVED_BYTES
                flag_byte = P.LAYER_FLAGS_BYTE
                with m.If(bi == 0):
                    m.d.sync += rsvd.eq(0)
                for k in zero:
                    with m.If((bi == k) & (fetched != 0)):
                        m.d.sync += rsvd.eq(1)
                with m.If((bi == flag_byte) & (fetched[2:] != 0)):
                    m.d.sync += rsvd.eq(1)
                with m.If(bi == NREC - 1):
                    with m.If(from_stage):
                        m.next = "CHECK"
                    with m.Else():
                        m.next = "LAYER"
                with m.Else():
                    m.next = "FETCH"

            # -- LOAD_NET: check every record, then copy the table --------------------------
            with m.State("CHECK"):
                m.d.comb += self.busy.eq(1)
                with m.If(bad):
                    finish_load(P.ST_OUT_OF_RANGE)
                with m.Else():
                    with m.If(layer == 0):
                        m.d.sync += [k0_new.eq(r.k_tiles), a_in0_new.eq(r.a_in)]
                    with m.If(is_last):
                        m.d.sync += n_last_new.eq(r.n_tiles)
                    with m.If(gather):
                        start_sizes()
                    with m.Else():
                        next_layer_check()
            with m.State("GCHECK"):
                m.d.comb += self.busy.eq(1)
                with m.If(g_bad):
                    finish_load(P.ST_OUT_OF_RANGE)
                with m.Else():
                    next_layer_check()
            def weights_checked():
                m.d.sync += layer.eq(layer + 1)
                with m.If(is_last):
                    m.d.sync += ptr.eq(0)
                    m.next = "COPY"
                with m.Else():
                    fetch(1)
            # w_base + n_tiles·T·R, step by step
            multiply("WCHECK", kR, r.n_tiles, D["weights"], weights_checked)
            with m.State("COPY"):
                m.d.comb += [self.busy.eq(1), self.stage_rd.en.eq(1)]
                m.next = "COPY_D"
            with m.State("COPY_D"):
                m.d.comb += [self.busy.eq(1), t_wr.en.eq(1)]
                m.d.sync += ptr.eq(ptr + 1)
                with m.If(ptr == _times(n_new, NREC)):
                    m.d.sync += [n_layers.eq(n_new), self.loaded.eq(1), k0.eq(k0_new),
                                 a_in0.eq(a_in0_new), n_last.eq(n_last_new)]
                    finish_load(P.ST_OK)
                with m.Else():
                    m.next = "COPY"

            # -- a gather layer's sizes (LOAD_NET checks them, INFER recomputes them) --------
            def after_sizes():
                with m.If(from_stage):
                    m.next = "GCHECK"
                with m.Else():
                    m.d.sync += [sbase.eq(r.a_out + OUT), s.eq(0)]
                    m.next = "G_ROW"
            multiply("MUL_L", r.pixels, r.pool, D["results"],
                     lambda: setattr(m, "next", "MUL_S"), L)
            multiply("MUL_S", L, r.g_tiles, D["bias"],
                     lambda: setattr(m, "next", "MUL_O"), S)
            multiply("MUL_O", r.pixels, r.n_tiles, D["acts"],
                     lambda: setattr(m, "next", "MUL_END"), OUT)
            with m.State("MUL_END"):           # OUT registered: sbase and the checks use it
                m.d.comb += self.busy.eq(1)
                after_sizes()

            # -- INFER: each layer (a gather layer: its im2col rows first), each output tile:
            # a run, then the epilogue row by row, max-pooled, into the output rows ---------
            with m.State("LAYER"):
                m.d.comb += self.busy.eq(1)
                m.d.sync += [nt.eq(0), wrow.eq(r.w_base),
                             kR.eq(_times(Mux(gather, r.g_tiles, r.k_tiles), R)),
                             last.eq(layer + 1 == n_layers)]
                with m.If(gather):
                    start_sizes()
                with m.Else():
                    start_tile(r.a_out)
            with m.State("G_ROW"):             # the row's R entries: one bias-buffer read
                m.d.comb += [self.busy.eq(1), self.bias_rd.en.eq(1),
                             self.bias_rd.addr.eq(r.b_base + r.n_tiles + s)]
                m.d.sync += [j.eq(0), pend.eq(0)]
                with m.If(s == S):
                    start_tile(r.a_out)
                with m.Else():
                    m.next = "G_LANE"
            with m.State("G_LANE"):            # lane j's element read; lane j-1's arrives
                m.d.comb += [self.busy.eq(1), self.acts_rd.en.eq(1),
                             act_addr.eq(r.a_in + e_row)]
                m.d.sync += [pend.eq(1), p_ok.eq(e_ok), p_lane.eq(e_lane), p_j.eq(j),
                             j.eq(j + 1)]
                with m.If(j == R - 1):
                    m.next = "G_WRITE"
            with m.State("G_WRITE"):           # the im2col row into the activation buffer,
                # its last lane as it arrives
                m.d.comb += [self.busy.eq(1), self.acts_wr.en.eq(1), act_addr.eq(sbase + s),
                             self.acts_wr.data.eq(Cat(gword[:bits * (R - 1)], landing))]
                m.d.sync += [s.eq(s + 1), pend.eq(0)]
                m.next = "G_ROW"
            with m.State("TILE"):
                m.d.comb += [self.busy.eq(1), self.run.valid.eq(1)]
                with m.If(self.run.ready):
                    with m.If(self.run_status != P.ST_OK):
                        finish_infer(self.run_status)
                    with m.Else():
                        m.next = "EPI_READ"
            with m.State("EPI_READ"):
                m.d.comb += [self.busy.eq(1), self.results_rd.en.eq(1),
                             self.bias_rd.en.eq(1)]
                m.d.sync += j.eq(0)
                m.next = "EPI_MAX"
            with m.State("EPI_MAX"):           # the read data hold: no read enable now
                m.d.comb += [self.busy.eq(1), maxing.eq(1)]
                m.d.sync += j.eq(j + 1)
                with m.If(j == C - 1):
                    m.d.sync += [j.eq(0), ocnt.eq(0), wfirst.eq(0), q.eq(q + 1),
                                 gleft.eq(gleft - 1)]
                    with m.If(pool_end):
                        m.next = "EPI_FEED"
                    with m.Else():
                        m.next = "EPI_READ"
            with m.State("EPI_FEED"):
                m.d.comb += [self.busy.eq(1), epi.inp.valid.eq(~inflight)]
                with m.If(epi.inp.valid & epi.inp.ready):
                    m.d.sync += [j.eq(j + 1), inflight.eq(1)]
                    with m.If(j == C - 1):
                        m.next = "EPI_WRITE"
            with m.State("EPI_WRITE"):
                m.d.comb += self.busy.eq(1)
                with m.If(ocnt == C):
                    m.d.comb += [self.results_wr.en.eq(last), self.acts_wr.en.eq(~last)]
                    m.d.sync += [gleft.eq(window), wfirst.eq(1), orow.eq(orow + r.n_tiles)]
                    with m.If(q != Mux(gather, L, 1)):
                        m.next = "EPI_READ"
                    with m.Else():
                        m.d.sync += [nt.eq(nt + 1), wrow.eq(wrow + kR)]
                        with m.If(nt + 1 == r.n_tiles):
                            m.d.sync += layer.eq(layer + 1)
                            with m.If(last):
                                finish_infer(P.ST_OK)
                            with m.Else():
                                fetch(0)
                        with m.Else():
                            start_tile(r.a_out + nt + 1)

        # gather: the element of the lane read last cycle into its place in the row
        with m.If(pend):
            m.d.sync += gword.word_select(p_j, bits).eq(landing)
        return m
